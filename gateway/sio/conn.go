package siogw

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/engineio"
	"github.com/banter-chat/banter/socketio"
	"github.com/banter-chat/banter/socketio/parser"
)

// dialect is what a connection speaks; its first successful session
// decides (docs/protocol.md, Compatibility).
type dialect int32

const (
	dialectNone dialect = iota
	dialectV1
	dialectSocketChat
	dialectClassic
)

func (d dialect) String() string {
	switch d {
	case dialectV1:
		return "protocol 1"
	case dialectSocketChat:
		return "SocketChat"
	case dialectClassic:
		return "classic chat"
	}
	return "none"
}

// eventDialect says which dialect an event name belongs to.
func eventDialect(name string) dialect {
	switch name {
	case "hello", "nick", "join", "leave", "rooms", "send", "dm", "history", "since", "typing", "kick", "delete":
		return dialectV1
	case "connectUser", "exitUser", "chatMessage", "startType", "stopType":
		return dialectSocketChat
	case "chat message":
		return dialectClassic
	}
	return dialectNone
}

// conn is one socket on the namespace and, once it said hello (or
// connectUser, or its first "chat message"), its chat session. It is the
// session's chat.Sink.
type conn struct {
	g    *Gateway
	sock *socketio.Socket
	reqs *chat.Bucket
	// ident is the identity of the handshake's token (nil: none sent).
	ident *chat.Identity

	dialect atomic.Int32 // a dialect; set before the session exists so Deliver knows the format
	closed  atomic.Bool  // the socket disconnected

	mu   sync.Mutex
	sess *chat.Session

	// SocketChat typing refresher (see socketchat.go).
	typMu      sync.Mutex
	typTimer   *time.Timer
	typUntil   time.Time
	typStopped bool
}

func newConn(g *Gateway, sock *socketio.Socket) *conn {
	return &conn{g: g, sock: sock, reqs: chat.NewBucket(g.cfg.RequestBurst, g.cfg.RequestsPerSecond, g.cfg.Now)}
}

func (c *conn) getDialect() dialect { return dialect(c.dialect.Load()) }

func (c *conn) session() *chat.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess
}

// setSession records a new session, unless the socket disconnected
// meanwhile: then the session is ended and false returned.
func (c *conn) setSession(s *chat.Session) bool {
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		s.Disconnect("socket disconnected during connect")
		return false
	}
	c.sess = s
	c.mu.Unlock()
	return true
}

func (c *conn) markClosed() {
	c.mu.Lock()
	c.closed.Store(true)
	c.mu.Unlock()
}

// onEvent dispatches every client event (OnAny).
func (c *conn) onEvent(ev *socketio.Event) {
	if !c.reqs.Take() {
		if ev.Name != "typing" && ev.Name != "startType" { // typing is lossy: drop silently
			c.fail(ev, errTooManyRequests)
		}
		return
	}
	d := eventDialect(ev.Name)
	if d == dialectNone {
		c.fail(ev, errUnknownEvent(ev.Name))
		return
	}
	if cur := c.getDialect(); cur != dialectNone && cur != d {
		c.fail(ev, errOtherDialect(ev.Name, cur))
		return
	}
	switch d {
	case dialectV1:
		c.onV1(ev)
	case dialectSocketChat:
		c.onSocketChat(ev)
	case dialectClassic:
		c.onClassic(ev)
	}
}

// fail answers a failed event: the error ack if the client asked for one,
// else an "error" event naming the event.
func (c *conn) fail(ev *socketio.Event, err error) {
	body := errorFor(err)
	if code := chat.ErrorCode(err); code == chat.CodeInternal || code == chat.CodeUnavailable {
		c.g.log.Warn("siogw: request failed", "event", ev.Name, "socket", c.sock.ID(), "err", err)
	}
	if ev.HasAck() {
		ev.Ack(mustJSON(errorAck{OK: false, Error: body}))
		return
	}
	body.Event = ev.Name
	_ = c.sock.Emit("error", mustJSON(body))
}

// ok answers a successful event with v (which must encode "ok": true).
func (c *conn) ok(ev *socketio.Event, v any) {
	ev.Ack(mustJSON(v))
}

type okAck struct {
	OK bool `json:"ok"`
}

// onDisconnect ends the session after the socket disconnected. It runs on
// a background goroutine (see Gateway.onConnection).
func (c *conn) onDisconnect(reason string) {
	c.stopTypingRefresh()
	c.mu.Lock()
	sess := c.sess
	c.mu.Unlock()
	switch c.getDialect() {
	case dialectSocketChat:
		c.g.socketChatDisconnect(c, sess)
	}
	if sess != nil {
		sess.Disconnect("socket.io: " + reason)
	}
}

// Wire encoding of chat events. Each key is one wire format; the bytes are
// a complete Socket.IO packet for the namespace "/", identical for
// protocol v5 and v4 clients.
type (
	keyV1         struct{}
	keySCMessage  struct{}
	keySCTyping   struct{}
	keySCTypingTx struct{} // typing update sent before a message (SocketChat)
)

// packetText encodes an EVENT packet for "/" with the given args.
func packetText(event string, args ...json.RawMessage) []byte {
	data := make([]byte, 0, 64)
	data = append(data, '[')
	name, _ := json.Marshal(event)
	data = append(data, name...)
	for _, a := range args {
		data = append(data, ',')
		data = append(data, a...)
	}
	data = append(data, ']')
	return parser.Encode(&parser.Packet{Type: parser.Event, Namespace: "/", Data: data})
}

// encodeV1 is the protocol 1 wire format of a chat event.
func encodeV1(ev *chat.Event) ([]byte, error) {
	name, payload, ok := ev.ClientEvent()
	if !ok {
		return nil, nil
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	return packetText(name, b), nil
}

// send enqueues packet bytes on the connection. It never blocks: a client
// whose queue overflows is closed by engineio (slow consumer) and catches up
// after reconnecting; volatile packets (typing) are dropped for a client with
// a backlog instead.
func (c *conn) send(data []byte, volatile bool) {
	if len(data) == 0 {
		return
	}
	c.enqueue(engineio.NewMessage(data, false), volatile)
}

// enqueue enqueues a message that may be shared with other connections.
func (c *conn) enqueue(m *engineio.Message, volatile bool) {
	if m == nil || c.closed.Load() {
		return
	}
	if volatile {
		c.sock.Conn().SendVolatile(m)
		return
	}
	_ = c.sock.Conn().Enqueue(m)
}

// sharedKey wraps an encoding key: the cached value is the Engine.IO message
// carrying those bytes, one per event and format for all recipients (so its
// WebSocket frame is built once, too).
type sharedKey struct{ key any }

// sharedMessage returns the event's packet for one wire format as a message
// shared by every recipient.
func sharedMessage(ev *chat.Event, key any, enc func(*chat.Event) ([]byte, error)) (*engineio.Message, error) {
	v, err := ev.Cached(sharedKey{key}, func(ev *chat.Event) (any, error) {
		data, err := enc(ev)
		if err != nil || len(data) == 0 {
			return (*engineio.Message)(nil), err
		}
		return engineio.NewMessage(data, false), nil
	})
	m, _ := v.(*engineio.Message)
	return m, err
}

// Deliver implements chat.Sink. It runs with chat's locks held: it only
// encodes (once per event and format) and enqueues.
func (c *conn) Deliver(ev *chat.Event) {
	if ev.Kind == chat.EventDisconnect {
		c.bye(ev.Disconnect)
		return
	}
	switch c.getDialect() {
	case dialectV1:
		m, err := sharedMessage(ev, keyV1{}, encodeV1)
		if err != nil {
			c.g.log.Error("siogw: cannot encode event", "kind", ev.Kind.String(), "err", err)
			return
		}
		c.enqueue(m, ev.Kind == chat.EventTyping)
	case dialectSocketChat:
		c.deliverSocketChat(ev)
	}
	// Classic sessions get nothing from chat: their sockets receive the
	// default room's messages through roomClassic (see broadcastClassic).
}

type byePayload struct {
	Reason  string `json:"reason"`
	By      string `json:"by,omitempty"`
	Message string `json:"message,omitempty"`
}

// bye tells a protocol 1 client why the server ends its session, then
// closes the connection. A replaced or kicked session gets a Socket.IO
// DISCONNECT (clients do not reconnect on their own: the new connection has
// taken over, or an admin said so); on shutdown only the transport is
// closed, so clients reconnect with back-off, as they should.
func (c *conn) bye(d *chat.Disconnect) {
	if c.getDialect() == dialectV1 {
		c.send(packetText("bye", mustJSON(byePayload{Reason: string(d.Reason), By: d.By, Message: d.Message})), false)
	}
	switch d.Reason {
	case chat.ReasonReplaced, chat.ReasonKicked:
		c.sock.Disconnect(true)
	default:
		c.sock.Conn().Close(engineio.ReasonServerShutdown)
	}
}
