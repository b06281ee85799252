package reliability_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
)

// A client that stops reading is disconnected as a slow consumer once its
// bounded queue overflows; the others receive every message, in order,
// and stay connected.
func TestSlowConsumerCutOffOthersUnaffected(t *testing.T) {
	const (
		bound = 256 << 10
		// Enough to get past the kernel's send buffer of the stalled
		// socket (autotuned up to tcp_wmem's 4 MiB) and then the bound,
		// within each sender's request bucket (100).
		senders  = 2
		perSend  = 60
		text     = 60_000
		readersN = 3
	)
	base, a, logs := startApp(t, app.Config{MaxBufferedBytes: bound, MaxMessageBytes: text, RateBurst: 1_000_000, RatePerSecond: 1_000_000})

	// A receive buffer of a few KB: the server's writes stop being
	// accepted by the kernel almost at once, so the backlog is ours.
	stalled := mustDial(t, base, dialOptions{rcvBuf: 4096})
	mustHello(t, stalled, "stalled", "flood")
	readers := make([]*client, readersN)
	for i := range readers {
		readers[i] = mustDial(t, base, dialOptions{})
		mustHello(t, readers[i], fmt.Sprintf("reader%d", i), "flood")
	}
	stalled.pause()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	t0 := time.Now()
	errs := make(chan error, senders)
	for s := range senders {
		c := mustDial(t, base, dialOptions{})
		mustHello(t, c, fmt.Sprintf("sender%d", s), "flood")
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := strings.Repeat(string(rune('a'+s)), text)
			for i := range perSend {
				if err := c.ok(ctx, "send", map[string]any{"room": "flood", "text": body, "clientId": fmt.Sprintf("s%d-%d", s, i)}, nil); err != nil {
					errs <- fmt.Errorf("sender%d message %d: %w", s, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("sent in %v", time.Since(t0))
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := senders * perSend
	if total*text < 4<<20+2*bound {
		t.Fatalf("test too small to overflow: %d bytes sent, bound %d", total*text, bound)
	}

	// The stalled client is gone for everyone else...
	if _, err := readers[0].waitEvent(ctx, 0, func(e event) bool {
		var p presenceEvent
		return e.Name == "presence" && json.Unmarshal(e.Arg, &p) == nil && p.Nickname == "stalled" && p.Action == "left"
	}); err != nil {
		t.Fatalf("stalled client never left: %v", err)
	}
	t.Logf("cut off at %v", time.Since(t0))
	if !strings.Contains(logs.String(), `reason="slow consumer"`) {
		t.Error(`no session closed with reason "slow consumer" in the log`)
	}
	for _, u := range a.Service().Users() {
		if u.Nickname == "stalled" {
			t.Error("stalled is still online")
		}
	}
	// ...while every reader got every message, in order, and is connected.
	for i, r := range readers {
		seq := int64(0)
		_, err := r.waitEvent(ctx, 0, func(e event) bool {
			var m message
			if e.Name != "message" || json.Unmarshal(e.Arg, &m) != nil {
				return false
			}
			if m.Seq != seq+1 {
				t.Errorf("reader%d: seq %d after %d", i, m.Seq, seq)
			}
			seq = m.Seq
			return seq == int64(total)
		})
		if err != nil {
			t.Fatalf("reader%d got %d of %d messages: %v", i, seq, total, err)
		}
		if err := r.ok(ctx, "rooms", nil, nil); err != nil {
			t.Errorf("reader%d after the flood: %v", i, err)
		}
	}
}
