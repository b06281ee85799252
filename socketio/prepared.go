package socketio

import (
	"encoding/json"
	"fmt"

	"github.com/banter-chat/banter/engineio"
	"github.com/banter-chat/banter/socketio/parser"
)

// PreparedPacket is an outgoing EVENT encoded once, to be sent to any number
// of sockets of its namespace: a fan-out that decides its recipients itself
// (a chat room's members, say) encodes the event once and hands every
// recipient the same packet. It holds the Engine.IO messages of the packet
// (the text frame, then one per binary attachment), which every recipient
// shares; each message builds its WebSocket frame at most once per
// Engine.IO protocol version. The Socket.IO text of an EVENT is the same
// for protocol v5 and v4 clients, so one PreparedPacket serves both.
//
// A PreparedPacket is immutable and safe for concurrent use. It bypasses
// connection state recovery: it gets no offset and is not kept for
// reconnecting clients (Emit and broadcasts are).
type PreparedPacket struct {
	nsp  string
	msgs []*engineio.Message
}

// PrepareEvent encodes the EVENT packet that Emit would send on n: args are
// JSON-encoded, []byte values anywhere in them travel as binary
// attachments.
func (n *Namespace) PrepareEvent(event string, args ...any) (*PreparedPacket, error) {
	if reservedEvents[event] {
		return nil, fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	data, att, err := parser.EncodeEvent(event, args...)
	if err != nil {
		return nil, err
	}
	return n.prepared(&parser.Packet{Type: parser.Event, Namespace: n.name, Data: data, Attachments: att}), nil
}

// PrepareEventJSON is PrepareEvent for arguments already encoded: each of
// args must be one valid JSON value (it is written as is, and carries no
// binary attachment).
func (n *Namespace) PrepareEventJSON(event string, args ...json.RawMessage) (*PreparedPacket, error) {
	if reservedEvents[event] {
		return nil, fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	name, _ := json.Marshal(event) // a string: cannot fail
	size := len(name) + 2
	for _, a := range args {
		size += len(a) + 1
	}
	data := make([]byte, 0, size)
	data = append(data, '[')
	data = append(data, name...)
	for _, a := range args {
		data = append(data, ',')
		data = append(data, a...)
	}
	data = append(data, ']')
	return n.prepared(&parser.Packet{Type: parser.Event, Namespace: n.name, Data: data}), nil
}

func (n *Namespace) prepared(p *parser.Packet) *PreparedPacket {
	return &PreparedPacket{nsp: n.name, msgs: encodePacket(p)}
}

// errOtherNamespace refuses a packet prepared on another namespace: its
// text names that namespace.
var errOtherNamespace = fmt.Errorf("socket.io: packet prepared for another namespace")

// sendable reports why p cannot go to s, or nil.
func (s *Socket) sendable(p *PreparedPacket) error {
	switch {
	case p.nsp != s.nsp.name:
		return errOtherNamespace
	case !s.connected.Load():
		return ErrDisconnected
	}
	return nil
}

// Send writes p to the socket at once: like Emit, the caller writes it
// itself when the connection is idle (an answer to the client's request
// should not wait for a flush worker).
func (s *Socket) Send(p *PreparedPacket) error {
	if err := s.sendable(p); err != nil {
		return err
	}
	if s.client.conn.SendMany(p.msgs...) != nil {
		return ErrDisconnected
	}
	return nil
}

// Enqueue queues p for the socket: the engine's flush workers write it,
// coalesced with whatever else is queued for the connection. A fan-out to
// many sockets uses it, so the sender does not do every write itself and a
// busy connection gets one write per batch. It never blocks: a connection
// whose queue overflows is closed as a slow consumer (ErrDisconnected).
func (s *Socket) Enqueue(p *PreparedPacket) error {
	if err := s.sendable(p); err != nil {
		return err
	}
	if s.client.conn.Enqueue(p.msgs...) != nil {
		return ErrDisconnected
	}
	return nil
}

// SendVolatile queues p unless the connection has a backlog, in which case
// p is dropped: for lossy traffic (typing indicators), as a Volatile
// broadcast. It reports whether p was queued.
func (s *Socket) SendVolatile(p *PreparedPacket) bool {
	return s.sendable(p) == nil && s.client.conn.SendVolatile(p.msgs...)
}

// Close closes the socket's connection with reason, after writing what is
// queued for it: every namespace of the connection disconnects with that
// reason, and the client sees its transport close (so socket.io-client
// reconnects by itself, unlike after Disconnect). Use ReasonServerShutdown
// for a server that is stopping.
func (s *Socket) Close(reason Reason) {
	s.client.conn.Close(engineio.Reason(reason))
}
