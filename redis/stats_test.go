package redis_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/redis"
)

// TestStatsLagPing: counters move with traffic, the lag of a remote
// event is observed (never for a node's own echoes), Ping answers until
// Close.
func TestStatsLagPing(t *testing.T) { eachRedis(t, testStatsLagPing) }

func testStatsLagPing(t *testing.T, be backend) {
	p := uniquePrefix(t, be)
	var mu sync.Mutex
	var lags []time.Duration
	a := open(t, be, p)
	b, err := redis.Open(context.Background(), be.url, redis.Config{Prefix: p, ObserveLag: func(d time.Duration) {
		mu.Lock()
		lags = append(lags, d)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatalf("Open (is Redis running? scripts/deps.sh starts it): %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	var onB recorder
	subscribe(t, b, "lobby", onB.handle)
	subscribe(t, a, "lobby", func(*chat.Event) {})
	publish(t, a, "lobby", msg("lobby", 1, "one"))
	publish(t, b, "lobby", msg("lobby", 2, "own")) // b's echo must not count
	testutil.Eventually(t, 5*time.Second, func() bool { return len(onB.texts()) == 2 }, "node B got %v", onB.texts())
	if sa := a.Stats(); sa.Published != 1 || sa.PublishErrors != 0 || sa.Subscriptions != 1 {
		t.Errorf("node A: %+v", sa)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return a.Stats().Received == 1 }, "node A received %d of B's events, want 1", a.Stats().Received)
	if sb := b.Stats(); sb.Published != 1 || sb.Received != 1 || sb.Dropped != 0 || sb.Subscriptions != 1 {
		t.Errorf("node B: %+v", sb)
	}
	mu.Lock()
	got := append([]time.Duration(nil), lags...)
	mu.Unlock()
	if len(got) != 1 || got[0] < 0 || got[0] > time.Minute {
		t.Errorf("lags observed on B = %v, want one for A's event", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	_ = a.Close()
	if err := a.Ping(ctx); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("Ping after Close = %v, want ErrClosed", err)
	}
}

func TestCodecPublicationTime(t *testing.T) {
	at := time.UnixMicro(1_700_000_000_123_456)
	data, err := redis.EncodeEventAt("n1", at, msg("r", 1, "x"))
	if err != nil {
		t.Fatal(err)
	}
	node, got, ev, err := redis.DecodeEventAt(data)
	if err != nil || node != "n1" || !got.Equal(at) || ev.Message.Text != "x" {
		t.Fatalf("DecodeEventAt = %q, %v, %+v, %v", node, got, ev, err)
	}
	// Without a stamp (EncodeEvent, or an older node): the zero time.
	data, _ = redis.EncodeEvent("n1", msg("r", 1, "x"))
	if _, got, _, err := redis.DecodeEventAt(data); err != nil || !got.IsZero() {
		t.Fatalf("unstamped: %v, %v", got, err)
	}
	if _, _, _, err := redis.DecodeEventAt(data); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(data, []byte(`"n":"n1"`), []byte(`"n":"n1","at":-5`), 1)
	if _, _, _, err := redis.DecodeEventAt(bad); !errors.Is(err, redis.ErrBadEvent) {
		t.Fatalf("negative time in %s: %v, want ErrBadEvent", bad, err)
	}
}
