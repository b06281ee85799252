// Package ws is Banter's plain WebSocket gateway: JSON text frames at /ws
// for clients that want no Socket.IO framing (docs/protocol.md, "Plain
// WebSocket"; the commands and the JSON framing are package proto1, shared
// with the other gateways).
//
// # Entry points
//
// New(svc, cfg) returns a Gateway, an http.Handler to mount at /ws. Close
// refuses new connections, closes the open ones and waits for their
// goroutines (hijacked WebSockets are not waited for by
// http.Server.Shutdown).
//
// # Concurrency
//
// Each connection has a reader (the HTTP handler's goroutine, running the
// client's commands one at a time) and a writer draining an conns.Outbox
// bounded in bytes; chat delivers into the outbox without blocking. A
// client whose outbox overflows is closed with status 1013 "slow consumer"
// (it reconnects and catches up with since); typing is dropped instead.
// WebSocket connections here cost a goroutine pair and coder/websocket's
// buffers each: the Socket.IO gateway on nbio is the path for very many
// idle clients.
package ws

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/internal/conns"
	"github.com/banter-chat/banter/gateway/proto1"
)

// Config configures a Gateway. The zero value of every field means its
// default.
type Config struct {
	// OriginPatterns lists the browser origins (host patterns, see
	// websocket.AcceptOptions) allowed besides the same origin; "*" allows
	// any. Native clients send no Origin and are always allowed.
	OriginPatterns []string
	// Limits are the connections' queue bound, write timeout, heartbeat
	// and idle timeout.
	Limits proto1.FrameLimits
	// Logger receives operational logs. Default: discard.
	Logger *slog.Logger
	// Protocol configures the command side (call timeout, request
	// bucket); its Logger defaults to this Config's.
	Protocol proto1.Config
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
	opts  websocket.AcceptOptions

	open  conns.Set[*conn]
	stats conns.Counters // stats.go
}

// New returns a Gateway serving svc.
func New(svc *chat.Service, cfg Config) *Gateway {
	cfg = cfg.withDefaults()
	g := &Gateway{cfg: cfg, log: cfg.Logger, proto: proto1.NewServer(svc, cfg.Protocol)}
	for _, p := range cfg.OriginPatterns {
		if p == "*" {
			g.opts.InsecureSkipVerify = true
		}
	}
	if !g.opts.InsecureSkipVerify {
		g.opts.OriginPatterns = cfg.OriginPatterns
	}
	return g
}

// ServeHTTP upgrades the request and serves the connection until it ends.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.open.Enter() {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	defer g.open.Leave()
	// Accept answers a request that is not a WebSocket upgrade (or comes
	// from a foreign origin) with an HTTP error itself.
	wsc, err := websocket.Accept(w, r, &g.opts)
	if err != nil {
		g.log.Debug("ws: upgrade refused", "remote", r.RemoteAddr, "err", err)
		return
	}
	wsc.SetReadLimit(proto1.MaxFrameBytes)
	c := &conn{g: g, ws: wsc, out: conns.NewOutbox(g.cfg.Limits.MaxBufferedBytes, &g.stats), done: make(chan struct{})}
	c.proto = g.proto.NewJSONConn(c)
	if !g.open.Add(c, 0) {
		wsc.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	defer g.open.Remove(c)
	g.stats.Opened()
	defer g.stats.Closed()
	g.log.Debug("ws: connection opened", "remote", r.RemoteAddr)
	c.serve()
}

// Close refuses new connections, closes the open ones (with "bye" reason
// shutdown if chat has not said it already) and waits for them, or for ctx.
func (g *Gateway) Close(ctx context.Context) error {
	open := g.open.Close()
	for _, c := range open {
		c.Send(proto1.EncodeBye(&chat.Disconnect{Reason: chat.ReasonShutdown}), false)
		c.Close(string(chat.ReasonShutdown))
	}
	err := g.open.Wait(ctx)
	if err != nil {
		for _, c := range open {
			c.ws.CloseNow()
		}
	}
	return err
}

// conn is one WebSocket connection; it is the proto1.Transport.
type conn struct {
	g     *Gateway
	ws    *websocket.Conn
	out   *conns.Outbox
	proto *proto1.JSONConn
	done  chan struct{} // closed when the reader ends

	mu     sync.Mutex
	reason string
}

// Send implements proto1.Transport.
func (c *conn) Send(frame []byte, lossy bool) { c.out.Push(frame, lossy) }

// Close implements proto1.Transport: the writer closes the connection
// after writing what is queued.
func (c *conn) Close(reason string) {
	c.mu.Lock()
	if c.reason == "" {
		c.reason = reason
	}
	c.mu.Unlock()
	c.out.Close()
}

func (c *conn) serve() {
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	reason := c.readLoop()
	close(c.done)
	c.out.Close()
	<-writerDone
	c.ws.CloseNow()
	c.proto.End("ws: " + reason)
	c.g.log.Debug("ws: connection closed", "reason", reason)
}

// readLoop runs the client's commands until the connection ends and
// returns why it ended.
func (c *conn) readLoop() string {
	for {
		// Cancelling Read's context closes the connection: that is the
		// idle timeout.
		ctx, cancel := context.WithTimeout(context.Background(), c.g.cfg.Limits.IdleTimeout)
		typ, data, err := c.ws.Read(ctx)
		timedOut := ctx.Err() != nil
		cancel()
		if err != nil {
			switch {
			case timedOut:
				return "idle timeout"
			case websocket.CloseStatus(err) != -1:
				return "client closed"
			}
			return "read error"
		}
		if typ != websocket.MessageText {
			c.Send(proto1.EncodeError(errBinaryFrame, ""), false)
			continue
		}
		c.proto.HandleFrame(data)
	}
}

// writeLoop writes queued frames and heartbeats until the connection ends.
func (c *conn) writeLoop() {
	ping := time.NewTicker(c.g.cfg.Limits.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-ping.C:
			c.out.Push(proto1.Ping, true)
			continue
		case <-c.out.Wake():
		}
		frames, closed, overflow := c.out.Take()
		if overflow {
			c.g.log.Info("ws: slow consumer closed")
			c.ws.Close(websocket.StatusTryAgainLater, "slow consumer")
			return
		}
		for _, f := range frames {
			if err := c.write(f); err != nil {
				c.ws.CloseNow()
				return
			}
		}
		if closed {
			c.mu.Lock()
			reason := c.reason
			c.mu.Unlock()
			code := websocket.StatusGoingAway
			if reason == string(chat.ReasonReplaced) {
				code = websocket.StatusNormalClosure
			}
			c.ws.Close(code, reason)
			return
		}
	}
}

func (c *conn) write(f []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.g.cfg.Limits.WriteTimeout)
	defer cancel()
	err := c.ws.Write(ctx, websocket.MessageText, f)
	if err != nil && !errors.Is(err, context.Canceled) {
		c.g.log.Debug("ws: write failed", "err", err)
	}
	return err
}

var errBinaryFrame = chat.Errorf(chat.CodeInvalidArgument, "frames must be text (JSON)")
