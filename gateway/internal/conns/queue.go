package conns

import (
	"runtime"
	"sync"
)

// Queue is the outgoing queue of a connection served by an event loop
// (internal/evloop): no writer goroutine of its own; frames are written by
// a Flusher's workers, everything queued since the last write in one
// write. Bounded in bytes: a Push past the bound marks the
// queue overflowed (the flush closes the connection as a slow consumer).
// The zero value is ready; set Max first.
type Queue struct {
	Max int // bytes

	mu       sync.Mutex
	frames   [][]byte
	bytes    int
	closed   bool
	overflow bool
	flushing bool // a flush is scheduled or running
}

// Push queues frame (shared: never modified) and reports whether the
// caller must schedule a flush (the queue was idle). A lossy frame (typing)
// is dropped when frames are already waiting; nothing is queued once the
// queue is closed or overflowed. An overflow counts in counters (nil: not
// counted) and asks for a flush too: the flush closes the connection.
func (q *Queue) Push(frame []byte, lossy bool, counters *Counters) (schedule bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed || q.overflow:
		return false
	case lossy && len(q.frames) > 0:
		return false
	case q.bytes+len(frame) > q.Max && len(q.frames) > 0:
		q.overflow = true
		q.frames, q.bytes = nil, 0
		if counters != nil {
			counters.slow.Add(1)
		}
	default:
		q.frames = append(q.frames, frame)
		q.bytes += len(frame)
	}
	return q.schedule()
}

// Overflow marks the queue overflowed from the writer's side (the bytes
// the kernel and the loop hold past the bound): what is queued is
// dropped, nothing more is queued, and it counts in counters.
func (q *Queue) Overflow(counters *Counters) {
	q.mu.Lock()
	q.overflow = true
	q.frames, q.bytes = nil, 0
	q.mu.Unlock()
	if counters != nil {
		counters.slow.Add(1)
	}
}

// Close makes later Pushes fail; frames already queued are still returned
// by Take (so a "bye" goes out before the close). It reports whether the
// caller must schedule a flush.
func (q *Queue) Close() (schedule bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	return q.schedule()
}

func (q *Queue) schedule() bool {
	if q.flushing {
		return false
	}
	q.flushing = true
	return true
}

// Take returns the queued frames and the queue's state: overflow (close as
// a slow consumer, the frames are gone) and closed (write frames, then
// close). When there is nothing to do it ends the flush (done: return).
func (q *Queue) Take() (frames [][]byte, closed, overflow, done bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	frames, q.frames, q.bytes = q.frames, nil, 0
	if len(frames) == 0 && !q.closed && !q.overflow {
		q.flushing = false
		return nil, false, false, true
	}
	return frames, q.closed, q.overflow, false
}

// Flushable is a connection a Flusher writes.
type Flushable interface {
	// Flush writes what the connection's Queue holds, until Take says done
	// (or the connection closed).
	Flush()
}

// Flusher writes queued frames of event-loop connections on a few
// goroutines, off the callers' locks (chat's Deliver runs under a room
// lock: a broadcast only queues).
type Flusher struct {
	q    chan Flushable
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// NewFlusher starts GOMAXPROCS workers.
func NewFlusher() *Flusher {
	f := &Flusher{q: make(chan Flushable, 1<<14), stop: make(chan struct{})}
	n := runtime.GOMAXPROCS(0)
	f.wg.Add(n)
	for range n {
		go f.work()
	}
	return f
}

func (f *Flusher) work() {
	defer f.wg.Done()
	for {
		select {
		case c := <-f.q:
			c.Flush()
		case <-f.stop:
			for {
				select {
				case c := <-f.q:
					c.Flush()
				default:
					return
				}
			}
		}
	}
}

// Schedule has c flushed by a worker (by a goroutine of its own when the
// workers are far behind: never blocks).
func (f *Flusher) Schedule(c Flushable) {
	select {
	case f.q <- c:
	default:
		go c.Flush()
	}
}

// Close stops the workers once what is scheduled is flushed.
func (f *Flusher) Close() {
	f.once.Do(func() { close(f.stop) })
	f.wg.Wait()
}
