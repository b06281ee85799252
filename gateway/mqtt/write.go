package mqttgw

import (
	"errors"
	"sync"
	"time"

	"github.com/banter-chat/banter/internal/evloop"
)

// The writing side of a connection: its queue of packets, bounded in
// bytes, and the flush passes that write it, everything queued in one
// write (flush.go says who runs them and when).

// pushLocked queues o and makes sure a flush pass will write it (urgent:
// without a coalescing delay). Past MaxQueuedBytes the connection is a
// slow consumer (never a silent loss). Called with mu held.
func (c *conn) pushLocked(o out, urgent bool) {
	if c.appendLocked(o) {
		c.kickLocked(urgent)
	}
}

// appendLocked queues o unless the connection is stopped or o would take
// the queue past MaxQueuedBytes (which stops it as a slow consumer).
func (c *conn) appendLocked(o out) bool {
	if c.dead {
		return false
	}
	size := len(o.w.b)
	if int(c.qBytes)+size > c.g.cfg.MaxQueuedBytes {
		c.stopLocked(ErrSlowConsumer, nil)
		return false
	}
	c.q = append(c.q, o)
	c.qBytes += int32(size)
	return true
}

// reply queues a packet for this client alone (an acknowledgement, a
// response, an error report). Only the connection's handler calls it; it
// writes the replies to the packets it handled, with whatever else is
// queued, in one write when it is done with them (flushInline): no
// hand-off to a flush worker, no coalescing delay.
func (c *conn) reply(b []byte) { c.replyWire(&wire{b: b}) }

// replyWire is reply for a PUBLISH (a QoS 1 one gets its identifier when
// written).
func (c *conn) replyWire(w *wire) {
	c.mu.Lock()
	if c.appendLocked(out{w: w}) {
		c.urgent = true
	}
	c.mu.Unlock()
}

// kickLocked makes sure a flush pass will write the queue: at once when
// the connection is idle or a reply waits; when it wrote less than the
// coalescing delay ago and the gateway is busy, once a second packet joins
// the first or the delay has passed, whichever comes first (flush.go).
func (c *conn) kickLocked(urgent bool) {
	switch c.fstate {
	case fIdle:
		if !urgent && len(c.q) < coalesceBatch {
			if d := c.g.fl.delay(); d > 0 {
				if now := time.Now().UnixNano(); now-c.lastFlush < d {
					c.fstate = fDelayed
					c.fgen++
					c.g.fl.after(c, c.fgen, now+d)
					return
				}
			}
		}
		c.fstate = fQueued
		c.g.fl.now(c)
	case fDelayed:
		if urgent || len(c.q) >= coalesceBatch {
			c.fgen++ // the delayed entry is stale now
			c.fstate = fQueued
			c.g.fl.now(c)
		}
	case fRunning:
		c.urgent = c.urgent || urgent
	}
}

// coalesceBatch is how many packets end a coalescing delay: the write
// they share halves the cost of each, and waiting for more would only add
// latency (under heavier load the flushers lag and batches grow anyway).
const coalesceBatch = 2

// flushInline writes what is queued from the handler's goroutine (replies
// leave without a hand-off), unless a flush pass has it already: a queued
// one writes it soon, a running one goes again at once (urgent).
func (c *conn) flushInline() {
	c.mu.Lock()
	switch {
	case c.fstate == fQueued:
	case c.fstate == fRunning:
		c.urgent = c.urgent || len(c.q) > 0
	case len(c.q) == 0 && (c.x == nil || c.x.bye == nil):
	default:
		if c.fstate == fDelayed {
			c.fgen++ // the delayed entry is stale now
		}
		c.fstate = fRunning
		c.mu.Unlock()
		c.Flush()
		return
	}
	c.mu.Unlock()
}

// Flush is one flush pass (conns.Flushable): everything queued in one
// write (one WebSocket frame). QoS 1 packets get their identifier and are
// registered in the client's inflight store first, so that they are resent
// (DUP) if the client comes back with its session before acknowledging
// them.
func (c *conn) Flush() {
	c.mu.Lock()
	c.fstate = fRunning
	c.urgent = false
	q := c.q
	c.q, c.qBytes = nil, 0
	var bye []byte
	if x := c.x; x != nil {
		bye, x.bye = x.bye, nil
		if x.space != nil {
			x.space.Broadcast()
		}
	}
	dead := c.dead
	cl := c.cl
	c.mu.Unlock()

	var rest []out // QoS 1 packets beyond the client's Receive Maximum
	bp := getBuf()
	buf := (*bp)[:headroom]
	var seen []out // QoS 0 messages of a persistent session: seen once written
	if !dead && len(q) > 0 {
		buf, rest, seen = c.appendQueue(cl, buf, q)
	}
	if bye != nil {
		buf = append(buf, bye...)
	}
	var err error
	if len(buf) > headroom {
		err = c.write(buf)
		if err == nil {
			c.g.fl.wrote(len(q))
		}
	}
	putBuf(bp, buf)
	if err == nil && len(seen) > 0 {
		cl.markSeenAll(c, seen)
	}

	c.mu.Lock()
	c.lastFlush = time.Now().UnixNano()
	c.fstate = fIdle
	if err != nil && !c.dead {
		cause := error(errors.Join(errors.New("mqttgw: write failed"), err))
		if errors.Is(err, evloop.ErrOverflow) {
			cause = ErrSlowConsumer
		}
		c.stopLocked(cause, nil) // closes the transport
		c.mu.Unlock()
		return
	}
	if c.dead {
		if c.x.bye != nil { // a DISCONNECT was queued during this pass
			c.kickLocked(true)
			c.mu.Unlock()
			return
		}
		cause := c.x.stopErr
		c.mu.Unlock()
		c.closeTransport(cause)
		return
	}
	if len(rest) > 0 {
		c.q = append(rest, c.q...)
		for _, o := range rest {
			c.qBytes += int32(len(o.w.b))
		}
		if len(c.q) > len(rest) || c.urgent { // more than the held packets: write those
			c.kickLocked(c.urgent)
		}
	} else if len(c.q) > 0 {
		c.kickLocked(c.urgent)
	}
	c.mu.Unlock()
}

// appendQueue appends q's packets to buf. It returns the QoS 1 packets the
// client's window does not allow yet and the QoS 0 messages to record as
// seen once written.
func (c *conn) appendQueue(cl *client, buf []byte, q []out) (_ []byte, rest, seen []out) {
	if cl == nil { // before CONNECT: CONNACK only
		for _, o := range q {
			buf = append(buf, o.w.b...)
		}
		return buf, nil, nil
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if c.detachedLocked() {
		return buf, nil, nil // its client id lives on another connection now
	}
	for i, o := range q {
		if c.maxOut > 0 && len(o.w.b) > int(c.maxOut) {
			continue // [MQTT-3.1.2-25]: larger than the client accepts
		}
		if o.w.idAt == 0 {
			buf = append(buf, o.w.b...)
			if o.room != "" && cl.seen != nil {
				seen = append(seen, o)
			}
			continue
		}
		if len(cl.inflight) >= int(c.recvMax) {
			if int(c.recvMax) >= c.g.cfg.MaxInflight {
				c.mu.Lock()
				c.stopLocked(ErrSlowConsumer, nil)
				c.mu.Unlock()
				return buf, nil, nil
			}
			return buf, q[i:], seen // the client's own window: wait for PUBACKs
		}
		id := cl.register(o)
		buf = o.w.appendTo(buf, id, false)
	}
	return buf, nil, seen
}

// detachedLocked reads detached, which is written under both locks.
func (c *conn) detachedLocked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.detached
}

// headroom is reserved in front of a write buffer for a WebSocket frame
// header (at most 10 bytes for a server frame).
const headroom = 10

// write writes buf[headroom:] (as one binary frame for WebSocket). On the
// event loop it never blocks (the loop keeps what the kernel does not
// take, bounded); in blocking mode (TLS) it blocks, with a deadline.
func (c *conn) write(buf []byte) error {
	start := headroom
	if c.ws != nil {
		n := len(buf) - headroom
		var h []byte
		switch {
		case n < 126:
			h = []byte{0x82, byte(n)}
		case n < 1<<16:
			h = []byte{0x82, 126, byte(n >> 8), byte(n)}
		default:
			h = []byte{0x82, 127, 0, 0, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
		}
		start -= len(h)
		copy(buf[start:], h)
	}
	return c.Write(buf[start:])
}

// bufs recycles write buffers: a connection holds one only during a pass.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufs.Get().(*[]byte) }

func putBuf(bp *[]byte, b []byte) {
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		bufs.Put(bp)
	}
}
