package engineio

import (
	"sync"
	"testing"
	"time"
)

type hbRecorder struct {
	mu    sync.Mutex
	fired []*Socket
	gens  []uint32
	ch    chan struct{}
}

func (r *hbRecorder) on(s *Socket, gen uint32) {
	r.mu.Lock()
	r.fired = append(r.fired, s)
	r.gens = append(r.gens, gen)
	r.mu.Unlock()
	r.ch <- struct{}{}
}

func (r *hbRecorder) wait(t *testing.T, n int) []*Socket {
	t.Helper()
	for range n {
		select {
		case <-r.ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d timers fired", len(r.fired), n)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Socket(nil), r.fired...)
}

func (r *hbRecorder) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-r.ch:
		t.Fatalf("a stopped or replaced timer fired")
	case <-time.After(d):
	}
}

// Timers fire in deadline order across the lists, a stopped timer never
// fires, and a reset moves a timer to the end of its new list.
func TestHeartbeatsOrderStopReset(t *testing.T) {
	rec := &hbRecorder{ch: make(chan struct{}, 16)}
	h := newHeartbeats(&Config{PingInterval: 120 * time.Millisecond, PingTimeout: 40 * time.Millisecond}, rec.on)
	defer h.stopAll()
	a, b, c, d := &Socket{}, &Socket{}, &Socket{}, &Socket{}
	h.reset(a, hbInterval) // +120ms
	h.reset(b, hbInterval) // +120ms, after a
	h.reset(c, hbV3)       // +160ms
	h.reset(d, hbTimeout)  // +40ms: earliest, armed after the others
	h.stop(b)
	got := rec.wait(t, 3)
	if got[0] != d || got[1] != a || got[2] != c {
		t.Fatalf("fired in the wrong order: %v (want d, a, c)", names(got, a, b, c, d))
	}
	rec.quiet(t, 200*time.Millisecond)

	// A timer reset before it is due fires only once, for its new deadline.
	h.reset(a, hbTimeout)
	gen := a.hb.gen
	time.Sleep(10 * time.Millisecond)
	h.reset(a, hbTimeout)
	rec.wait(t, 1)
	rec.mu.Lock()
	last := rec.gens[len(rec.gens)-1]
	rec.mu.Unlock()
	if last != gen+1 {
		t.Fatalf("fired generation %d, want %d (the latest reset)", last, gen+1)
	}
	rec.quiet(t, 100*time.Millisecond)
	for k := hbInterval; k < hbKinds; k++ {
		if l := h.lists[k]; l.head != nil || l.tail != nil {
			t.Fatalf("list %d not empty after every timer fired", k)
		}
	}
}

// Many sessions with spread deadlines: every one fires once.
func TestHeartbeatsMany(t *testing.T) {
	const n = 2000
	rec := &hbRecorder{ch: make(chan struct{}, n)}
	h := newHeartbeats(&Config{PingInterval: 30 * time.Millisecond, PingTimeout: 10 * time.Millisecond}, rec.on)
	defer h.stopAll()
	socks := make([]*Socket, n)
	for i := range socks {
		socks[i] = &Socket{}
		h.reset(socks[i], hbKind(1+i%3))
		if i%100 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	got := rec.wait(t, n)
	seen := make(map[*Socket]bool, n)
	for _, s := range got {
		if seen[s] {
			t.Fatal("a timer fired twice")
		}
		seen[s] = true
	}
	rec.quiet(t, 100*time.Millisecond)
}

func names(got []*Socket, socks ...*Socket) []string {
	var out []string
	for _, g := range got {
		for i, s := range socks {
			if g == s {
				out = append(out, string(rune('a'+i)))
			}
		}
	}
	return out
}
