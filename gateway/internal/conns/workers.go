package conns

import (
	"sync"
	"time"
)

// Workers runs short-lived work (a connection's inputs, from an event
// loop that must not block) on goroutines kept for a while after they
// finish, instead of a new goroutine each time: a new goroutine starts
// with a small stack that a handler's calls grow, copying it, every time
// (measured: 4-5% of the XMPP gateway's CPU in a login storm), and
// starting one wakes a thread to run it. An idle worker costs a parked
// goroutine; it exits after Idle without work, so idle connections keep
// none. A worker runs anything, blocking work included (while it
// blocks, Go starts new ones).
//
// The zero value is ready; Close stops the idle workers and makes the
// busy ones exit when they finish.
type Workers struct {
	// Idle is how long a worker waits for work before it exits (default
	// 1 second: within a burst work comes microseconds apart, and the
	// stacks of a burst's workers are gone before the app returns memory
	// to the OS after it, internal/memreclaim).
	Idle time.Duration

	mu     sync.Mutex
	idle   []*worker // parked, most recently used last (warmest stack)
	closed bool
}

type worker struct {
	work chan func() // one slot: Go never blocks on it
}

// Go runs f on an idle worker, or on a new goroutine that becomes one.
func (w *Workers) Go(f func()) {
	w.mu.Lock()
	if n := len(w.idle); n > 0 {
		wk := w.idle[n-1]
		w.idle[n-1] = nil
		w.idle = w.idle[:n-1]
		w.mu.Unlock()
		wk.work <- f
		return
	}
	w.mu.Unlock()
	go w.run(f)
}

func (w *Workers) run(f func()) {
	idle := w.Idle
	if idle <= 0 {
		idle = time.Second
	}
	wk := &worker{work: make(chan func(), 1)}
	var t *time.Timer
	for {
		f()
		f = nil
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return
		}
		w.idle = append(w.idle, wk)
		w.mu.Unlock()
		if t == nil {
			t = time.NewTimer(idle)
		} else {
			t.Reset(idle)
		}
		select {
		case f = <-wk.work:
			t.Stop()
		case <-t.C:
			if !w.retire(wk) {
				f = <-wk.work // Go took this worker meanwhile: its work is coming
			}
		}
		if f == nil { // Close
			return
		}
	}
}

// retire removes an expired worker from the idle list; false if Go took
// it first.
func (w *Workers) retire(wk *worker) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, x := range w.idle {
		if x == wk {
			w.idle = append(w.idle[:i], w.idle[i+1:]...)
			return true
		}
	}
	return false
}

// Close makes the idle workers exit, and the busy ones when they finish.
// Go still works afterwards (on new goroutines that exit when done).
func (w *Workers) Close() {
	w.mu.Lock()
	w.closed = true
	idle := w.idle
	w.idle = nil
	w.mu.Unlock()
	for _, wk := range idle {
		wk.work <- nil
	}
}

// IdleCount returns the number of parked workers.
func (w *Workers) IdleCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.idle)
}
