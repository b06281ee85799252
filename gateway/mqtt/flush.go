package mqttgw

import (
	"container/heap"
	"sync"
	"sync/atomic"
	"time"
)

// flusher schedules the connections' flush passes: the hub's flush
// workers (conns.Flusher) write the queues that should be written now; a
// timer releases the delayed ones.
//
// Write coalescing: a write costs about the same CPU whatever it carries
// (on this kind of machine ~8-10 µs to a loopback client, more when it
// wakes a sleeping reader: docs/benchmarks.md, MQTT), so CPU per delivery
// is that cost divided by the packets per write. When the gateway delivers
// Config.CoalesceAbove packets per second or more, a packet for a
// connection that wrote less than Config.MaxCoalesceDelay ago waits until
// a second packet joins it (one write for both) or the delay has passed.
// Under heavier load the flushers lag and batches grow by themselves. A
// quiet gateway, or a connection that wrote longer ago, is written at
// once, and replies to a client's own packets (acknowledgements) are never
// held back.
type flusher struct {
	g *Gateway

	mu      sync.Mutex
	delayed delayHeap
	timer   *time.Timer
	next    int64 // when the timer fires (UnixNano); 0: not armed
	stopped bool

	packets atomic.Uint64 // packets written since New
	lastN   uint64        // packets at the last rate update (the sweeper's)
	cur     atomic.Int64  // the current coalescing delay, ns
}

func newFlusher(g *Gateway) *flusher {
	f := &flusher{g: g}
	f.timer = time.AfterFunc(time.Hour, f.fire)
	f.timer.Stop()
	return f
}

// now has c flushed by the hub's flush workers (a connection whose
// writes may block, TLS, by a goroutine of its own: conns.Flusher).
func (f *flusher) now(c *conn) { f.g.hub.Flusher.Schedule(c) }

// after schedules c's flush at `at` (UnixNano); gen tells a stale entry
// (the flush was done or rescheduled meanwhile) from the current one.
func (f *flusher) after(c *conn, gen uint32, at int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		f.g.spawn(c.Flush)
		return
	}
	heap.Push(&f.delayed, delayed{at: at, c: c, gen: gen})
	if f.next == 0 || at < f.next {
		f.next = at
		f.timer.Reset(time.Duration(at - time.Now().UnixNano()))
	}
}

// fire releases the delayed flushes that are due.
func (f *flusher) fire() {
	now := time.Now().UnixNano()
	var due []delayed
	f.mu.Lock()
	for len(f.delayed) > 0 && f.delayed[0].at <= now {
		due = append(due, heap.Pop(&f.delayed).(delayed))
	}
	f.next = 0
	if len(f.delayed) > 0 && !f.stopped {
		f.next = f.delayed[0].at
		f.timer.Reset(time.Duration(f.next - now))
	}
	f.mu.Unlock()
	for _, d := range due {
		c := d.c
		c.mu.Lock()
		// A stopped connection has nothing to write (a DISCONNECT it must
		// still write is never delayed).
		ok := c.fstate == fDelayed && c.fgen == d.gen && !c.dead
		if ok {
			c.fstate = fQueued
		}
		c.mu.Unlock()
		if ok {
			f.now(c)
		}
	}
}

// delay returns the current coalescing delay in nanoseconds.
func (f *flusher) delay() int64 { return f.cur.Load() }

// wrote counts packets written (for the load estimate).
func (f *flusher) wrote(n int) { f.packets.Add(uint64(n)) }

// updateRate recomputes the coalescing delay from the packets written in
// the last interval: MaxCoalesceDelay at CoalesceAbove packets per second
// or more, none below (a delay shorter than the gap between a connection's
// packets would only add latency). Called by the hub's sweeper, once a
// second.
func (f *flusher) updateRate(interval time.Duration) {
	n := f.packets.Load()
	rate := float64(n-f.lastN) / interval.Seconds()
	f.lastN = n
	d := int64(0)
	if cfg := &f.g.cfg; rate >= float64(cfg.CoalesceAbove) {
		d = int64(cfg.MaxCoalesceDelay)
	}
	f.cur.Store(d)
}

// stop drops what is still delayed, once every connection is torn down
// (it belongs to dead connections); later delays flush at once.
func (f *flusher) stop() {
	f.mu.Lock()
	f.stopped = true
	f.timer.Stop()
	f.delayed = nil
	f.mu.Unlock()
}

type delayed struct {
	at  int64
	c   *conn
	gen uint32
}

type delayHeap []delayed

func (h delayHeap) Len() int           { return len(h) }
func (h delayHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h delayHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *delayHeap) Push(x any)        { *h = append(*h, x.(delayed)) }
func (h *delayHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = delayed{}
	*h = old[:len(old)-1]
	return x
}
