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
	"github.com/banter-chat/banter/socketio"
)

// Config configures a Gateway. The zero value of every field means its
// default.
type Config struct {
	// Logger receives operational logs. Default: discard.
	Logger *slog.Logger
	// CallTimeout bounds one chat call made for a client event (a Store
	// read or append). Default 10s.
	CallTimeout time.Duration
	// RequestBurst and RequestsPerSecond shape a per-connection token
	// bucket over every client event, so that a flood of cheap-to-send but
	// costly-to-answer events (history, join, unknown events) is refused
	// with rate_limited instead of loading the Store. The chat Service has
	// its own, stricter buckets for messages and typing. Defaults 100 and
	// 50.
	RequestBurst      int
	RequestsPerSecond float64
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
	// Now is the clock (SocketChat dates, request buckets). Default
	// time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 10 * time.Second
	}
	if c.RequestBurst <= 0 {
		c.RequestBurst = 100
	}
	if c.RequestsPerSecond <= 0 {
		c.RequestsPerSecond = 50
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
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Socket.IO rooms of the gateway (socket ids are random base64 and never
// contain ':', so these cannot collide with a socket's own room).
const (
	roomClassic    = "banter:classic"    // sockets that may receive classic "chat message"
	roomSocketChat = "banter:socketchat" // sockets speaking the SocketChat dialect
)

// Gateway serves the chat protocol on one Socket.IO namespace.
type Gateway struct {
	cfg Config
	log *slog.Logger
	svc *chat.Service
	nsp *socketio.Namespace

	guests atomic.Uint64 // classic dialect nicknames: guest-1, guest-2…

	sc socketChatState

	bgMu   sync.Mutex
	closed bool
	bg     sync.WaitGroup
	conns  map[*conn]struct{}
}

// New serves the chat protocol on nsp (normally io.Of("/")) with svc.
func New(svc *chat.Service, nsp *socketio.Namespace, cfg Config) *Gateway {
	cfg = cfg.withDefaults()
	g := &Gateway{
		cfg:   cfg,
		log:   cfg.Logger,
		svc:   svc,
		nsp:   nsp,
		conns: make(map[*conn]struct{}),
	}
	g.sc.init()
	nsp.Use(g.authenticate)
	nsp.OnConnection(g.onConnection)
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
	ctx, cancel := g.ctx()
	defer cancel()
	id, err := g.svc.Authenticate(ctx, tok)
	if err != nil {
		code, msg := chat.ClientError(err)
		if code == chat.CodeUnavailable || code == chat.CodeInternal {
			g.log.Warn("siogw: cannot verify a token", "err", err)
		}
		return &socketio.ConnectError{Message: msg, Data: errorBody{Code: code, Message: msg}}
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

// Close stops the gateway: later connections are refused, SocketChat
// typing refreshers stop, and Close waits for background work (sessions
// being ended after their sockets disconnected). It does not close client
// connections: chat.Service.Close says bye to every session and
// socketio.Server.Shutdown closes the connections.
func (g *Gateway) Close() {
	g.bgMu.Lock()
	g.closed = true
	conns := make([]*conn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.bgMu.Unlock()
	for _, c := range conns {
		c.stopTypingRefresh()
	}
	g.bg.Wait()
}

// goBackground runs f on a goroutine that Close waits for, unless the
// gateway is closed (then f runs on the caller's goroutine: nothing is
// waiting for a lock the caller holds at that point, since chat is closed).
func (g *Gateway) goBackground(f func()) {
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

func (g *Gateway) onConnection(sock *socketio.Socket) {
	g.bgMu.Lock()
	if g.closed {
		g.bgMu.Unlock()
		sock.Disconnect(true)
		return
	}
	c := newConn(g, sock)
	if hi, ok := sock.Data().(handshakeIdentity); ok {
		c.ident = hi.id
	}
	g.conns[c] = struct{}{}
	g.bgMu.Unlock()
	// Until it picks a dialect, a socket may be a listening-only classic
	// tutorial client: it receives "chat message".
	sock.Join(roomClassic)
	sock.OnAny(c.onEvent)
	sock.OnDisconnect(func(reason socketio.Reason) {
		c.markClosed()
		g.bgMu.Lock()
		delete(g.conns, c)
		g.bgMu.Unlock()
		// Deliver may be what closed the socket (slow consumer, bye), with
		// chat's locks held: end the session elsewhere.
		g.goBackground(func() { c.onDisconnect(string(reason)) })
	})
}

// ctx returns the context of one chat call.
func (g *Gateway) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), g.cfg.CallTimeout)
}

// broadcastClassic sends a message of the default room to the classic
// dialect's sockets. Messages of every dialect sent through this gateway
// reach them (see docs/protocol.md, Compatibility).
func (g *Gateway) broadcastClassic(from, text string, fromClassic bool) {
	if !fromClassic {
		text = from + ": " + text
	}
	if err := g.nsp.To(roomClassic).Emit("chat message", text); err != nil {
		g.log.Warn("siogw: classic broadcast failed", "err", err)
	}
}

func (g *Gateway) nextGuest() string {
	return "guest-" + strconv.FormatUint(g.guests.Add(1), 10)
}

var errTooManyRequests = chat.Errorf(chat.CodeRateLimited, "too many requests, slow down")

func errUnknownEvent(name string) error {
	return chat.Errorf(chat.CodeInvalidArgument, "unknown event %q", name)
}

func errOtherDialect(name string, d dialect) error {
	return chat.Errorf(chat.CodeInvalidArgument, "event %q is not part of the %s dialect this connection speaks", name, d)
}
