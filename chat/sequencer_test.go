package chat_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/sqlite"
)

func stores(t *testing.T) map[string]func(t *testing.T) chat.Store {
	return map[string]func(t *testing.T) chat.Store{
		"mem": func(t *testing.T) chat.Store { return chat.NewMemStore() },
		"sqlite": func(t *testing.T) chat.Store {
			db, err := sqlite.Open(filepath.Join(t.TempDir(), "chat.db"), sqlite.Config{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
	}
}

// seqsUntil waits until c has received message lastSeq of room and returns
// the Seqs of the messages it received for room, in arrival order.
func seqsUntil(t *testing.T, c client, room string, lastSeq int64) []int64 {
	t.Helper()
	var got []int64
	timeout := time.After(10 * time.Second) // a hang guard, not a timing assertion
	for {
		for _, ev := range c.take(chat.EventMessage) {
			if ev.Room == room {
				got = append(got, ev.Message.Seq)
			}
		}
		if len(got) > 0 && got[len(got)-1] >= lastSeq {
			return got
		}
		select {
		case <-c.notify:
		case <-timeout:
			t.Fatalf("%s did not receive %s#%d; got %v", c.Nickname(), room, lastSeq, got)
		}
	}
}

func wantContiguous(t *testing.T, who string, got []int64, from, to int64) {
	t.Helper()
	if int64(len(got)) != to-from+1 {
		t.Fatalf("%s received %d messages, want %d..%d: %v", who, len(got), from, to, got)
	}
	for i, s := range got {
		if s != from+int64(i) {
			t.Fatalf("%s received seq %d at position %d, want %d (in order, once): %v", who, s, i, from+int64(i), got)
		}
	}
}

// Many concurrent senders: every member receives every message once, in
// Seq order, although the publications race each other; a member that joins
// midway receives exactly what follows its snapshot.
func TestConcurrentSendersOrderedDelivery(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			svc := newService(t, chat.Config{Store: newStore(t), RateBurst: 1000, RatePerSecond: 1000})
			const senders, each = 8, 40
			const total = senders * each
			watcher := connect(t, svc, "watcher", false)
			join(t, watcher, "r")
			clients := make([]client, senders)
			for i := range clients {
				clients[i] = connect(t, svc, fmt.Sprintf("s%d", i), false)
				join(t, clients[i], "r")
			}
			var wg sync.WaitGroup
			half := make(chan struct{})
			for i, c := range clients {
				wg.Go(func() {
					for j := range each {
						if i == 0 && j == each/2 {
							close(half)
						}
						if _, err := c.Send(ctx, "r", fmt.Sprintf("%d/%d", i, j), fmt.Sprint(j)); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			<-half
			late := connect(t, svc, "late", false)
			res := join(t, late, "r")
			wg.Wait()
			wantContiguous(t, "watcher", seqsUntil(t, watcher, "r", total), 1, total)
			for _, c := range clients {
				wantContiguous(t, c.Nickname(), seqsUntil(t, c, "r", total), 1, total)
			}
			if res.LastSeq < total {
				wantContiguous(t, "late joiner", seqsUntil(t, late, "r", total), res.LastSeq+1, total)
			}
			if len(res.Messages) > 0 && res.Messages[len(res.Messages)-1].Seq != res.LastSeq {
				t.Fatalf("late joiner's history ends at %d, LastSeq %d", res.Messages[len(res.Messages)-1].Seq, res.LastSeq)
			}
		})
	}
}

// lossyBus drops some message publications, like a broker hiccup.
type lossyBus struct {
	*chat.LocalBus
	drop func(*chat.Event) bool
}

func (b lossyBus) Publish(ctx context.Context, topic string, ev *chat.Event) error {
	if ev.Kind == chat.EventMessage && b.drop(ev) {
		return nil
	}
	return b.LocalBus.Publish(ctx, topic, ev)
}

// Messages lost on the Bus are read from the Store when a later one shows
// the gap, and delivered in order.
func TestGapFilledFromStore(t *testing.T) {
	bus := lossyBus{chat.NewLocalBus(), func(ev *chat.Event) bool {
		return ev.Message.Seq%3 == 2 || ev.Message.Seq == 5 // 2, 5 (a run of two), 8…
	}}
	svc := newService(t, chat.Config{Bus: bus, GapWait: time.Millisecond})
	alice := connect(t, svc, "alice", false)
	bob := connect(t, svc, "bob", false)
	join(t, alice, "r")
	join(t, bob, "r")
	for i := 1; i <= 10; i++ {
		send(t, alice, "r", fmt.Sprintf("m%d", i))
	}
	wantContiguous(t, "bob", seqsUntil(t, bob, "r", 10), 1, 10)
	// Events built from the Store carry the stored message.
	got, err := bob.Since(ctx, "r", 1, 1)
	if err != nil || len(got) != 1 || got[0].Text != "m2" {
		t.Fatalf("Since = %v, %v", got, err)
	}
}

// reorderBus delivers message publications of a room in reverse batches:
// it holds each odd Seq until the next one is published.
type reorderBus struct {
	*chat.LocalBus
	mu   sync.Mutex
	held []func()
}

func (b *reorderBus) Publish(ctx context.Context, topic string, ev *chat.Event) error {
	if ev.Kind != chat.EventMessage || chat.IsDMRoom(topic) || topic[0] == '@' {
		return b.LocalBus.Publish(ctx, topic, ev)
	}
	b.mu.Lock()
	if ev.Message.Seq%2 == 1 {
		b.held = append(b.held, func() { b.LocalBus.Publish(ctx, topic, ev) })
		b.mu.Unlock()
		return nil
	}
	held := b.held
	b.held = nil
	b.mu.Unlock()
	b.LocalBus.Publish(ctx, topic, ev) // the later message first
	for _, f := range held {
		f()
	}
	return nil
}

func TestOutOfOrderPublicationsDeliveredInOrder(t *testing.T) {
	svc := newService(t, chat.Config{Bus: &reorderBus{LocalBus: chat.NewLocalBus()}, GapWait: time.Hour})
	alice := connect(t, svc, "alice", false)
	bob := connect(t, svc, "bob", false)
	join(t, alice, "r")
	join(t, bob, "r")
	for i := 1; i <= 6; i++ {
		send(t, alice, "r", fmt.Sprintf("m%d", i))
	}
	// GapWait is an hour: in-order delivery here comes from the pending
	// buffer alone, not from the Store.
	var got []int64
	for _, ev := range bob.take(chat.EventMessage) {
		got = append(got, ev.Message.Seq)
	}
	wantContiguous(t, "bob", got, 1, 6)
}
