package xmppgw

import (
	"sync"
	"syscall"
)

var syscallEMFILE = syscall.EMFILE

// flusher is a small pool of goroutines that write sessions' queued
// stanzas: Deliver (called under chat's locks) only appends to a queue
// and schedules the session here, never blocking. A session is scheduled
// at most once at a time (session.flushing), and one flush writes
// everything queued since the last one in one write: coalescing grows
// with load by itself. Writes to event-loop connections never block
// (nbio buffers them, bounded), so a few workers serve every connection.
type flusher struct {
	g     *Gateway
	mu    sync.Mutex
	cond  sync.Cond
	q     []*session
	head  int
	stop_ bool
	wg    sync.WaitGroup
}

func newFlusher(g *Gateway, workers int) *flusher {
	f := &flusher{g: g}
	f.cond.L = &f.mu
	for range max(workers, 1) {
		f.wg.Add(1)
		go f.run()
	}
	return f
}

// schedule queues s for a flush. The caller has set s.flushing.
func (f *flusher) schedule(s *session) {
	f.mu.Lock()
	f.q = append(f.q, s)
	f.mu.Unlock()
	f.cond.Signal()
}

func (f *flusher) run() {
	defer f.wg.Done()
	var buf []byte
	for {
		f.mu.Lock()
		for f.head == len(f.q) && !f.stop_ {
			f.cond.Wait()
		}
		if f.head == len(f.q) {
			f.mu.Unlock()
			return
		}
		s := f.q[f.head]
		f.q[f.head] = nil
		f.head++
		if f.head == len(f.q) {
			f.q, f.head = f.q[:0], 0
		}
		f.mu.Unlock()
		buf = s.flush(buf[:0])
		if cap(buf) > 256<<10 {
			buf = nil // do not keep a burst's buffer
		}
	}
}

// stop ends the workers once the queue is empty.
func (f *flusher) stop() {
	f.mu.Lock()
	f.stop_ = true
	f.mu.Unlock()
	f.cond.Broadcast()
	f.wg.Wait()
}
