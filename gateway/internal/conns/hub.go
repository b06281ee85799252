package conns

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/banter-chat/banter/internal/evloop"
)

// Hub is what a gateway whose connections live on an event loop (TCP,
// /ws) keeps besides them: the loop (made on first use), the flush
// workers, the open connections, the counters, and a sweeper that calls
// tick for every connection once a second (heartbeats, idle timeouts).
type Hub[C comparable] struct {
	Open    Set[C]
	Stats   Counters
	Flusher *Flusher

	log          *slog.Logger
	maxBuffered  int
	writeTimeout time.Duration

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
func NewHub[C comparable](log *slog.Logger, maxBuffered int, writeTimeout time.Duration, tick func(C, time.Time)) *Hub[C] {
	h := &Hub[C]{log: log, maxBuffered: maxBuffered, writeTimeout: writeTimeout, Flusher: NewFlusher(),
		done: make(chan struct{}), closers: make(map[io.Closer]struct{})}
	go func() {
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			select {
			case <-h.done:
				return
			case now := <-tk.C:
				h.Open.Each(func(c C) { tick(c, now) })
			}
		}
	}()
	return h
}

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
	return err
}

// Forget removes an ended connection from Open and counts it closed.
func (h *Hub[C]) Forget(c C) {
	h.Open.Remove(c)
	h.Open.Leave()
	h.Stats.Closed()
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
