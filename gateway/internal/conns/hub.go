package conns

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/internal/evloop"
)

// Hub is what a gateway whose connections live on an event loop (TCP,
// /ws, MQTT) keeps besides them: the loop (made on first use), the flush
// workers, the open connections, the counters, and a sweeper that calls
// tick for every connection once a second (heartbeats, idle timeouts).
type Hub[C interface {
	comparable
	Flushable
}] struct {
	Open    Set[C]
	Stats   Counters
	Flusher *Flusher
	// Workers runs connections' inputs (a gateway that uses it: XMPP),
	// on goroutines kept warm while work comes.
	Workers *Workers

	log          *slog.Logger
	maxBuffered  int
	writeTimeout time.Duration

	every atomic.Pointer[func(time.Time)] // Every's

	mu      sync.Mutex
	loop    *evloop.Loop
	closed  bool
	done    chan struct{} // closed by Close
	closers map[io.Closer]struct{}
}

// ErrClosed is returned once the hub is closed.
var ErrClosed = errors.New("gateway closed")

// NewHub starts a hub whose connections may hold maxBuffered bytes unsent
// (the loop keeps room for a goodbye past it) for at most writeTimeout;
// tick runs for every open connection once a second.
func NewHub[C interface {
	comparable
	Flushable
}](log *slog.Logger, maxBuffered int, writeTimeout time.Duration, tick func(C, time.Time)) *Hub[C] {
	h := &Hub[C]{log: log, maxBuffered: maxBuffered, writeTimeout: writeTimeout, Flusher: NewFlusher(), Workers: &Workers{},
		done: make(chan struct{}), closers: make(map[io.Closer]struct{})}
	go func() {
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			select {
			case <-h.done:
				return
			case now := <-tk.C:
				if f := h.every.Load(); f != nil {
					(*f)(now)
				}
				h.Open.Each(func(c C) { tick(c, now) })
			}
		}
	}()
	return h
}

// Every has f run by the sweeper once a second, before the connections'
// ticks (a gateway's clock, its load estimate).
func (h *Hub[C]) Every(f func(now time.Time)) { h.every.Store(&f) }

// Loop returns the hub's event loop, made on first use.
func (h *Hub[C]) Loop() (*evloop.Loop, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	if h.loop == nil {
		// Room for a goodbye past the gateway's own bound (a slow
		// consumer is closed at maxBuffered, with one).
		l, err := evloop.New(evloop.Config{Pollers: 1, MaxWriteBuffer: h.maxBuffered + 64<<10,
			WriteTimeout: h.writeTimeout, Logger: h.log})
		if err != nil {
			return nil, err
		}
		h.loop = l
	}
	return h.loop, nil
}

// Done is closed when the hub closes.
func (h *Hub[C]) Done() <-chan struct{} { return h.done }

// Track records a listener Close must close (on), or forgets it; it
// reports false once the hub is closed.
func (h *Hub[C]) Track(c io.Closer, on bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !on {
		delete(h.closers, c)
		return true
	}
	if h.closed {
		return false
	}
	h.closers[c] = struct{}{}
	return true
}

// IsClosed reports whether Close was called.
func (h *Hub[C]) IsClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// Close stops the listeners, says bye to every open connection (bye queues
// a goodbye and closes once it is written), waits for them to end (each
// calls Open.Leave), or for ctx, then cuts what is left and stops the
// loop and the flush workers.
func (h *Hub[C]) Close(ctx context.Context, bye func(C)) error {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
	for c := range h.closers {
		c.Close()
	}
	loop := h.loop
	h.mu.Unlock()
	for _, c := range h.Open.Close() {
		bye(c)
	}
	err := h.Open.Wait(ctx)
	if loop != nil {
		loop.Close() // a client that does not read is cut
		if err != nil {
			_ = h.Open.Wait(context.Background())
		}
	}
	h.Flusher.Close()
	h.Workers.Close()
	return err
}

// Send queues frame on c's queue q and schedules its flush. A lossy frame
// (typing) is dropped when the client has more than 8 KiB unsent: it does
// not keep up.
func (h *Hub[C]) Send(c C, q *Queue, unsent int, frame []byte, lossy bool) {
	if lossy && unsent > 8<<10 {
		return
	}
	if q.Push(frame, lossy, &h.Stats) {
		h.Flusher.Schedule(c)
	}
}

// Close asks c's queue to close once written, scheduling the flush that
// does it.
func (h *Hub[C]) CloseQueue(c C, q *Queue) {
	if q.Close() {
		h.Flusher.Schedule(c)
	}
}

// Forget removes an ended connection from Open and counts it closed.
func (h *Hub[C]) Forget(c C) {
	h.Open.Remove(c)
	h.Open.Leave()
	h.Stats.Closed()
}

// Liveness is when a connection last read and was last pinged, for the
// sweeper's heartbeats and idle timeouts.
type Liveness struct {
	lastRead atomic.Int64 // unix ns
	lastPing atomic.Int64
}

// Start marks the connection live as of now.
func (l *Liveness) Start(now time.Time) {
	l.lastRead.Store(now.UnixNano())
	l.lastPing.Store(now.UnixNano())
}

// Read records that the client sent something.
func (l *Liveness) Read(now time.Time) { l.lastRead.Store(now.UnixNano()) }

// Check reports whether the client has sent nothing for longer than idle,
// else whether a ping is due (every interval; 0: never), counting it sent.
func (l *Liveness) Check(now time.Time, idle, interval time.Duration) (timedOut, ping bool) {
	if now.Sub(time.Unix(0, l.lastRead.Load())) > idle {
		return true, false
	}
	if interval > 0 && now.Sub(time.Unix(0, l.lastPing.Load())) >= interval {
		l.lastPing.Store(now.UnixNano())
		return false, true
	}
	return false, false
}

// CloseReason names how an event-loop connection ended, for logs.
func CloseReason(err error) string {
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return "client closed"
	case errors.Is(err, evloop.ErrOverflow):
		return "slow consumer"
	case errors.Is(err, evloop.ErrWriteTimeout):
		return "write timeout"
	case errors.Is(err, evloop.ErrLoopClosed):
		return "shutdown"
	}
	return "read error"
}
