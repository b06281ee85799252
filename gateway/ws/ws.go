// Package ws is Banter's plain WebSocket gateway: JSON text frames at /ws
// for clients that want no Socket.IO framing (docs/protocol.md, "Plain
// WebSocket"; the commands and the JSON framing are package proto1, shared
// with the other gateways).
//
// # Entry points
//
// New(svc, cfg) returns a Gateway, an http.Handler to mount at /ws. Close
// refuses new connections, closes the open ones and waits for them
// (hijacked connections are not waited for by http.Server.Shutdown).
//
// # Concurrency
//
// A connection is upgraded on its HTTP handler's goroutine, then lives on
// an event loop (internal/evloop): no goroutine and no buffer per idle
// connection. The loop parses the client's frames (internal/wsframe, RFC
// 6455: a broken frame closes with the RFC's status); its commands run one
// at a time, in order, on a goroutine that exists while there are commands
// to run. What the server sends is queued (a conns.Queue bounded in bytes;
// chat's Deliver only queues) and written by shared flush workers,
// everything queued for a connection in one write. A client that does not
// read is closed with status 1013 "slow consumer" (it reconnects and
// catches up with since); typing is dropped instead. One sweeper per
// gateway sends pings and closes idle connections.
package ws

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/internal/conns"
	"github.com/banter-chat/banter/gateway/proto1"
	"github.com/banter-chat/banter/internal/evloop"
	"github.com/banter-chat/banter/internal/wsframe"
)

// Config configures a Gateway. The zero value of every field means its
// default.
type Config struct {
	// OriginPatterns lists the browser origins (host patterns, as
	// path.Match: "chat.example.com", "*.example.com") allowed besides the
	// same origin; "*" allows any. Native clients send no Origin and are
	// always allowed.
	OriginPatterns []string
	// Limits are the connections' queue bound, write timeout, heartbeat
	// and idle timeout.
	Limits proto1.FrameLimits
	// Logger receives operational logs. Default: discard.
	Logger *slog.Logger
	// Protocol configures the command side (call timeout, request
	// bucket); its Logger defaults to this Config's.
	Protocol proto1.Config
	// Admit, when set, is asked about every upgrade (by the client's
	// address): an error refuses it with the status Refused gives (default
	// 503); release is called once when the connection ends.
	Admit   func(remote string) (release func(), err error)
	Refused func(w http.ResponseWriter, err error)
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Protocol = c.Protocol.Inherit(c.Logger, nil)
	c.Limits = c.Limits.WithDefaults()
	return c
}

// Gateway serves /ws.
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

// ServeHTTP upgrades the request and hands the connection to the loop.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	accept, status := checkUpgrade(r)
	if status != 0 {
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, http.StatusText(status), status)
		return
	}
	if !g.originAllowed(r) {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	loop, err := g.hub.Loop()
	if err != nil {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	release := func() {}
	if g.cfg.Admit != nil {
		rel, err := g.cfg.Admit(r.RemoteAddr)
		if err != nil {
			if g.cfg.Refused != nil {
				g.cfg.Refused(w, err)
			} else {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
			}
			return
		}
		release = rel
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		release()
		http.Error(w, "websocket needs HTTP/1.1", http.StatusInternalServerError)
		return
	}
	nc, rw, err := hj.Hijack()
	if err != nil {
		release()
		g.log.Debug("ws: hijack failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	if rw.Reader.Buffered() > 0 { // bytes before our 101: no client does that
		release()
		nc.Close()
		return
	}
	c := newConn(g, r.RemoteAddr, release)
	if !g.hub.Open.Add(c, 1) { // Close waits for its end
		release()
		writeRaw(nc, "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
		nc.Close()
		return
	}
	g.hub.Stats.Opened()
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n"
	if err := writeRaw(nc, resp); err != nil {
		nc.Close()
		g.ended(c, "upgrade failed")
		return
	}
	if err := loop.AddConn(nc, &c.Conn); err != nil {
		g.ended(c, "not served: "+err.Error())
		return
	}
	g.log.Debug("ws: connection opened", "remote", r.RemoteAddr)
}

func writeRaw(nc net.Conn, s string) error {
	_ = nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := io.WriteString(nc, s)
	_ = nc.SetWriteDeadline(time.Time{})
	return err
}

// checkUpgrade checks a WebSocket handshake (RFC 6455 4.2.1) and returns
// the Sec-WebSocket-Accept value, or the HTTP status refusing it.
func checkUpgrade(r *http.Request) (accept string, status int) {
	switch {
	case r.Method != http.MethodGet:
		return "", http.StatusMethodNotAllowed
	case !headerHasToken(r.Header, "Connection", "upgrade"), !headerHasToken(r.Header, "Upgrade", "websocket"),
		!headerHasToken(r.Header, "Sec-WebSocket-Version", "13"):
		return "", http.StatusBadRequest
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if !wsframe.ValidKey(key) {
		return "", http.StatusBadRequest
	}
	return wsframe.AcceptKey(key), 0
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// originAllowed: no Origin (a native client), the same host, or a host
// matching one of Config.OriginPatterns.
func (g *Gateway) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, p := range g.cfg.OriginPatterns {
		if p == "*" {
			return true
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(u.Host)); ok {
			return true
		}
	}
	return false
}

// Close refuses new connections, closes the open ones (with "bye" reason
// shutdown if chat has not said it already) and waits for them, or for ctx.
func (g *Gateway) Close(ctx context.Context) error {
	return g.hub.Close(ctx, func(c *conn) {
		c.Send(proto1.EncodeBye(&chat.Disconnect{Reason: chat.ReasonShutdown}), false)
		c.Close(string(chat.ReasonShutdown))
	})
}

// ended ends a connection's session and forgets it.
func (g *Gateway) ended(c *conn, reason string) {
	c.proto.End("ws: " + reason)
	c.release()
	g.hub.Forget(c)
	g.log.Debug("ws: connection closed", "remote", c.remote, "reason", reason)
}

// conn is one WebSocket connection on the loop; it is the
// proto1.Transport and the loop's Handler.
type conn struct {
	evloop.Conn
	g       *Gateway
	proto   *proto1.JSONConn
	remote  string
	release func()
	out     conns.Queue
	parser  wsframe.Parser // the loop's goroutine only

	live   conns.Liveness
	code   atomic.Int32 // the close status the flush sends (0: by reason)
	reason atomic.Pointer[string]

	frames conns.Serial[[]byte] // the client's text frames (nil: a binary one)
}

func newConn(g *Gateway, remote string, release func()) *conn {
	c := &conn{g: g, remote: remote, release: release}
	c.out.Max = g.cfg.Limits.MaxBufferedBytes
	c.parser.MaxMessage = proto1.MaxFrameBytes
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
// queued is written, with status 1001 (going away), or 1000 when the
// session was replaced.
func (c *conn) Close(reason string) {
	c.reason.CompareAndSwap(nil, &reason)
	c.g.hub.CloseQueue(c, &c.out)
}

// closeWith sends a close frame with code and closes once it is written.
func (c *conn) closeWith(code int, reason string) {
	_ = c.Write(wsframe.AppendClose(nil, code, reason))
	c.CloseWhenSent()
}

// Flush writes what is queued, each frame a WebSocket text frame, in one
// write per batch (conns.Flushable, on a flush worker).
func (c *conn) Flush() {
	var buf []byte
	for {
		frames, closed, overflow, done := c.out.Take()
		if done {
			return
		}
		buf = buf[:0]
		for _, f := range frames {
			buf = wsframe.AppendFrame(buf, wsframe.OpText, f)
		}
		if !overflow && c.Unsent()+len(buf) > c.g.cfg.Limits.MaxBufferedBytes {
			overflow = true
			c.out.Overflow(&c.g.hub.Stats)
		}
		if overflow {
			c.g.log.Info("ws: slow consumer closed", "remote", c.remote)
			c.closeWith(wsframe.CloseTryAgainLater, "slow consumer")
			return
		}
		if err := c.Write(buf); err != nil {
			c.Conn.Close()
			return
		}
		if closed {
			code, reason := wsframe.CloseGoingAway, ""
			if r := c.reason.Load(); r != nil {
				reason = *r
			}
			if reason == string(chat.ReasonReplaced) {
				code = wsframe.CloseNormal
			}
			if cc := c.code.Load(); cc != 0 {
				code = int(cc)
			}
			c.closeWith(code, reason)
			return
		}
	}
}

// OnData parses the client's frames (evloop.Handler).
func (c *conn) OnData(_ *evloop.Conn, b []byte) {
	c.live.Read(time.Now())
	if err := c.parser.Feed(b, c.onFrame); err != nil {
		code := wsframe.CloseProtocolError
		var pe *wsframe.ProtocolError
		if errors.As(err, &pe) {
			code = pe.Code
		}
		c.g.log.Debug("ws: protocol error", "remote", c.remote, "err", err)
		c.closeWith(code, "")
	}
}

func (c *conn) onFrame(op wsframe.Opcode, payload []byte) error {
	switch op {
	case wsframe.OpPing:
		_ = c.Write(wsframe.AppendFrame(nil, wsframe.OpPong, payload))
	case wsframe.OpPong:
	case wsframe.OpClose:
		code := wsframe.CloseCode(payload)
		if code == wsframe.CloseNoStatus {
			code = wsframe.CloseNormal
		}
		c.closeWith(code, "")
	case wsframe.OpText:
		c.dispatch(append([]byte(nil), payload...))
	default: // binary
		c.dispatch(nil)
	}
	return nil
}

func (c *conn) dispatch(frame []byte) {
	if c.frames.Push(frame) {
		go c.run()
	}
}

// OnClose ends the connection after the frames it sent (evloop.Handler).
func (c *conn) OnClose(_ *evloop.Conn, err error) {
	if c.frames.End(err) {
		go c.run()
	}
}

func (c *conn) run() {
	c.frames.Run(c.handleFrame, func(err error) { c.g.ended(c, conns.CloseReason(err)) })
}

func (c *conn) handleFrame(frame []byte) {
	if frame == nil {
		c.Send(proto1.EncodeError(errBinaryFrame, ""), false)
		return
	}
	c.proto.HandleFrame(frame)
}

// tick runs on the sweeper: pings and the idle timeout.
func (c *conn) tick(now time.Time) {
	switch timedOut, due := c.live.Check(now, c.g.cfg.Limits.IdleTimeout, c.g.cfg.Limits.PingInterval); {
	case timedOut:
		c.code.Store(wsframe.CloseGoingAway)
		c.Close("idle_timeout")
	case due:
		c.Send(proto1.Ping, true)
	}
}

var errBinaryFrame = chat.Errorf(chat.CodeInvalidArgument, "frames must be text (JSON)")
