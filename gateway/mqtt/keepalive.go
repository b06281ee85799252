package mqttgw

import (
	"sync"
	"time"
)

// wheel watches every connection's silence without a timer per connection:
// a timing wheel of one-second slots, each a list linked through the
// connections. A connection sits in the slot of its deadline (last read +
// its limit); reading only stores the time (conn.lastRead), so a busy
// connection costs nothing here. When the clock reaches a slot, each of
// its connections is either expired or moved to the slot of its current
// deadline: a connection is visited about once per keepalive period.
//
// The wheel also lists every live connection (for Close), and its goroutine
// is the gateway's clock: it updates Gateway.clock (seconds) and the
// flusher's load estimate once a second.
type wheel struct {
	g *Gateway

	mu    sync.Mutex
	slots [wheelSlots]*conn
	now   int64 // the last second processed
	n     int   // connections in the wheel

	stop chan struct{}
	done chan struct{}
}

// wheelSlots covers the longest limit: 1.5 × the longest keepalive
// (MaxKeepalive, at most 65535 s). A deadline further away than the wheel
// is parked in the last slot and moved on when visited.
const wheelSlots = 512

func newWheel(g *Gateway) *wheel {
	w := &wheel{g: g, now: time.Now().Unix(), stop: make(chan struct{}), done: make(chan struct{})}
	g.clock.Store(w.now)
	go w.run()
	return w
}

func (w *wheel) run() {
	defer close(w.done)
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	last := time.Now()
	for {
		select {
		case <-w.stop:
			return
		case t := <-tk.C:
			w.g.clock.Store(t.Unix())
			w.g.fl.updateRate(t.Sub(last))
			last = t
			w.advance(t.Unix())
		}
	}
}

// add puts c in the wheel with a limit of limit seconds from its last read.
func (w *wheel) add(c *conn, limit uint32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c.kaSlot >= 0 {
		w.unlinkLocked(c)
	} else {
		w.n++
	}
	c.kaLimit = limit
	w.linkLocked(c, c.lastRead.Load()+int64(limit))
}

// remove takes c out of the wheel (its teardown).
func (w *wheel) remove(c *conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c.kaSlot >= 0 {
		w.unlinkLocked(c)
		w.n--
	}
}

func (w *wheel) linkLocked(c *conn, deadline int64) {
	if deadline <= w.now {
		deadline = w.now + 1
	}
	if deadline-w.now >= wheelSlots {
		deadline = w.now + wheelSlots - 1
	}
	s := int32(deadline % wheelSlots)
	c.kaSlot = s
	c.kaPrev = nil
	c.kaNext = w.slots[s]
	if c.kaNext != nil {
		c.kaNext.kaPrev = c
	}
	w.slots[s] = c
}

func (w *wheel) unlinkLocked(c *conn) {
	if c.kaPrev != nil {
		c.kaPrev.kaNext = c.kaNext
	} else {
		w.slots[c.kaSlot] = c.kaNext
	}
	if c.kaNext != nil {
		c.kaNext.kaPrev = c.kaPrev
	}
	c.kaNext, c.kaPrev, c.kaSlot = nil, nil, -1
}

// advance processes the slots up to second now.
func (w *wheel) advance(now int64) {
	var expired []*conn
	w.mu.Lock()
	for w.now < now {
		w.now++
		s := w.now % wheelSlots
		c := w.slots[s]
		w.slots[s] = nil
		for c != nil {
			next := c.kaNext
			c.kaNext, c.kaPrev, c.kaSlot = nil, nil, -1
			if dl := c.lastRead.Load() + int64(c.kaLimit); dl < w.now {
				w.n--
				expired = append(expired, c)
			} else {
				w.linkLocked(c, dl)
			}
			c = next
		}
	}
	w.mu.Unlock()
	for _, c := range expired {
		c.expire()
	}
}

// all returns the connections in the wheel (every live connection).
func (w *wheel) all() []*conn {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*conn, 0, w.n)
	for _, c := range w.slots {
		for ; c != nil; c = c.kaNext {
			out = append(out, c)
		}
	}
	return out
}

func (w *wheel) close() {
	close(w.stop)
	<-w.done
}
