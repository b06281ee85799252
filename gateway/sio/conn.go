package siogw

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/proto1"
	"github.com/banter-chat/banter/socketio"
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
	switch {
	case proto1.IsCommand(name):
		return dialectV1
	case name == "connectUser", name == "exitUser", name == "chatMessage", name == "startType", name == "stopType":
		return dialectSocketChat
	case name == "chat message":
		return dialectClassic
	}
	return dialectNone
}

// conn is one socket on the namespace and, once it said hello (or
// connectUser, or its first "chat message"), its chat session: the
// embedded proto1.Conn holds the session, the request bucket and the
// handshake's identity. It is the session's chat.Sink.
//
// One per socket: keep it small (memory per idle connection is a headline
// figure); the fields are ordered so that it packs into 112 bytes.
type conn struct {
	proto1.Conn
	g    *Gateway
	sock *socketio.Socket

	// SocketChat typing refresher (see socketchat.go).
	typMu    sync.Mutex
	typTimer *time.Timer
	typUntil time.Time

	dialect    atomic.Int32 // a dialect; set before the session exists so Deliver knows the format
	typStopped bool         // guarded by typMu
}

func (c *conn) getDialect() dialect { return dialect(c.dialect.Load()) }

// onEvent dispatches every client event (OnAny).
func (c *conn) onEvent(ev *socketio.Event) {
	if !c.Allow() {
		if ev.Name != proto1.CmdTyping && ev.Name != "startType" { // typing is lossy: drop silently
			c.fail(ev, proto1.ErrTooManyRequests)
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

// onV1 runs a command of protocol 1: the event's first argument is its
// argument, the ack (or an "error" event) its answer.
func (c *conn) onV1(ev *socketio.Event) {
	var arg json.RawMessage
	if args := ev.RawArgs(); len(args) > 0 {
		arg = args[0]
	}
	cmd, err := proto1.DecodeArg(ev.Name, arg)
	var res any
	if err == nil {
		hello := cmd.Name == proto1.CmdHello && c.Session() == nil
		if hello {
			// Set before the session exists: events may reach the sink
			// before Connect returns.
			c.dialect.Store(int32(dialectV1))
		}
		res, err = c.Exec(context.Background(), cmd, c)
		if hello && err != nil {
			c.dialect.Store(int32(dialectNone))
		}
		if hello && err == nil {
			c.sock.Join(roomDialect)
		}
	}
	switch {
	case err == nil:
		c.ok(ev, res)
	case cmd.Name == proto1.CmdTyping && !ev.HasAck():
		// Typing is lossy: its failures are not reported unasked.
	default:
		c.fail(ev, err)
	}
}

// fail answers a failed event: the error ack if the client asked for one,
// else an "error" event naming the event. (Failures that are the server's
// were logged by the command layer.)
func (c *conn) fail(ev *socketio.Event, err error) {
	if ev.HasAck() {
		ev.Ack(json.RawMessage(proto1.Failure(err)))
		return
	}
	_ = c.sock.Emit("error", struct {
		proto1.ErrorBody
		Event string `json:"event"`
	}{proto1.ErrorFor(err), ev.Name})
}

// refuseMessage answers a chat message the server refused (rate limited,
// too large…) in the terms of the dialect that sent it, when the client
// asked for no ack: the SocketChat and classic clients listen to no
// "error" event, so besides it the sender alone gets the refusal as a chat
// line from the server, which their message list shows.
func (c *conn) refuseMessage(ev *socketio.Event, err error) {
	c.fail(ev, err)
	if ev.HasAck() {
		return
	}
	text := "Your message was not sent: " + proto1.ErrorFor(err).Message
	switch c.getDialect() {
	case dialectSocketChat:
		_ = c.sock.Emit("newChatMessage", NoticeSender, text, c.g.dateString(time.Now().UnixMilli()))
	case dialectClassic:
		_ = c.sock.Emit("chat message", "⚠ "+text)
	}
}

// NoticeSender is the nickname of the server's own lines to SocketChat
// clients (a refused message).
const NoticeSender = "Banter"

// ok answers a successful event with {"ok": true, ...result} if the client
// asked for an ack.
func (c *conn) ok(ev *socketio.Event, result any) {
	if ev.HasAck() {
		ev.Ack(json.RawMessage(proto1.Ack(result)))
	}
}

// onDisconnect ends the session after the socket disconnected. It runs on
// a background goroutine (see Gateway.onConnection).
func (c *conn) onDisconnect(sess *chat.Session, reason string) {
	c.stopTypingRefresh()
	if c.getDialect() == dialectSocketChat {
		c.g.socketChatDisconnect(sess)
	}
	if sess != nil {
		sess.Disconnect("socket.io: " + reason)
	}
}

// Wire encoding of chat events: each key is one wire format, whose value
// is the Socket.IO packet prepared once for every recipient
// (socketio.PreparedPacket: the same text for protocol v5 and v4 clients,
// each WebSocket frame built once per Engine.IO version).
type (
	keyV1         struct{}
	keySCMessage  struct{}
	keySCTyping   struct{}
	keySCTypingTx struct{} // typing update sent before a message (SocketChat)
)

// prepared returns the event's packet for one wire format, encoded by enc
// for the first recipient and shared by all (nil: not sent in that
// format).
func prepared(ev *chat.Event, key any, enc func(*chat.Event) (*socketio.PreparedPacket, error)) (*socketio.PreparedPacket, error) {
	v, err := ev.Cached(key, func(ev *chat.Event) (any, error) { return enc(ev) })
	p, _ := v.(*socketio.PreparedPacket)
	return p, err
}

// encodeV1 is the protocol 1 packet of a chat event.
func (g *Gateway) encodeV1(ev *chat.Event) (*socketio.PreparedPacket, error) {
	name, payload, err := proto1.EventPayload(ev)
	if name == "" || err != nil {
		return nil, err
	}
	return g.nsp.PrepareEventJSON(name, payload)
}

// send queues a prepared packet for the socket. It never blocks: a client
// whose queue overflows is closed (slow consumer) and catches up after
// reconnecting; volatile packets (typing) are dropped for a client with a
// backlog instead.
func (c *conn) send(p *socketio.PreparedPacket, volatile bool) {
	switch {
	case p == nil:
	case volatile:
		c.sock.SendVolatile(p)
	default:
		_ = c.sock.Enqueue(p)
	}
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
		p, err := prepared(ev, keyV1{}, c.g.encodeV1)
		if err != nil {
			c.g.log.Error("siogw: cannot encode event", "kind", ev.Kind.String(), "err", err)
			return
		}
		c.send(p, ev.Kind == chat.EventTyping)
	case dialectSocketChat:
		c.deliverSocketChat(ev)
	}
	// Classic sessions get nothing from chat: their sockets receive the
	// default room's messages from the gateway's watcher (classic.go).
}

// bye tells a protocol 1 client why the server ends its session, then
// closes the connection. A replaced or kicked session gets a Socket.IO
// DISCONNECT (clients do not reconnect on their own: the new connection has
// taken over, or an admin said so); otherwise only the transport is
// closed, so clients reconnect with back-off, as they should.
func (c *conn) bye(d *chat.Disconnect) {
	if c.getDialect() == dialectV1 {
		if p, err := c.g.nsp.PrepareEventJSON("bye", proto1.ByePayload(d)); err == nil {
			c.send(p, false)
		}
	}
	switch d.Reason {
	case chat.ReasonReplaced, chat.ReasonKicked:
		c.sock.Disconnect(true)
	default:
		c.sock.Close(socketio.ReasonServerShutdown)
	}
}
