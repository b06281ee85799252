// Package tcp is Banter's raw TCP gateway: newline-delimited JSON commands
// and events (the JSON framing of package proto1, one object per line), or
// plain text lines for humans (`nc localhost 4000`: /nick, /join, text).
// docs/protocol.md, "TCP", is the contract.
//
// # Entry points
//
// New(svc, cfg) returns a Gateway; Serve(ln) accepts connections until
// Close; Close stops accepting, closes every connection and waits for its
// goroutines.
//
// # Concurrency
//
// Each connection has a reader goroutine (running its commands one at a
// time) and a writer goroutine draining an conns.Outbox bounded in
// bytes; chat delivers into the outbox without blocking. A client whose
// outbox overflows is closed (it reconnects and catches up); typing is
// dropped instead. Every goroutine is counted and Close waits for all.
package tcp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/internal/conns"
	"github.com/banter-chat/banter/gateway/proto1"
)

// Config configures a Gateway. The zero value of every field means its
// default.
type Config struct {
	// Logger receives operational logs. Default: discard.
	Logger *slog.Logger
	// Protocol configures the command side (call timeout, request
	// bucket); its Logger defaults to this Config's.
	Protocol proto1.Config
	// Limits are the connections' queue bound, write timeout (one flush),
	// and, in JSON mode, heartbeat and idle timeout.
	Limits proto1.FrameLimits
	// TextIdleTimeout is the same for text mode, where a human types (and
	// gets no pings to answer). Default 30m.
	TextIdleTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Protocol = c.Protocol.Inherit(c.Logger, nil)
	c.Limits = c.Limits.WithDefaults()
	if c.TextIdleTimeout <= 0 {
		c.TextIdleTimeout = 30 * time.Minute
	}
	return c
}

// ErrClosed is returned by Serve after Close.
var ErrClosed = errors.New("tcp: gateway closed")

// Gateway serves the line protocol on TCP listeners.
type Gateway struct {
	cfg   Config
	log   *slog.Logger
	proto *proto1.Server

	mu     sync.Mutex
	closed bool
	lns    map[net.Listener]struct{}
	open   conns.Set[*conn]

	stats conns.Counters // stats.go
}

// New returns a Gateway serving svc.
func New(svc *chat.Service, cfg Config) *Gateway {
	cfg = cfg.withDefaults()
	return &Gateway{cfg: cfg, log: cfg.Logger, proto: proto1.NewServer(svc, cfg.Protocol),
		lns: make(map[net.Listener]struct{})}
}

// Serve accepts connections on ln until Close (then it returns ErrClosed)
// or until ln fails. ln is closed when Serve returns.
func (g *Gateway) Serve(ln net.Listener) error {
	if !g.listening(ln, true) {
		ln.Close()
		return ErrClosed
	}
	defer func() {
		g.listening(ln, false)
		ln.Close()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			g.mu.Lock()
			closed := g.closed
			g.mu.Unlock()
			if closed {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				// Out of file descriptors (capped at 20,000 here): wait, as
				// net/http does, instead of failing the listener.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				g.log.Warn("tcp: accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		g.start(nc)
	}
}

// listening records that Serve accepts on ln (or no longer does); it
// reports false once the gateway is closed.
func (g *Gateway) listening(ln net.Listener, on bool) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !on {
		delete(g.lns, ln)
		return true
	}
	if g.closed {
		return false
	}
	g.lns[ln] = struct{}{}
	return true
}

func (g *Gateway) start(nc net.Conn) {
	c := newConn(g, nc)
	if !g.open.Add(c, 2) { // its reader and writer
		nc.Close()
		return
	}
	g.stats.Opened()
	g.log.Debug("tcp: connection opened", "remote", nc.RemoteAddr().String())
	raw := nc
	if w, ok := nc.(interface{ NetConn() net.Conn }); ok {
		raw = w.NetConn() // a wrapping listener's connection (app's guard)
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetKeepAlive(true) // text mode has no pings: let the kernel find dead peers
	}
	go func() {
		defer g.open.Leave()
		c.writeLoop()
	}()
	go func() {
		defer g.open.Leave()
		defer g.stats.Closed()
		c.serve()
		g.open.Remove(c)
	}()
}

// Close stops accepting, says bye (reason shutdown) to every connection,
// closes them and waits for their goroutines, or for ctx.
func (g *Gateway) Close(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true
	for ln := range g.lns {
		ln.Close()
	}
	g.mu.Unlock()
	open := g.open.Close()
	for _, c := range open {
		c.bye(string(chat.ReasonShutdown))
	}
	err := g.open.Wait(ctx)
	if err != nil {
		for _, c := range open {
			c.nc.Close()
		}
	}
	return err
}

// mode is what a connection speaks; its first line decides.
type mode int

const (
	modeUnknown mode = iota
	modeJSON
	modeText
)

// conn is one TCP connection; it is the proto1.Transport.
type conn struct {
	g     *Gateway
	nc    net.Conn
	out   *conns.Outbox
	proto *proto1.JSONConn
	done  chan struct{} // closed when the reader ends

	mu   sync.Mutex
	mode mode

	// Text mode state, used by the reader only.
	room string
}

func newConn(g *Gateway, nc net.Conn) *conn {
	c := &conn{g: g, nc: nc, out: conns.NewOutbox(g.cfg.Limits.MaxBufferedBytes, &g.stats), done: make(chan struct{})}
	c.proto = g.proto.NewJSONConn(c)
	return c
}

// Send implements proto1.Transport.
func (c *conn) Send(frame []byte, lossy bool) { c.out.Push(frame, lossy) }

// Close implements proto1.Transport: the writer closes the connection
// once what is queued is written.
func (c *conn) Close(string) { c.out.Close() }

func (c *conn) getMode() mode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mode
}

// bye says goodbye in the connection's language and closes it.
func (c *conn) bye(reason string) {
	c.Send(c.byeFrame(reason), false)
	c.Close(reason)
}

// byeFrame is "bye" with reason in the connection's language.
func (c *conn) byeFrame(reason string) []byte {
	if c.getMode() == modeText {
		return textBye(reason)
	}
	return proto1.EncodeBye(&chat.Disconnect{Reason: chat.DisconnectReason(reason)})
}

func (c *conn) serve() {
	reason := c.readLoop()
	close(c.done)
	c.out.Close()
	c.proto.End("tcp: " + reason)
	c.g.log.Debug("tcp: connection closed", "remote", c.nc.RemoteAddr().String(), "reason", reason)
}

func (c *conn) readLoop() string {
	sc := bufio.NewScanner(c.nc)
	sc.Buffer(make([]byte, 0, 4096), proto1.MaxFrameBytes)
	for {
		idle := c.g.cfg.Limits.IdleTimeout
		if c.getMode() == modeText {
			idle = c.g.cfg.TextIdleTimeout
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(idle))
		if !sc.Scan() {
			err := sc.Err()
			var ne net.Error
			switch {
			case err == nil:
				return "client closed"
			case errors.Is(err, bufio.ErrTooLong):
				c.protocolError("line longer than the limit")
				return "line too long"
			case errors.As(err, &ne) && ne.Timeout():
				c.bye("idle_timeout")
				return "idle timeout"
			}
			return "read error"
		}
		line := bytes.TrimRight(sc.Bytes(), "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		m := c.getMode()
		if m == modeUnknown {
			m = modeText
			if bytes.TrimSpace(line)[0] == '{' {
				m = modeJSON
			}
			c.mu.Lock()
			c.mode = m
			c.mu.Unlock()
			if m == modeText {
				c.proto.SetFormat(textFormat)
			}
		}
		if m == modeJSON {
			c.proto.HandleFrame(line)
		} else {
			c.textLine(string(line))
		}
	}
}

func (c *conn) protocolError(msg string) {
	if c.getMode() == modeText {
		c.line("! " + msg)
	} else {
		c.Send(proto1.EncodeError(chat.Errorf(chat.CodeInvalidArgument, "%s", msg), ""), false)
	}
	c.bye("protocol_error")
}

var newline = []byte{'\n'}

// writeLoop writes queued lines (and JSON-mode pings) until the connection
// ends; frames are shared between connections, so the newline is written
// separately (into the same buffered flush).
func (c *conn) writeLoop() {
	defer c.nc.Close()
	bw := bufio.NewWriterSize(c.nc, 4096)
	ping := time.NewTicker(c.g.cfg.Limits.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-c.done:
			// The reader ended: write what is left (a bye), then close.
			frames, _, _ := c.out.Take()
			c.flush(bw, frames)
			return
		case <-ping.C:
			if c.getMode() == modeJSON {
				c.out.Push(proto1.Ping, true)
			}
			continue
		case <-c.out.Wake():
		}
		frames, closed, overflow := c.out.Take()
		if overflow {
			c.g.log.Info("tcp: slow consumer closed", "remote", c.nc.RemoteAddr().String())
			// The queued lines are gone; the goodbye still says why (as /ws
			// and SSE do), if the client takes it within the write timeout.
			_ = c.flush(bw, [][]byte{c.byeFrame("slow_consumer")})
			return
		}
		if err := c.flush(bw, frames); err != nil || closed {
			return
		}
	}
}

func (c *conn) flush(bw *bufio.Writer, frames [][]byte) error {
	if len(frames) == 0 {
		return nil
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.g.cfg.Limits.WriteTimeout))
	for _, f := range frames {
		bw.Write(f)
		bw.Write(newline)
	}
	return bw.Flush()
}
