package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/redis"
	"github.com/redis/rueidis"
)

// uniquePrefix keeps this test's channels and keys apart from anyone
// else's on the shared Redis; the keys are deleted when the test ends.
func uniquePrefix(t *testing.T, be backend) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	p := "banter-test-" + hex.EncodeToString(b) + ":"
	testutil.DeleteRedisKeysAtCleanup(t, be.url, p)
	return p
}

func open(t *testing.T, be backend, prefix string) *redis.Bus {
	t.Helper()
	b, err := redis.Open(context.Background(), be.url, redis.Config{Prefix: prefix})
	if err != nil {
		t.Fatalf("Open (is Redis running? scripts/deps.sh starts it): %v", err)
	}
	if b.Sharded() != (be.cluster != nil) {
		t.Fatalf("%s: Sharded() = %v", be.name, b.Sharded())
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// recorder collects the events a handler got; it counts the
// EventSubscribed signals apart.
type recorder struct {
	mu   sync.Mutex
	evs  []*chat.Event
	live int // EventSubscribed received
}

func (r *recorder) handle(ev *chat.Event) {
	r.mu.Lock()
	if ev.Kind == chat.EventSubscribed {
		r.live++
	} else {
		r.evs = append(r.evs, ev)
	}
	r.mu.Unlock()
}

func (r *recorder) subscribedSignals() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live
}

func (r *recorder) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.evs {
		out = append(out, ev.Message.Text)
	}
	return out
}

func msg(room string, seq int64, text string) *chat.Event {
	return &chat.Event{Kind: chat.EventMessage, Room: room,
		Message: &chat.Message{ID: fmt.Sprint(seq), Room: room, Seq: seq, Sender: "al", Text: text, TS: 1}}
}

func subscribe(t *testing.T, b *redis.Bus, topic string, h func(*chat.Event)) func() {
	t.Helper()
	unsub, err := b.Subscribe(topic, h)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return b.Subscribed(topic) }, "subscription to %q never confirmed", topic)
	return unsub
}

func publish(t *testing.T, b *redis.Bus, topic string, ev *chat.Event) {
	t.Helper()
	if err := b.Publish(context.Background(), topic, ev); err != nil {
		t.Fatal(err)
	}
}

// TestCrossNode: events reach the other node's subscribers, the
// publisher's own subscribers get them once (not again when Redis echoes
// them), in publication order.
func TestCrossNode(t *testing.T) { eachRedis(t, testCrossNode) }

func testCrossNode(t *testing.T, be backend) {
	testutil.CheckGoroutineLeaks(t)
	p := uniquePrefix(t, be)
	a, b := open(t, be, p), open(t, be, p)
	var onA, onB recorder
	subscribe(t, a, "lobby", onA.handle)
	subscribe(t, b, "lobby", onB.handle)
	publish(t, a, "lobby", msg("lobby", 1, "one"))
	publish(t, a, "lobby", msg("lobby", 2, "two"))
	if got := onA.texts(); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("publisher's own subscriber got %v synchronously, want [one two]", got)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return len(onB.texts()) == 2 }, "node B got %v", onB.texts())
	publish(t, b, "lobby", msg("lobby", 3, "three"))
	// Redis delivers on A's connection in the order it ran the PUBLISHes:
	// had A not dropped its own echoes, they would come before "three".
	testutil.Eventually(t, 5*time.Second, func() bool { return len(onA.texts()) >= 3 }, "node A got %v", onA.texts())
	if got := onA.texts(); !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Fatalf("node A got %v, want [one two three]", got)
	}
	if got := onB.texts(); !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Fatalf("node B got %v, want [one two three]", got)
	}
	_ = a.Close()
	_ = b.Close()
}

// TestInterest: a node is subscribed in Redis exactly to the topics it has
// local subscribers for, and stops receiving a topic once the last one
// leaves.
func TestInterest(t *testing.T) { eachRedis(t, testInterest) }

func testInterest(t *testing.T, be backend) {
	p := uniquePrefix(t, be)
	a, b := open(t, be, p), open(t, be, p)
	var r1, r2, other recorder
	u1 := subscribe(t, b, "lobby", r1.handle)
	u2 := subscribe(t, b, "lobby", r2.handle)
	subscribe(t, a, "elsewhere", other.handle)
	rc := a.Client()
	numsub := func(topic string) int64 {
		cmd := rc.B().PubsubNumsub().Channel(p + "ev:" + topic).Build()
		if be.cluster != nil { // sharded channels, counted by the shard of their slot
			cmd = rc.B().PubsubShardnumsub().Channel(p + "ev:" + topic).Build()
		}
		res, err := rc.Do(context.Background(), cmd).AsIntMap()
		if err != nil {
			t.Fatal(err)
		}
		return res[p+"ev:"+topic]
	}
	if n := numsub("lobby"); n != 1 {
		t.Fatalf("lobby has %d Redis subscribers, want 1 (one per node, not per local subscriber)", n)
	}
	if n := numsub("quiet"); n != 0 {
		t.Fatalf("a topic nobody subscribed to has %d Redis subscribers", n)
	}
	u1()
	if !b.Subscribed("lobby") {
		t.Fatal("node unsubscribed from lobby while a local subscriber remains")
	}
	publish(t, a, "lobby", msg("lobby", 1, "x"))
	testutil.Eventually(t, 5*time.Second, func() bool { return len(r2.texts()) == 1 }, "remaining subscriber got %v", r2.texts())
	if got := r1.texts(); len(got) != 0 {
		t.Fatalf("unsubscribed handler got %v", got)
	}
	u2()
	u2() // idempotent
	testutil.Eventually(t, 5*time.Second, func() bool { return !b.Subscribed("lobby") && numsub("lobby") == 0 },
		"node B still subscribed to lobby after its last local subscriber left")
}

// killPubSub makes Redis drop victim's pub/sub connections (found by their
// client name: one on a single Redis, one per shard it subscribes on in a
// Redis Cluster), as a Redis restart or a network cut would.
func killPubSub(t *testing.T, be backend, via, victim *redis.Bus) {
	t.Helper()
	if killed := killConns(t, be, via, victim, "pubsub"); killed == 0 || be.cluster == nil && killed != 1 {
		t.Fatalf("found %d pub/sub connections of node %s, want one (per shard)", killed, victim.NodeID())
	}
}

// killConns makes Redis (every node of a cluster) drop victim's connections
// of a type (pubsub, normal) and returns how many there were.
func killConns(t *testing.T, be backend, via, victim *redis.Bus, typ string) int {
	t.Helper()
	rc := via.Client()
	nodes := map[string]rueidis.Client{"": rc}
	if be.cluster != nil {
		nodes = rc.Nodes()
	}
	killed := 0
	for _, n := range nodes {
		list, err := n.Do(context.Background(), n.B().Arbitrary("CLIENT", "LIST", "TYPE", typ).Build()).ToString()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(list, "\n") {
			if !strings.Contains(line, " name=banter-"+victim.NodeID()+" ") {
				continue
			}
			// RESP3 returns a verbatim string: "txt:id=12 addr=…".
			idText, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(line, "txt:"), "id="), " ")
			id, err := strconv.ParseInt(idText, 10, 64)
			if err != nil {
				t.Fatalf("CLIENT LIST line %q: %v", line, err)
			}
			if err := n.Do(context.Background(), n.B().ClientKill().Id(id).Build()).Error(); err != nil {
				t.Fatal(err)
			}
			killed++
		}
	}
	return killed
}

// TestPublishAfterIdleConnectionKilled: Redis closed a node's idle
// connections (a restart, a failover, a timeout): its next publication is
// not lost (the client notices the broken connection only when writing).
func TestPublishAfterIdleConnectionKilled(t *testing.T) {
	eachRedis(t, testPublishAfterIdleConnectionKilled)
}

func testPublishAfterIdleConnectionKilled(t *testing.T, be backend) {
	p := uniquePrefix(t, be)
	a, b := open(t, be, p), open(t, be, p)
	var got recorder
	subscribe(t, b, "lobby", got.handle)
	publish(t, a, "lobby", msg("lobby", 1, "before"))
	testutil.Eventually(t, 5*time.Second, func() bool { return len(got.texts()) == 1 }, "B got %v", got.texts())
	if n := killConns(t, be, b, a, "normal"); n == 0 {
		t.Fatal("node A has no connection to kill")
	}
	publish(t, a, "lobby", msg("lobby", 2, "after"))
	testutil.Eventually(t, 5*time.Second, func() bool { return slices.Equal(got.texts(), []string{"before", "after"}) }, "B got %v", got.texts())
}

// TestResubscribeAfterConnectionLoss: Redis drops the subscriber
// connection (as on a Redis restart); the bus reconnects and subscribes
// again by itself.
func TestResubscribeAfterConnectionLoss(t *testing.T) {
	eachRedis(t, testResubscribeAfterConnectionLoss)
}

func testResubscribeAfterConnectionLoss(t *testing.T, be backend) {
	p := uniquePrefix(t, be)
	a, b := open(t, be, p), open(t, be, p)
	var got recorder
	subscribe(t, b, "lobby", got.handle)
	testutil.Eventually(t, 5*time.Second, func() bool { return got.subscribedSignals() == 1 }, "%d EventSubscribed after subscribing, want 1", got.subscribedSignals())
	killPubSub(t, be, a, b)
	testutil.Eventually(t, 5*time.Second, func() bool { return !b.Subscribed("lobby") }, "connection loss not noticed")
	testutil.Eventually(t, 10*time.Second, func() bool { return b.Subscribed("lobby") }, "not subscribed again")
	// The handlers hear that the subscription is live again (what was
	// published meanwhile may be lost).
	testutil.Eventually(t, 5*time.Second, func() bool { return got.subscribedSignals() == 2 }, "%d EventSubscribed after resubscribing, want 2", got.subscribedSignals())
	publish(t, a, "lobby", msg("lobby", 1, "after"))
	testutil.Eventually(t, 5*time.Second, func() bool { return len(got.texts()) == 1 }, "got %v after reconnecting", got.texts())
}

func TestClosed(t *testing.T) { eachRedis(t, testClosed) }

func testClosed(t *testing.T, be backend) {
	testutil.CheckGoroutineLeaks(t)
	b := open(t, be, uniquePrefix(t, be))
	subscribe(t, b, "lobby", func(*chat.Event) {})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := b.Publish(context.Background(), "lobby", msg("lobby", 1, "x")); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("Publish after Close: %v", err)
	}
	if _, err := b.Subscribe("lobby", func(*chat.Event) {}); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
}

// TestPrefixFromURL: the URL's prefix parameter names the channels.
func TestPrefixFromURL(t *testing.T) { eachRedis(t, testPrefixFromURL) }

func testPrefixFromURL(t *testing.T, be backend) {
	p := uniquePrefix(t, be)
	b, err := redis.Open(context.Background(), withParam(be.url, "prefix", p), redis.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a := open(t, be, p)
	var got recorder
	subscribe(t, b, "lobby", got.handle)
	publish(t, a, "lobby", msg("lobby", 1, "x"))
	testutil.Eventually(t, 5*time.Second, func() bool { return len(got.texts()) == 1 }, "bus opened with ?prefix= got %v", got.texts())
	if _, err := redis.Open(context.Background(), withParam(be.url, "prefix", ""), redis.Config{}); err == nil {
		t.Fatal("Open with an empty prefix parameter succeeded")
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := redis.Open(ctx, "http://nope", redis.Config{}); err == nil {
		t.Fatal("Open of a non-redis URL succeeded")
	}
	_, err := redis.Open(ctx, "redis://127.0.0.1:1/0", redis.Config{ConnectTimeout: 2 * time.Second})
	if err == nil {
		t.Fatal("Open of an unreachable Redis succeeded")
	}
}

// TestPublishBadEvent: an event that cannot travel is an error, and local
// subscribers still got it (it happened on this node).
func TestPublishBadEvent(t *testing.T) { eachRedis(t, testPublishBadEvent) }

func testPublishBadEvent(t *testing.T, be backend) {
	b := open(t, be, uniquePrefix(t, be))
	var got recorder
	subscribe(t, b, "", got.handle)
	ev := &chat.Event{Kind: chat.EventDisconnect, Disconnect: &chat.Disconnect{Reason: chat.ReasonShutdown}}
	if err := b.Publish(context.Background(), "", ev); !errors.Is(err, redis.ErrBadEvent) {
		t.Fatalf("Publish of a disconnect event: %v, want ErrBadEvent", err)
	}
	got.mu.Lock()
	defer got.mu.Unlock()
	if len(got.evs) != 1 || got.evs[0] != ev {
		t.Fatalf("local subscriber got %v, want the event once", got.evs)
	}
}
