// Package evloop serves many TCP connections from a few event loops
// (epoll on Linux) instead of a goroutine each: an idle connection costs a
// small struct and no goroutine, stack or read buffer. It is the transport
// under the WebSocket sessions of engineio and the gateways that keep many
// idle connections.
//
// Entry points: New returns a Loop; Loop.Add takes over a connection
// (accepted by net/http or a net.Listener) and calls its Handler with what
// it reads; Conn.Write never blocks (what the kernel does not take waits in
// the Conn, bounded); Conn.Close closes; Loop.Close closes everything.
// Connections that are not plain TCP (crypto/tls) are served in blocking
// mode: a reading goroutine each, and writes with a deadline.
//
// Concurrency: Handler.OnData runs on a loop's goroutine, one call at a
// time per connection and in order; it must not block (hand work to other
// goroutines). OnClose runs once per connection, after its descriptor is
// closed. Write, Close and Unsent may be called from any goroutine.
//
// Descriptors are closed only by the loop that polls them, while it handles
// that descriptor's own event (Close and write errors shut the socket down,
// which the loop sees as a hang-up), and every registration carries a
// generation number that the loop checks: an event that was pending for a
// closed connection can never act on a new connection that got the same
// descriptor number. (A library that closes descriptors from any goroutine
// applies such stale hang-up events to the new connection.)
package evloop

import (
	"errors"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Errors a Conn reports (OnClose's err, Write's error).
var (
	// ErrOverflow: more than Config.MaxWriteBuffer bytes waited for the
	// kernel (the peer does not read).
	ErrOverflow = errors.New("evloop: write buffer overflow")
	// ErrWriteTimeout: bytes waited for the kernel longer than
	// Config.WriteTimeout.
	ErrWriteTimeout = errors.New("evloop: write timeout")
	// ErrLoopClosed: the Loop was closed.
	ErrLoopClosed = errors.New("evloop: loop closed")
)

// Config configures a Loop. Zero values mean the defaults.
type Config struct {
	// Pollers is the number of event loop goroutines (default: one per
	// four of GOMAXPROCS, at least one).
	Pollers int
	// ReadBuffer is the most bytes one read takes; each poller has one
	// such buffer (default 64 KiB).
	ReadBuffer int
	// MaxWriteBuffer bounds the bytes a connection holds that the kernel
	// did not take yet (default 4 MiB); past it Write fails with
	// ErrOverflow and the connection is closed.
	MaxWriteBuffer int
	// WriteTimeout bounds how long such bytes may wait (default 10s); then
	// the connection is closed with ErrWriteTimeout. In blocking mode it is
	// every write's deadline.
	WriteTimeout time.Duration
	// Logger receives the loop's own errors (default: discard).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Pollers <= 0 {
		c.Pollers = max(1, runtime.GOMAXPROCS(0)/4)
	}
	if c.ReadBuffer <= 0 {
		c.ReadBuffer = 64 << 10
	}
	if c.MaxWriteBuffer <= 0 {
		c.MaxWriteBuffer = 4 << 20
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Handler receives a connection's events.
type Handler interface {
	// OnData is called with bytes read from the connection, in order, one
	// call at a time, on the loop's goroutine (blocking mode: the
	// connection's reading goroutine). b is only valid during the call
	// (the handler may modify it). It must not block.
	OnData(c *Conn, b []byte)
	// OnClose is called once, after the connection was closed, with why:
	// nil when it was closed by Close, io.EOF when the peer closed it,
	// ErrOverflow, ErrWriteTimeout, ErrLoopClosed or an I/O error.
	OnClose(c *Conn, err error)
}

// Conn state.
const (
	stateNew     uint8 = iota // not added yet: writes fail, a close is remembered
	stateOpen                 // served by a loop
	stateClosing              // shut down, waiting for its loop to close it
	stateClosed
)

// Conn is a connection served by a Loop. Its methods are safe for
// concurrent use.
type Conn struct {
	p   *poller
	h   Handler
	fd  int32
	gen uint32

	mu    sync.Mutex
	state uint8
	out   []byte      // bytes the kernel did not take yet
	timer *time.Timer // write timeout, while out is not empty
	err   error       // why it closes
	bl    *blocking   // blocking mode only (blocking.go)
	// closeWhenSent: close once out is written (CloseWhenSent).
	closeWhenSent bool
}

// pollersStarted counts the pollers of every Loop of the process.
var pollersStarted atomic.Int32

// Loop is a set of event loops (pollers).
type Loop struct {
	cfg     Config
	pollers []*poller
	next    atomic.Uint32
	gen     atomic.Uint32
	table   table // connections by descriptor
	wg      sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	blocking map[*Conn]struct{} // blocking-mode connections, for Close
}

// New starts a Loop.
func New(cfg Config) (*Loop, error) {
	cfg.setDefaults()
	l := &Loop{cfg: cfg, blocking: make(map[*Conn]struct{})}
	// Every loop of the process counts: the pollers of all of them wait
	// in epoll_wait.
	reserveProcs(int(pollersStarted.Add(int32(cfg.Pollers))), cfg.Logger)
	for i := range cfg.Pollers {
		p, err := newPoller(l, i)
		if err != nil {
			for _, q := range l.pollers {
				q.stop()
			}
			l.wg.Wait()
			return nil, err
		}
		l.pollers = append(l.pollers, p)
	}
	return l, nil
}

// Add takes over nc and serves it with h: a *net.TCPConn (or a Handover
// around one) moves onto an event loop (nc itself is closed; the Conn
// keeps a duplicate of its descriptor); anything else (a *tls.Conn) is
// served in blocking mode.
// Nothing must have been read from nc that h has not seen. On error nc is
// closed and h is not called.
func (l *Loop) Add(nc net.Conn, h Handler) (*Conn, error) {
	c := &Conn{h: h}
	if err := l.AddConn(nc, c); err != nil {
		return nil, err
	}
	return c, nil
}

// Handover is implemented by a net.Conn that wraps a TCP connection (one
// handed to net/http with the bytes already read of it, and hijacked
// since): Add and AddConn serve the TCP connection itself on a poller when
// Handover reports that the wrapper holds no byte its reader has not
// taken; otherwise the wrapper is served in blocking mode, as any other
// net.Conn. The wrapper is not used again once it handed over.
type Handover interface {
	Handover() (tc *net.TCPConn, ok bool)
}

// AddConn is Add with a Conn of the caller's (a zero Conn, typically
// embedded in the caller's per-connection struct, saving an allocation,
// with its handler set by SetHandler). Until AddConn has returned, Write
// fails and Close is remembered: AddConn then closes nc and fails.
func (l *Loop) AddConn(nc net.Conn, c *Conn) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateNew {
		nc.Close()
		return c.closedErrLocked()
	}
	return l.addConn(nc, c)
}

// SetHandler sets the handler of a Conn given to AddConn, before AddConn.
func (c *Conn) SetHandler(h Handler) { c.h = h }

// nextGen returns a connection's generation: never 0, which marks
// listeners' events.
func (l *Loop) nextGen() uint32 {
	for {
		if g := l.gen.Add(1); g != 0 {
			return g
		}
	}
}

// Close closes every connection (OnClose gets ErrLoopClosed, or the
// reason a connection was already closing with) and stops the loops,
// waiting for their goroutines. Connections added afterwards are refused.
func (l *Loop) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	var blocking []*Conn
	for c := range l.blocking {
		blocking = append(blocking, c)
	}
	l.mu.Unlock()
	for _, c := range blocking {
		c.closeWith(ErrLoopClosed)
	}
	for _, p := range l.pollers {
		p.stop()
	}
	l.wg.Wait() // the pollers, and the blocking readers' OnClose calls
	for _, p := range l.pollers {
		p.closeAll()
	}
	pollersStarted.Add(-int32(len(l.pollers)))
}

// Write writes b, or the part of it the kernel does not take at once is
// kept and written when the socket can take more. It never blocks (in
// blocking mode it blocks for at most Config.WriteTimeout). It fails when
// the connection is closed or closing, or breaks the bounds (the
// connection then closes with that error). The caller may reuse b.
func (c *Conn) Write(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen {
		return c.closedErrLocked()
	}
	if c.bl != nil {
		return c.writeBlockingLocked(b)
	}
	if len(b) == 0 {
		return nil
	}
	if len(c.out) > 0 {
		if len(c.out)+len(b) > c.p.l.cfg.MaxWriteBuffer {
			c.shutdownLocked(ErrOverflow)
			return ErrOverflow
		}
		c.out = append(c.out, b...)
		return nil
	}
	n, err := writeFD(c.fd, b)
	if err != nil {
		c.shutdownLocked(err)
		return err
	}
	if n == len(b) {
		return nil
	}
	rest := b[n:]
	if len(rest) > c.p.l.cfg.MaxWriteBuffer {
		c.shutdownLocked(ErrOverflow)
		return ErrOverflow
	}
	c.out = append(make([]byte, 0, max(len(rest), 4096)), rest...)
	if err := c.p.watchWrite(c, true); err != nil {
		c.shutdownLocked(err)
		return err
	}
	c.timer = time.AfterFunc(c.p.l.cfg.WriteTimeout, c.writeTimedOut)
	return nil
}

func (c *Conn) writeTimedOut() {
	c.mu.Lock()
	if c.state == stateOpen && len(c.out) > 0 {
		c.shutdownLocked(ErrWriteTimeout)
	}
	c.mu.Unlock()
}

// closedErrLocked is what Write returns once the connection is closing.
func (c *Conn) closedErrLocked() error {
	if c.err != nil {
		return c.err
	}
	return net.ErrClosed
}

// Close closes the connection; OnClose follows (with nil, or the error
// that was already closing it). Bytes waiting for the kernel are dropped.
func (c *Conn) Close() error {
	c.closeWith(nil)
	return nil
}

// CloseWhenSent closes the connection once the bytes it holds are written
// (a goodbye after what preceded it), at once if none wait; the write
// timeout still bounds the wait. OnClose follows with nil.
func (c *Conn) CloseWhenSent() {
	c.mu.Lock()
	if c.state == stateOpen && c.bl == nil && len(c.out) > 0 {
		c.closeWhenSent = true
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.closeWith(nil)
}

// CloseWithError closes the connection; OnClose gets err.
func (c *Conn) CloseWithError(err error) { c.closeWith(err) }

func (c *Conn) closeWith(err error) {
	c.mu.Lock()
	switch {
	case c.state == stateNew:
		c.state = stateClosing
		c.err = err
	case c.bl != nil:
		c.closeBlockingLocked(err)
	default:
		c.shutdownLocked(err)
	}
	c.mu.Unlock()
}

// Unsent returns the bytes written to the connection that the peer has not
// received yet: held here, and for TCP held by the kernel unsent (the
// peer's window is full because it does not read). One ioctl.
func (c *Conn) Unsent() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen || c.bl != nil {
		return 0
	}
	return len(c.out) + kernelUnsent(c.fd)
}
