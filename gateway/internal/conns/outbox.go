// Package conns is the connection bookkeeping the gateways share: the
// outgoing queue of the gateways whose connections have a writer
// goroutine each (/ws and TCP; Outbox, bounded in bytes, never blocking the
// producers: chat's Deliver, command answers, heartbeats), the set of a
// gateway's open connections and the goroutines its Close waits for (Set),
// and the counters the gateways report (Counters).
package conns

import "sync"

// Outbox is a connection's outgoing queue, bounded in bytes. Producers
// (chat's Deliver, the command handler, the heartbeat) Push without
// blocking; the connection's one writer goroutine Takes batches and writes
// them. A Push past the bound marks the outbox overflowed instead of
// dropping a frame silently: the writer then closes the connection as a
// slow consumer, and the client catches up after reconnecting.
type Outbox struct {
	mu       sync.Mutex
	frames   [][]byte
	bytes    int
	max      int
	closed   bool
	overflow bool
	wake     chan struct{}
	counters *Counters // counts the overflow; may be nil
}

// NewOutbox returns an Outbox holding at most maxBytes of queued frames; an
// overflow is counted in counters (nil: not counted).
func NewOutbox(maxBytes int, counters *Counters) *Outbox {
	return &Outbox{max: maxBytes, wake: make(chan struct{}, 1), counters: counters}
}

// Push queues frame (shared: never modified). A lossy frame (typing) is
// dropped when frames are already waiting. It reports false when the
// frame was not queued because the outbox is closed or just overflowed.
func (o *Outbox) Push(frame []byte, lossy bool) bool {
	o.mu.Lock()
	switch {
	case o.closed || o.overflow:
		o.mu.Unlock()
		return false
	case lossy && len(o.frames) > 0:
		o.mu.Unlock()
		return true
	case o.bytes+len(frame) > o.max && len(o.frames) > 0:
		o.overflow = true
		o.frames, o.bytes = nil, 0
		o.mu.Unlock()
		if o.counters != nil {
			o.counters.slow.Add(1)
		}
		o.signal()
		return false
	}
	o.frames = append(o.frames, frame)
	o.bytes += len(frame)
	o.mu.Unlock()
	o.signal()
	return true
}

// Close makes later Pushes fail and wakes the writer; frames already queued
// are still returned by Take (so a "bye" goes out before the close).
func (o *Outbox) Close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.signal()
}

func (o *Outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Wake is signalled whenever Take may have something new to say.
func (o *Outbox) Wake() <-chan struct{} { return o.wake }

// Take returns the queued frames and the outbox state: overflow (close as a
// slow consumer, the frames are gone) and closed (write frames, then close).
func (o *Outbox) Take() (frames [][]byte, closed, overflow bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	frames, o.frames, o.bytes = o.frames, nil, 0
	return frames, o.closed, o.overflow
}
