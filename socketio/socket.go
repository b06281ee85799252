package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/engineio"
	"github.com/banter-chat/banter/socketio/parser"
)

// Reason says why a socket disconnected; the strings are Node's.
type Reason string

// Disconnect reasons.
const (
	ReasonTransportClose            Reason = "transport close"
	ReasonTransportError            Reason = "transport error"
	ReasonPingTimeout               Reason = "ping timeout"
	ReasonParseError                Reason = "parse error"
	ReasonForcedClose               Reason = "forced close"
	ReasonForcedServerClose         Reason = "forced server close"
	ReasonServerShutdown            Reason = "server shutting down"
	ReasonClientNamespaceDisconnect Reason = "client namespace disconnect"
	ReasonServerNamespaceDisconnect Reason = "server namespace disconnect"
)

// Errors.
var (
	ErrDisconnected = errors.New("socket.io: socket disconnected")
	ErrAckTimeout   = errors.New("socket.io: operation has timed out")
	// ErrReservedEvent is returned when emitting an event name the protocol
	// reserves (connect, connect_error, disconnect, disconnecting...).
	ErrReservedEvent = errors.New("socket.io: reserved event name")
)

var reservedEvents = map[string]bool{
	"connect": true, "connect_error": true, "disconnect": true, "disconnecting": true,
	"newListener": true, "removeListener": true,
}

// Handshake describes the connection a socket was opened on. It is
// immutable.
type Handshake struct {
	Auth    map[string]any // the CONNECT auth payload (v5); empty when none
	Address string         // remote address
	Time    time.Time
	Secure  bool
	URL     string

	eng      *engineio.Handshake
	nspQuery string // protocol v4: the query of the CONNECT namespace
}

// Headers returns a copy of the HTTP headers of the opening request.
func (h *Handshake) Headers() http.Header { return h.eng.Header() }

// Query returns a copy of the opening request's query, plus (protocol v4)
// the namespace query of the CONNECT packet.
func (h *Handshake) Query() url.Values {
	q := h.eng.Query()
	if h.nspQuery != "" {
		if extra, err := url.ParseQuery(h.nspQuery); err == nil {
			for k, v := range extra {
				q[k] = v
			}
		}
	}
	return q
}

// ConnectError refuses a connection from a middleware with a message and
// optional data, sent to the client in the CONNECT_ERROR packet.
type ConnectError struct {
	Message string
	Data    any
}

func (e *ConnectError) Error() string { return e.Message }

// EventHandler handles one received event.
type EventHandler func(ev *Event)

// Socket is a client's connection to one namespace.
type Socket struct {
	id        string
	nsp       *Namespace
	client    *client
	handshake Handshake

	// connected is written under mu (with acks and closeReason); read
	// without it on the send paths.
	connected   atomic.Bool
	mu          sync.Mutex
	recovered   bool
	pid         string
	data        any
	handlers    map[string][]EventHandler
	hooks       *socketHooks // OnAny and OnDisconnect handlers; nil until one is registered
	closeReason Reason       // set once disconnected
	acks        map[uint64]func(args []json.RawMessage, attachments [][]byte, err error)
	nextAck     uint64
}

// socketHooks holds a socket's catch-all and disconnect handlers, allocated
// on first use: most sockets have none (handlers on the namespace serve
// them), and a Socket is kept per connection.
type socketHooks struct {
	any  []func(ev *Event)
	disc []func(Reason)
}

func (s *Socket) hooksLocked() *socketHooks {
	if s.hooks == nil {
		s.hooks = &socketHooks{}
	}
	return s.hooks
}

// ID returns the socket id (also the name of its own room).
func (s *Socket) ID() string { return s.id }

// Namespace returns the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Handshake returns the connection details.
func (s *Socket) Handshake() *Handshake { return &s.handshake }

// Conn returns the Engine.IO session the socket runs on.
func (s *Socket) Conn() *engineio.Socket { return s.client.conn }

// Recovered reports whether the connection state was recovered.
func (s *Socket) Recovered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recovered
}

// Connected reports whether the socket is connected.
func (s *Socket) Connected() bool { return s.connected.Load() }

// Data returns the application state attached with SetData.
func (s *Socket) Data() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// SetData attaches application state to the socket (kept across a
// connection state recovery).
func (s *Socket) SetData(v any) {
	s.mu.Lock()
	s.data = v
	s.mu.Unlock()
}

// On registers a handler for an event.
func (s *Socket) On(event string, h EventHandler) {
	s.mu.Lock()
	if s.handlers == nil {
		s.handlers = make(map[string][]EventHandler)
	}
	s.handlers[event] = append(s.handlers[event], h)
	s.mu.Unlock()
}

// OnAny registers a handler that sees every event before the specific ones.
func (s *Socket) OnAny(h func(ev *Event)) {
	s.mu.Lock()
	h0 := s.hooksLocked()
	h0.any = append(h0.any, h)
	s.mu.Unlock()
}

// OnDisconnect registers a handler called once when the socket disconnects.
// On a socket that has already disconnected (the client may go away while
// the connection handlers still run), h is called at once.
func (s *Socket) OnDisconnect(h func(reason Reason)) {
	s.mu.Lock()
	if reason := s.closeReason; reason != "" {
		s.mu.Unlock()
		h(reason)
		return
	}
	h0 := s.hooksLocked()
	h0.disc = append(h0.disc, h)
	s.mu.Unlock()
}

// Emit sends an event to this socket. Arguments are JSON-encoded; []byte
// values anywhere in them travel as binary attachments.
func (s *Socket) Emit(event string, args ...any) error {
	if reservedEvents[event] {
		return fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	data, att, err := parser.EncodeEvent(event, args...)
	if err != nil {
		return err
	}
	if !s.Connected() {
		return ErrDisconnected
	}
	p := &parser.Packet{Type: parser.Event, Namespace: s.nsp.name, Data: data, Attachments: att}
	if s.nsp.srv.cfg.Recovery != nil {
		// Through the adapter, so the packet gets an offset and is kept for
		// a client that reconnects.
		s.nsp.adapter.Broadcast(p, BroadcastOptions{Rooms: []string{s.id}, Local: true})
		return nil
	}
	s.client.writePacket(p)
	return nil
}

// EmitRaw sends an event whose arguments are already encoded: args is a
// JSON array (binary placeholders allowed) and att the attachments, as
// returned by Event.ArgsJSON.
func (s *Socket) EmitRaw(event string, args json.RawMessage, att [][]byte) error {
	if reservedEvents[event] {
		return fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	name, _ := json.Marshal(event)
	data := make([]byte, 0, len(name)+len(args)+2)
	data = append(data, '[')
	data = append(data, name...)
	if inner := bytesTrimArray(args); len(inner) > 0 {
		data = append(data, ',')
		data = append(data, inner...)
	}
	data = append(data, ']')
	if !s.Connected() {
		return ErrDisconnected
	}
	p := &parser.Packet{Type: parser.Event, Namespace: s.nsp.name, Data: data, Attachments: att}
	if s.nsp.srv.cfg.Recovery != nil {
		s.nsp.adapter.Broadcast(p, BroadcastOptions{Rooms: []string{s.id}, Local: true})
		return nil
	}
	s.client.writePacket(p)
	return nil
}

// bytesTrimArray returns the inside of a JSON array ("[1,2]" → "1,2").
func bytesTrimArray(a json.RawMessage) []byte {
	b := []byte(a)
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return nil
	}
	return b[1 : len(b)-1]
}

// EmitWithAck sends an event and waits for the client's acknowledgement, or
// until ctx ends (ErrAckTimeout when its deadline passed).
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) ([]any, error) {
	type result struct {
		args []any
		err  error
	}
	ch := make(chan result, 1)
	id, err := s.emitAck(event, args, func(raw []json.RawMessage, att [][]byte, err error) {
		if err != nil {
			ch <- result{nil, err}
			return
		}
		vals, err := decodeRawArgs(raw, att)
		ch <- result{vals, err}
	})
	if err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.args, r.err
	case <-ctx.Done():
		s.mu.Lock()
		delete(s.acks, id)
		s.mu.Unlock()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, ErrAckTimeout
		}
		return nil, ctx.Err()
	}
}

// EmitCallback sends an event and calls cb with the client's
// acknowledgement, or with ErrAckTimeout after timeout (0: no timeout), or
// ErrDisconnected. It does not block: use it from event handlers.
func (s *Socket) EmitCallback(event string, args []any, timeout time.Duration, cb func(args []any, err error)) error {
	var timer *time.Timer
	var once sync.Once
	call := func(a []any, err error) { once.Do(func() { cb(a, err) }) }
	id, err := s.emitAck(event, args, func(raw []json.RawMessage, att [][]byte, err error) {
		if timer != nil {
			timer.Stop()
		}
		if err != nil {
			call(nil, err)
			return
		}
		vals, err := decodeRawArgs(raw, att)
		call(vals, err)
	})
	if err != nil {
		return err
	}
	if timeout > 0 {
		timer = time.AfterFunc(timeout, func() {
			s.mu.Lock()
			delete(s.acks, id)
			s.mu.Unlock()
			call(nil, ErrAckTimeout)
		})
	}
	return nil
}

func (s *Socket) emitAck(event string, args []any, cb func([]json.RawMessage, [][]byte, error)) (uint64, error) {
	if reservedEvents[event] {
		return 0, fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	data, att, err := parser.EncodeEvent(event, args...)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	if !s.connected.Load() {
		s.mu.Unlock()
		return 0, ErrDisconnected
	}
	id := s.nextAck
	s.nextAck++
	if s.acks == nil {
		s.acks = make(map[uint64]func([]json.RawMessage, [][]byte, error))
	}
	s.acks[id] = cb
	s.mu.Unlock()
	s.client.writePacket(&parser.Packet{Type: parser.Event, Namespace: s.nsp.name, ID: id, HasID: true, Data: data, Attachments: att})
	return id, nil
}

func decodeRawArgs(raw []json.RawMessage, att [][]byte) ([]any, error) {
	if len(raw) == 0 {
		return []any{}, nil
	}
	return parser.DecodeArgs(joinArray(raw), att)
}

// Join adds the socket to rooms.
func (s *Socket) Join(rooms ...string) { s.nsp.adapter.AddAll(s.id, rooms) }

// Leave removes the socket from a room.
func (s *Socket) Leave(room string) { s.nsp.adapter.Del(s.id, room) }

// Rooms returns the rooms the socket is in (its own id included).
func (s *Socket) Rooms() []string { return s.nsp.adapter.SocketRooms(s.id) }

// To returns a broadcast to rooms that excludes this socket.
func (s *Socket) To(rooms ...string) *BroadcastOperator {
	return s.nsp.newOperator().To(rooms...).Except(s.id)
}

// Broadcast returns a broadcast to every socket of the namespace but this one.
func (s *Socket) Broadcast() *BroadcastOperator { return s.nsp.newOperator().Except(s.id) }

// Disconnect disconnects the socket from its namespace ("server namespace
// disconnect"); with close, the whole connection is closed, disconnecting
// the client's other namespaces too.
func (s *Socket) Disconnect(close bool) {
	if close {
		s.client.mu.Lock()
		all := append([]*Socket(nil), s.client.sockets...)
		s.client.mu.Unlock()
		for _, o := range all {
			o.Disconnect(false)
		}
		s.client.conn.Close(engineio.ReasonForcedClose)
		return
	}
	if !s.Connected() {
		return
	}
	s.client.writePacket(&parser.Packet{Type: parser.Disconnect, Namespace: s.nsp.name})
	s.onClose(ReasonServerNamespaceDisconnect)
}

// onPacket handles a packet for this socket's namespace.
func (s *Socket) onPacket(p *parser.Packet) {
	switch p.Type {
	case parser.Event, parser.BinaryEvent:
		name, isNum, err := parser.EventName(p.Data)
		if err != nil || isNum {
			s.client.closeWith(ReasonParseError)
			return
		}
		ev := &Event{Socket: s, Name: name, data: p.Data, attachments: p.Attachments, ackID: p.ID, hasAck: p.HasID}
		s.dispatch(ev)
	case parser.Ack, parser.BinaryAck:
		s.mu.Lock()
		cb := s.acks[p.ID]
		delete(s.acks, p.ID)
		s.mu.Unlock()
		if cb == nil {
			return // late (timed out) or unknown ack
		}
		raw, err := parser.RawArgs(p.Data)
		cb(raw, p.Attachments, err)
	case parser.Disconnect:
		s.onClose(ReasonClientNamespaceDisconnect)
	default:
		s.client.closeWith(ReasonParseError)
	}
}

func (s *Socket) dispatch(ev *Event) {
	s.mu.Lock()
	if !s.connected.Load() {
		s.mu.Unlock()
		return
	}
	var anys []func(*Event)
	if s.hooks != nil {
		anys = s.hooks.any
	}
	hs := s.handlers[ev.Name]
	s.mu.Unlock()
	s.nsp.mu.RLock()
	shared := s.nsp.handlers[ev.Name]
	nspAny := s.nsp.onAny
	s.nsp.mu.RUnlock()
	for _, h := range nspAny {
		h(ev)
	}
	for _, h := range anys {
		h(ev)
	}
	for _, h := range hs {
		h(ev)
	}
	for _, h := range shared {
		h(ev)
	}
}

// onClose disconnects the socket once: leaves every room, fails pending
// acks, runs the disconnect handlers.
func (s *Socket) onClose(reason Reason) {
	s.mu.Lock()
	if !s.connected.Load() {
		s.mu.Unlock()
		return
	}
	s.connected.Store(false)
	s.closeReason = reason
	acks := s.acks
	s.acks = nil
	var handlers []func(Reason)
	if s.hooks != nil {
		handlers = s.hooks.disc
	}
	s.mu.Unlock()
	if s.nsp.srv.cfg.Recovery != nil && recoverable(reason) {
		s.nsp.adapter.PersistSession(&RecoveryState{
			SID: s.id, PID: s.pid, Rooms: s.Rooms(), Data: s.Data(),
		})
	}
	s.nsp.remove(s)
	s.client.remove(s)
	for _, cb := range acks {
		cb(nil, nil, ErrDisconnected)
	}
	for _, h := range handlers {
		h(reason)
	}
	s.nsp.mu.RLock()
	nspDisc := s.nsp.onDisc
	s.nsp.mu.RUnlock()
	for _, h := range nspDisc {
		h(s, reason)
	}
}

// recoverable: the reasons after which a client may come back and recover
// its state (Node: every reason but explicit disconnects).
func recoverable(r Reason) bool {
	switch r {
	case ReasonClientNamespaceDisconnect, ReasonServerNamespaceDisconnect, ReasonServerShutdown:
		return false
	}
	return true
}
