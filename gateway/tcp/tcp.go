// Package tcp is Banter's raw TCP gateway: newline-delimited JSON commands
// and events (the JSON framing of package proto1, one object per line), or
// plain text lines for humans (`nc localhost 4000`: /nick, /join, text).
// docs/protocol.md, "TCP", is the contract.
//
// # Entry points
//
// New(svc, cfg) returns a Gateway; Serve(ln) accepts connections until
// Close; Close stops accepting, closes every connection and waits for them.
//
// # Concurrency
//
// Connections live on an event loop (internal/evloop): no goroutine and
// no buffer per idle connection. The loop reads; complete lines go, in
// order, to the connection's commands, run one at a time on a goroutine
// that exists while there are lines to run. What the server sends is
// queued (a conns.Queue bounded in bytes; chat's Deliver only queues) and
// written by a few shared flush workers, everything queued for a
// connection in one write. A client whose queue overflows is closed (it
// reconnects and catches up); typing is dropped instead. One sweeper per
// gateway sends JSON-mode pings and closes idle connections.
package tcp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/internal/conns"
	"github.com/banter-chat/banter/gateway/proto1"
	"github.com/banter-chat/banter/internal/evloop"
)

// Config configures a Gateway. The zero value of every field means its
// default.
type Config struct {
	// Logger receives operational logs. Default: discard.
	Logger *slog.Logger
	// Protocol configures the command side (call timeout, request
	// bucket); its Logger defaults to this Config's.
	Protocol proto1.Config
	// Limits are the connections' queue bound, write timeout, and, in JSON
	// mode, heartbeat and idle timeout.
	Limits proto1.FrameLimits
	// TextIdleTimeout is the same for text mode, where a human types (and
	// gets no pings to answer). Default 30m.
	TextIdleTimeout time.Duration
	// Admit, when set, is asked about every connection accepted (by its
	// remote address): an error refuses it, with the line Refusal gives
	// it (nil: none); release is called once when the connection ends.
	Admit   func(remote string) (release func(), err error)
	Refusal func(err error) []byte
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
	hub   *conns.Hub[*conn] // the loop, flush workers, open connections, counters
}

// New returns a Gateway serving svc.
func New(svc *chat.Service, cfg Config) *Gateway {
	cfg = cfg.withDefaults()
	return &Gateway{cfg: cfg, log: cfg.Logger, proto: proto1.NewServer(svc, cfg.Protocol),
		hub: conns.NewHub(cfg.Logger, cfg.Limits.MaxBufferedBytes, cfg.Limits.WriteTimeout, (*conn).tick)}
}

// Serve accepts connections on ln until Close (then it returns ErrClosed)
// or until ln fails. A *net.TCPListener is taken over by the event loop
// (ln itself is closed; Serve returns when the gateway closes); any other
// listener is accepted from here and its connections handed to the loop.
func (g *Gateway) Serve(ln net.Listener) error {
	loop, err := g.hub.Loop()
	if err != nil {
		ln.Close()
		return ErrClosed
	}
	if tl, ok := ln.(*net.TCPListener); ok {
		_ = setKeepAlive(tl) // text mode has no pings: the kernel finds dead peers
		els, err := loop.Listen(tl, func(remote net.Addr) (*evloop.Conn, evloop.Handler) {
			c := g.accept(remote.String(), nil)
			if c == nil {
				return nil, nil
			}
			return &c.Conn, c
		})
		if err == nil {
			if !g.hub.Track(els, true) {
				els.Close()
				return ErrClosed
			}
			<-g.hub.Done() // served by the loop until Close
			return ErrClosed
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			return err
		}
		return errors.New("tcp: the event loop cannot take the listener")
	}
	return g.serveAccept(loop, ln)
}

// serveAccept accepts from ln and hands each connection to the loop.
func (g *Gateway) serveAccept(loop *evloop.Loop, ln net.Listener) error {
	if !g.hub.Track(ln, true) {
		ln.Close()
		return ErrClosed
	}
	defer func() {
		g.hub.Track(ln, false)
		ln.Close()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if g.hub.IsClosed() {
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
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetKeepAlive(true)
		}
		c := g.accept(nc.RemoteAddr().String(), nc)
		if c == nil {
			continue
		}
		if err := loop.AddConn(nc, &c.Conn); err != nil {
			g.ended(c, "not served: "+err.Error())
		}
	}
}

// accept admits a new connection (nc: accepted here; nil: on the loop,
// where a refusal is written once the connection is on it). It returns its
// conn, or nil when refused.
func (g *Gateway) accept(remote string, nc net.Conn) *conn {
	release := func() {}
	var refusal []byte
	if g.cfg.Admit != nil {
		rel, err := g.cfg.Admit(remote)
		if err != nil {
			if g.cfg.Refusal != nil {
				refusal = g.cfg.Refusal(err)
			}
			if nc != nil {
				_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = nc.Write(append(refusal, '\n'))
				nc.Close()
				return nil
			}
		} else {
			release = rel
		}
	}
	c := newConn(g, remote, release)
	if refusal != nil { // on the loop: say why once it is there, then close
		c.refused = append(refusal, '\n')
		return c
	}
	if !g.hub.Open.Add(c, 1) { // Close waits for its end
		release()
		return nil
	}
	g.hub.Stats.Opened()
	g.log.Debug("tcp: connection opened", "remote", remote)
	return c
}

// Close stops accepting, says bye (reason shutdown) to every connection,
// closes them and waits for them to end, or for ctx.
func (g *Gateway) Close(ctx context.Context) error {
	return g.hub.Close(ctx, func(c *conn) { c.bye(string(chat.ReasonShutdown)) })
}

// mode is what a connection speaks; its first line decides.
type mode int32

const (
	modeUnknown mode = iota
	modeJSON
	modeText
)

// conn is one TCP connection on the event loop; it is the
// proto1.Transport and the loop's Handler.
type conn struct {
	evloop.Conn
	g       *Gateway
	proto   *proto1.JSONConn
	remote  string
	release func()
	refused []byte // a refusal to write before closing (not admitted)
	out     conns.Queue

	mode atomic.Int32
	live conns.Liveness

	partial []byte               // an incomplete line (the loop's goroutine only)
	lines   conns.Serial[[]byte] // run one at a time, in order

	// Text mode state, used by the command goroutine only.
	room string
}

func newConn(g *Gateway, remote string, release func()) *conn {
	c := &conn{g: g, remote: remote, release: release}
	c.out.Max = g.cfg.Limits.MaxBufferedBytes
	c.proto = g.proto.NewJSONConn(c)
	c.live.Start(time.Now())
	c.SetHandler(c)
	return c
}

// Send implements proto1.Transport.
func (c *conn) Send(frame []byte, lossy bool) {
	c.g.hub.Send(c, &c.out, c.Unsent(), frame, lossy)
}

// Close implements proto1.Transport: the connection closes once what is
// queued is written.
func (c *conn) Close(string) {
	c.g.hub.CloseQueue(c, &c.out)
}

var newline = []byte{'\n'}

// Flush writes what is queued, each frame a line, in one write per batch
// (conns.Flushable, on a flush worker). Past MaxBufferedBytes unsent (the
// client does not read) it is closed as a slow consumer, with a goodbye
// that says so if the client takes it within the write timeout.
func (c *conn) Flush() {
	var buf []byte
	for {
		frames, closed, overflow, done := c.out.Take()
		if done {
			return
		}
		buf = buf[:0]
		for _, f := range frames {
			buf = append(buf, f...)
			buf = append(buf, newline...)
		}
		if !overflow && c.Unsent()+len(buf) > c.g.cfg.Limits.MaxBufferedBytes {
			overflow = true
			c.out.Overflow(&c.g.hub.Stats)
		}
		if overflow {
			c.g.log.Info("tcp: slow consumer closed", "remote", c.remote)
			// What was queued is dropped; the goodbye fits in the loop's
			// headroom (eventLoop).
			_ = c.Write(append(c.byeFrame("slow_consumer"), '\n'))
			c.CloseWhenSent()
			return
		}
		if err := c.Write(buf); err != nil {
			c.Conn.Close()
			return
		}
		if closed {
			c.CloseWhenSent()
			return
		}
	}
}

func (c *conn) getMode() mode { return mode(c.mode.Load()) }

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

// OnOpen writes the refusal of a connection that was not admitted, and
// closes it (evloop.Opener).
func (c *conn) OnOpen(*evloop.Conn) {
	if c.refused != nil {
		_ = c.Write(c.refused)
		c.Conn.Close()
	}
}

// OnData splits what the loop read into lines (evloop.Handler).
func (c *conn) OnData(_ *evloop.Conn, b []byte) {
	if c.refused != nil {
		return // closing
	}
	c.live.Read(time.Now())
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(c.partial)+len(b) > proto1.MaxFrameBytes {
				c.partial = nil
				c.dispatch(nil) // too long: the protocol error, in order
				return
			}
			c.partial = append(c.partial, b...)
			return
		}
		line := b[:i]
		if len(c.partial) > 0 {
			line = append(c.partial, line...)
			c.partial = nil
		} else {
			line = bytes.Clone(line)
		}
		b = b[i+1:]
		if len(line) > proto1.MaxFrameBytes {
			c.dispatch(nil)
			return
		}
		c.dispatch(line)
	}
}

// OnClose ends the connection after the lines it sent (evloop.Handler).
func (c *conn) OnClose(_ *evloop.Conn, err error) {
	if c.refused != nil { // not admitted: never counted
		return
	}
	if err == nil {
		err = io.EOF
	}
	if c.lines.End(err) {
		go c.run()
	}
}

// dispatch queues a line (nil: a line too long) for the command goroutine.
func (c *conn) dispatch(line []byte) {
	if c.lines.Push(line) {
		go c.run()
	}
}

func (c *conn) run() {
	c.lines.Run(c.handleLine, func(err error) { c.g.ended(c, conns.CloseReason(err)) })
}

// ended ends a connection's session and forgets it.
func (g *Gateway) ended(c *conn, reason string) {
	c.proto.End("tcp: " + reason)
	c.release()
	g.hub.Forget(c)
	g.log.Debug("tcp: connection closed", "remote", c.remote, "reason", reason)
}

// handleLine runs one line (nil: a line over the limit).
func (c *conn) handleLine(line []byte) {
	if line == nil {
		c.protocolError("line longer than the limit")
		return
	}
	line = bytes.TrimRight(line, "\r")
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	m := c.getMode()
	if m == modeUnknown {
		m = modeText
		if bytes.TrimSpace(line)[0] == '{' {
			m = modeJSON
		}
		c.mode.Store(int32(m))
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

// tick runs on the sweeper: pings (JSON mode) and idle timeouts.
func (c *conn) tick(now time.Time) {
	idle, ping := c.g.cfg.Limits.IdleTimeout, c.g.cfg.Limits.PingInterval
	if c.getMode() != modeJSON {
		ping = 0
		if c.getMode() == modeText {
			idle = c.g.cfg.TextIdleTimeout
		}
	}
	switch timedOut, due := c.live.Check(now, idle, ping); {
	case timedOut:
		c.bye("idle_timeout")
	case due:
		c.Send(proto1.Ping, true)
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

// setKeepAlive turns TCP keepalive on for the listener: accepted sockets
// inherit it.
func setKeepAlive(tl *net.TCPListener) error {
	rc, err := tl.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
	})
	return errors.Join(err, serr)
}
