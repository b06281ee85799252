package siogw

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/proto1"
	"github.com/banter-chat/banter/socketio"
)

// Config configures a Gateway. The zero value of every field means its
// default.
type Config struct {
	// Logger receives operational logs. Default: discard.
	Logger *slog.Logger
	// Protocol configures the command side: call timeout and the
	// per-connection request bucket over every client event (defaults
	// 100 and 50/s; chat has its own, stricter buckets for messages and
	// typing). Its Logger and Now default to this Config's.
	Protocol proto1.Config
	// Location is the time zone of SocketChat's dateString. Default
	// time.Local (Node formats in the server's zone too).
	Location *time.Location
	// SocketChatTypingMax bounds how long the gateway keeps refreshing the
	// typing state of a SocketChat user who sent startType and neither
	// stopType nor a message (the app does not refresh it). Default 60s.
	SocketChatTypingMax time.Duration
	// SocketChatMaxUsers bounds the SocketChat user list: entries of users
	// who disconnected without exitUser stay (as in the original server)
	// until the list is full; then the oldest of them are dropped.
	// Default 1000.
	SocketChatMaxUsers int
	// ClassicRetry is how often the gateway retries to watch the default
	// room for the classic dialect when the Store could not be read at
	// start. Default 5s.
	ClassicRetry time.Duration
	// SocketChatListWindow is the shortest interval between two userList
	// broadcasts: the original server sent the whole list to everyone on
	// every connect and disconnect (N users arriving cost N² entries each
	// way); the first change goes out at once, those within the window
	// together at its end. Default 1s.
	SocketChatListWindow time.Duration
	// Now is the clock (SocketChat dates, request buckets). Default
	// time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.SocketChatListWindow <= 0 {
		c.SocketChatListWindow = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Location == nil {
		c.Location = time.Local
	}
	if c.SocketChatTypingMax <= 0 {
		c.SocketChatTypingMax = 60 * time.Second
	}
	if c.SocketChatMaxUsers <= 0 {
		c.SocketChatMaxUsers = 1000
	}
	if c.ClassicRetry <= 0 {
		c.ClassicRetry = 5 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Protocol = c.Protocol.Inherit(c.Logger, c.Now)
	return c
}

// Socket.IO rooms of the gateway (socket ids are random base64 and never
// contain ':', so these cannot collide with a socket's own room).
const (
	// roomDialect holds the sockets that chose protocol 1 or SocketChat:
	// every other socket may be a listening classic tutorial client and
	// receives "chat message" (a broadcast to everyone except this room,
	// so an idle socket is in no room at all).
	roomDialect    = "banter:dialect"
	roomSocketChat = "banter:socketchat" // sockets speaking the SocketChat dialect
)

// Gateway serves the chat protocol on one Socket.IO namespace.
type Gateway struct {
	cfg   Config
	log   *slog.Logger
	svc   *chat.Service
	nsp   *socketio.Namespace
	proto *proto1.Server

	guests atomic.Uint64 // classic dialect nicknames: guest-1, guest-2…

	sc socketChatState

	bgMu         sync.Mutex
	closed       bool
	bg           sync.WaitGroup
	conns        map[*conn]struct{}
	classicStop  func()      // ends the default room's watcher (classic.go)
	classicRetry *time.Timer // set while the watcher could not start
}

// New serves the chat protocol on nsp (normally io.Of("/")) with svc.
func New(svc *chat.Service, nsp *socketio.Namespace, cfg Config) *Gateway {
	cfg = cfg.withDefaults()
	g := &Gateway{
		cfg:   cfg,
		log:   cfg.Logger,
		svc:   svc,
		nsp:   nsp,
		proto: proto1.NewServer(svc, cfg.Protocol),
		conns: make(map[*conn]struct{}),
	}
	nsp.Use(g.authenticate)
	nsp.OnConnection(g.onConnection)
	nsp.OnAny(g.onEvent)
	nsp.OnDisconnect(g.onDisconnect)
	g.watchClassic()
	return g
}

// handshakeIdentity is the socket data the authentication middleware
// leaves for onConnection.
type handshakeIdentity struct{ id *chat.Identity }

// authenticate is the namespace middleware: a token in the handshake (the
// CONNECT auth payload's "token", or ?token= / Authorization: Bearer for
// clients that cannot send auth, like socket.io 2.x) is verified, and a
// bad one, or none when tokens are required, refuses the connection with
// CONNECT_ERROR {message, data: {code, message}}.
func (g *Gateway) authenticate(sock *socketio.Socket) error {
	tok := handshakeToken(sock.Handshake(), g.svc.AcceptsTokens())
	if tok == "" && !g.svc.RequiresIdentity() {
		return nil
	}
	ctx, cancel := g.proto.Context(context.Background())
	defer cancel()
	id, err := g.proto.Authenticate(ctx, tok)
	if err != nil {
		body := proto1.ErrorFor(err)
		return &socketio.ConnectError{Message: body.Message, Data: body}
	}
	sock.SetData(handshakeIdentity{id})
	return nil
}

// handshakeToken finds the token of a handshake. The auth payload is the
// client's own statement; the header and the query may come from
// elsewhere (a proxy passing its own bearer token, a page's URL), so they
// are read only when the server verifies tokens.
func handshakeToken(h *socketio.Handshake, acceptsTokens bool) string {
	if t, ok := h.Auth["token"].(string); ok && t != "" {
		return t
	}
	if !acceptsTokens {
		return ""
	}
	if t, ok := strings.CutPrefix(h.Headers().Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return h.Query().Get("token")
}

// Close stops the gateway: later connections are refused, the classic
// dialect's watcher and the SocketChat typing refreshers stop, and Close
// waits for background work (sessions being ended after their sockets
// disconnected). It does not close client connections:
// chat.Service.Close says bye to every session and socketio.Server.Shutdown
// closes the connections.
func (g *Gateway) Close() {
	g.bgMu.Lock()
	g.closed = true
	conns := make([]*conn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	stop := g.classicStop
	g.classicStop = nil
	if g.classicRetry != nil {
		g.classicRetry.Stop()
	}
	g.bgMu.Unlock()
	g.sc.mu.Lock()
	if g.sc.listPending != nil { // the sockets are going: no list to send
		g.sc.listPending.Stop()
		g.sc.listPending = nil
	}
	g.sc.mu.Unlock()
	if stop != nil {
		stop()
	}
	for _, c := range conns {
		c.stopTypingRefresh()
	}
	g.bg.Wait()
}

// endLater runs f, which ends chat sessions, on a goroutine of its own that
// Close waits for: a socket may disconnect because of a Deliver, under
// chat's locks, where ending a session would deadlock. Once the gateway is
// closed f runs at once (chat is closed too: no lock is held for it).
func (g *Gateway) endLater(f func()) {
	g.bgMu.Lock()
	if g.closed {
		g.bgMu.Unlock()
		f()
		return
	}
	g.bg.Add(1)
	g.bgMu.Unlock()
	go func() {
		defer g.bg.Done()
		f()
	}()
}

// track counts a timer callback as background work; it returns false (do
// nothing) once the gateway is closed. Call done when finished.
func (g *Gateway) track() bool {
	g.bgMu.Lock()
	defer g.bgMu.Unlock()
	if g.closed {
		return false
	}
	g.bg.Add(1)
	return true
}

// onConnection refuses sockets once the gateway closes. A socket gets no
// state of its own until it sends an event (connOf): an idle connection
// costs the engine's and Socket.IO's structs only, and a listening-only
// classic tutorial client never needs more.
func (g *Gateway) onConnection(sock *socketio.Socket) {
	g.bgMu.Lock()
	closed := g.closed
	g.bgMu.Unlock()
	if closed {
		sock.Disconnect(true)
	}
}

// onEvent handles every client event (Namespace.OnAny), on the socket's
// own sequence of events.
func (g *Gateway) onEvent(ev *socketio.Event) {
	if c := g.connOf(ev.Socket, true); c != nil {
		c.onEvent(ev)
	}
}

// goneMark is the socket data of a socket that disconnected before it had
// a conn: none will be made for it.
type goneMark struct{}

// connOf returns the socket's conn, making it (create) on its first event.
// Under bgMu, like onDisconnect, so a conn is never made for a socket
// whose disconnect has been handled.
func (g *Gateway) connOf(sock *socketio.Socket, create bool) *conn {
	g.bgMu.Lock()
	defer g.bgMu.Unlock()
	var ident *chat.Identity
	switch d := sock.Data().(type) {
	case *conn:
		return d
	case goneMark:
		return nil
	case handshakeIdentity:
		ident = d.id
	}
	if !create || g.closed {
		return nil
	}
	c := &conn{g: g, sock: sock}
	c.Init(g.proto, ident)
	g.conns[c] = struct{}{}
	sock.SetData(c)
	return c
}

// onDisconnect ends the session of a socket that disconnected
// (Namespace.OnDisconnect).
func (g *Gateway) onDisconnect(sock *socketio.Socket, reason socketio.Reason) {
	g.bgMu.Lock()
	c, _ := sock.Data().(*conn)
	if c == nil {
		sock.SetData(goneMark{})
		g.bgMu.Unlock()
		return
	}
	delete(g.conns, c)
	g.bgMu.Unlock()
	sess := c.MarkEnded()
	g.endLater(func() { c.onDisconnect(sess, string(reason)) })
}

func (g *Gateway) nextGuest() string {
	return "guest-" + strconv.FormatUint(g.guests.Add(1), 10)
}

func errUnknownEvent(name string) error {
	return chat.Errorf(chat.CodeInvalidArgument, "unknown event %q", name)
}

func errOtherDialect(name string, d dialect) error {
	return chat.Errorf(chat.CodeInvalidArgument, "event %q is not part of the %s dialect this connection speaks", name, d)
}
