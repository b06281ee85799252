package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	sio "github.com/banter-chat/banter/socketio/parser"
)

// SocketOptions configures a namespace's socket.
type SocketOptions struct {
	// Auth is the handshake auth payload (socket.handshake.auth on the
	// server). AuthFunc, if set, is called before every connection attempt
	// instead (to send a fresh token).
	Auth     map[string]any
	AuthFunc func() map[string]any
}

// Socket is the client side of one namespace. See the package doc for the
// concurrency contract.
type Socket struct {
	m    *Manager
	nsp  string
	opts SocketOptions

	mu           sync.Mutex
	handlers     map[string][]func(*Event)
	onConnect    []func()
	onDisconnect []func(Reason)
	onConnectErr []func(error)
	active       bool // the user wants it connected
	connected    bool
	eng          *engine // the connection it is connected on
	id, pid      string
	offset       string
	recovered    bool
	buf          []*sio.Packet // emits waiting for a connection
	rbuf         []*sio.Packet // events received before the CONNECT reply
	nextAck      uint64
	acks         map[uint64]*pendingAck
	waiters      []chan error
	lastErr      error // the last failed attempt, for Connect's error
}

type pendingAck struct {
	ch   chan ackResult // buffered 1
	sent bool           // written on a connection (lost if it drops)
}

type ackResult struct {
	args *Args
	err  error
}

func newSocket(m *Manager, nsp string, opts SocketOptions) *Socket {
	return &Socket{m: m, nsp: nsp, opts: opts, handlers: map[string][]func(*Event){}, acks: map[uint64]*pendingAck{}}
}

// Manager returns the socket's manager.
func (s *Socket) Manager() *Manager { return s.m }

// Namespace returns the namespace, e.g. "/".
func (s *Socket) Namespace() string { return s.nsp }

// ID returns the socket id the server gave, "" while disconnected.
func (s *Socket) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// Connected reports whether the namespace is connected now.
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// Recovered reports whether the last connection restored the previous
// session (connection state recovery): same id, rooms kept, and the events
// missed while disconnected delivered.
func (s *Socket) Recovered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recovered
}

func (s *Socket) isActive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// On registers a handler for event. Handlers of one event run in the order
// registered.
func (s *Socket) On(event string, h func(*Event)) {
	s.mu.Lock()
	s.handlers[event] = append(s.handlers[event], h)
	s.mu.Unlock()
}

// Off removes every handler of event.
func (s *Socket) Off(event string) {
	s.mu.Lock()
	delete(s.handlers, event)
	s.mu.Unlock()
}

// OnConnect registers f, called on every (re)connection of the namespace.
func (s *Socket) OnConnect(f func()) {
	s.mu.Lock()
	s.onConnect = append(s.onConnect, f)
	s.mu.Unlock()
}

// OnDisconnect registers f, called with the reason whenever a connected
// socket is disconnected. If reason.Reconnects(), the manager reconnects.
func (s *Socket) OnDisconnect(f func(Reason)) {
	s.mu.Lock()
	s.onDisconnect = append(s.onDisconnect, f)
	s.mu.Unlock()
}

// OnConnectError registers f, called when a connection attempt fails: with
// a *ConnectError when the server refused the namespace (not retried),
// with an error wrapping ErrTransport when the server could not be reached
// (retried), or ErrReconnectFailed when the manager gave up.
func (s *Socket) OnConnectError(f func(error)) {
	s.mu.Lock()
	s.onConnectErr = append(s.onConnectErr, f)
	s.mu.Unlock()
}

// Open makes the socket active: the manager connects (and reconnects) it
// in the background. It returns at once.
func (s *Socket) Open() error {
	s.mu.Lock()
	wasActive := s.active
	s.active = true
	s.mu.Unlock()
	if err := s.m.start(); err != nil {
		return err
	}
	if !wasActive {
		// The connection may already be open for another namespace.
		if eng := s.m.current(); eng != nil {
			s.sendConnect(eng)
		}
	}
	return nil
}

// Connect is Open, then waits until the namespace is connected. It returns
// a *ConnectError if the server refuses it, ErrReconnectFailed if the
// manager gave up, ErrDisconnected if Disconnect was called meanwhile, or
// ctx's error (joined with the last transport error) if ctx ends first;
// the socket then keeps trying in the background until Disconnect.
func (s *Socket) Connect(ctx context.Context) error {
	ch := make(chan error, 1)
	s.mu.Lock()
	if s.connected {
		s.mu.Unlock()
		return nil
	}
	s.waiters = append(s.waiters, ch)
	s.mu.Unlock()
	if err := s.Open(); err != nil {
		return err
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		s.mu.Lock()
		last := s.lastErr
		s.waiters = slices.DeleteFunc(s.waiters, func(c chan error) bool { return c == ch })
		s.mu.Unlock()
		return errors.Join(ctx.Err(), last)
	}
}

// wakeLocked answers every Connect waiting with a final outcome.
func (s *Socket) wakeLocked(err error) {
	for _, ch := range s.waiters {
		ch <- err
	}
	s.waiters = nil
}

// Disconnect disconnects the namespace (the server sees "client namespace
// disconnect") and stops reconnecting it. Buffered emits are dropped and
// pending acknowledgements fail with ErrDisconnected. When it was the last
// active socket, the connection is closed.
func (s *Socket) Disconnect() {
	s.disconnect(true)
}

func (s *Socket) disconnect(closeIdle bool) {
	s.mu.Lock()
	wasConnected := s.connected
	if s.connected && s.eng != nil {
		sendPacket(s.eng, &sio.Packet{Type: sio.Disconnect, Namespace: s.nsp})
	}
	s.active = false
	s.resetLocked(true)
	s.buf = nil
	s.wakeLocked(ErrDisconnected)
	hooks := s.onDisconnect
	s.mu.Unlock()
	if wasConnected {
		s.dispatchDisconnect(hooks, ReasonClientDisconnect)
	}
	if closeIdle {
		s.m.closeIfIdle()
	}
}

// resetLocked leaves the connected state and fails acknowledgements that
// can no longer come (all of them if all, else those already sent).
func (s *Socket) resetLocked(all bool) {
	s.connected = false
	s.rbuf = nil
	s.eng = nil
	s.id = ""
	for id, a := range s.acks {
		if all || a.sent {
			a.ch <- ackResult{err: ErrDisconnected}
			delete(s.acks, id)
		}
	}
	if all {
		s.buf = nil
	}
}

func (s *Socket) dispatchDisconnect(hooks []func(Reason), r Reason) {
	for _, f := range hooks {
		s.m.disp.do(func() { f(r) })
	}
}

// Emit sends an event. []byte values (at any depth) travel as binary
// attachments. While disconnected the event is buffered, up to
// Config.MaxBufferedEmits. It returns ErrDisconnected if the socket is not
// active, and an error wrapping parser.ErrUnsupportedValue for values JSON
// cannot carry.
func (s *Socket) Emit(event string, args ...any) error {
	p, err := s.eventPacket(event, args)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.emitLocked(p, nil)
}

// EmitWithAck sends an event asking for an acknowledgement and waits for
// it, for ctx's end (the acknowledgement is then ignored), or for the
// connection to drop after it was sent (ErrDisconnected: the server may or
// may not have handled it). An event buffered while disconnected waits for
// the connection.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (*Args, error) {
	p, err := s.eventPacket(event, args)
	if err != nil {
		return nil, err
	}
	a := &pendingAck{ch: make(chan ackResult, 1)}
	s.mu.Lock()
	s.nextAck++
	p.ID, p.HasID = s.nextAck, true
	if err := s.emitLocked(p, a); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	s.acks[p.ID] = a
	s.mu.Unlock()
	select {
	case r := <-a.ch:
		return r.args, r.err
	case <-ctx.Done():
		s.mu.Lock()
		delete(s.acks, p.ID)
		s.mu.Unlock()
		return nil, ctx.Err()
	}
}

func (s *Socket) eventPacket(event string, args []any) (*sio.Packet, error) {
	if sio.ReservedEvent(event) {
		return nil, fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	data, att, err := sio.EncodeEvent(event, args...)
	if err != nil {
		return nil, err
	}
	return &sio.Packet{Type: sio.Event, Namespace: s.nsp, Data: data, Attachments: att}, nil
}

func (s *Socket) emitLocked(p *sio.Packet, a *pendingAck) error {
	if !s.active {
		return ErrDisconnected
	}
	if s.connected {
		if a != nil {
			a.sent = true
		}
		sendPacket(s.eng, p)
		return nil
	}
	if len(s.buf) >= s.m.cfg.MaxBufferedEmits {
		return ErrBufferFull
	}
	s.buf = append(s.buf, p)
	return nil
}

// sendNow sends p if connected (acknowledgements are never buffered: the
// server's request belongs to the connection it came on).
func (s *Socket) sendNow(p *sio.Packet) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.connected {
		return false
	}
	sendPacket(s.eng, p)
	return true
}

// sendConnect asks the server for the namespace on eng, with the auth
// payload plus, for connection state recovery, the previous pid and offset.
func (s *Socket) sendConnect(eng *engine) {
	auth := s.opts.Auth
	if s.opts.AuthFunc != nil {
		auth = s.opts.AuthFunc()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Already asked on this connection: Open and the manager's run loop
	// may both see a fresh connection, and a second CONNECT for a
	// namespace makes the server close the connection (as Node does).
	if !s.active || s.connected || s.eng == eng {
		return
	}
	if s.pid != "" {
		auth = maps.Clone(auth)
		if auth == nil {
			auth = map[string]any{}
		}
		auth["pid"] = s.pid
		auth["offset"] = s.offset
	}
	var data json.RawMessage
	if auth != nil {
		b, err := json.Marshal(auth)
		if err != nil {
			s.m.log.Warn("socket.io client: auth payload cannot be encoded", "err", err)
		} else {
			data = b
		}
	}
	s.eng = eng
	sendPacket(eng, &sio.Packet{Type: sio.Connect, Namespace: s.nsp, Data: data})
}

// onPacket handles a packet for this namespace (on the reader goroutine).
func (s *Socket) onPacket(p *sio.Packet) {
	switch p.Type {
	case sio.Connect:
		var reply struct {
			SID string `json:"sid"`
			PID string `json:"pid"`
		}
		if err := json.Unmarshal(p.Data, &reply); err != nil || reply.SID == "" {
			s.m.log.Debug("socket.io client: bad CONNECT reply", "data", string(p.Data))
			return
		}
		s.mu.Lock()
		if !s.active || s.eng == nil {
			s.mu.Unlock()
			return
		}
		s.connected = true
		s.id = reply.SID
		s.recovered = reply.PID != "" && reply.PID == s.pid
		if reply.PID != s.pid {
			s.pid, s.offset = reply.PID, ""
		}
		for _, q := range s.buf {
			if q.HasID {
				if a := s.acks[q.ID]; a != nil {
					a.sent = true
				}
			}
			sendPacket(s.eng, q)
		}
		s.buf = nil
		s.wakeLocked(nil)
		hooks := s.onConnect
		early := s.rbuf
		s.rbuf = nil
		s.mu.Unlock()
		for _, f := range hooks {
			s.m.disp.do(f)
		}
		// A recovering server (Node) sends the missed events before its
		// CONNECT reply; they are handled after the connect, as in JS.
		for _, q := range early {
			s.onEvent(q)
		}
	case sio.ConnectError:
		ce := &ConnectError{}
		var obj struct {
			Message string `json:"message"`
			Data    any    `json:"data"`
		}
		if err := json.Unmarshal(p.Data, &obj); err == nil && obj.Message != "" {
			ce.Message, ce.Data = obj.Message, obj.Data
		} else if err := json.Unmarshal(p.Data, &ce.Message); err != nil {
			ce.Message = string(p.Data)
		}
		s.fail(ce)
		s.m.closeIfIdle()
	case sio.Disconnect:
		s.mu.Lock()
		wasConnected := s.connected
		s.active = false
		s.resetLocked(true)
		hooks := s.onDisconnect
		s.mu.Unlock()
		if wasConnected {
			s.dispatchDisconnect(hooks, ReasonServerDisconnect)
		}
		s.m.closeIfIdle()
	case sio.Event, sio.BinaryEvent:
		s.mu.Lock()
		if !s.connected {
			if s.active && s.eng != nil {
				s.rbuf = append(s.rbuf, p)
			}
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		s.onEvent(p)
	case sio.Ack, sio.BinaryAck:
		s.mu.Lock()
		a := s.acks[p.ID]
		delete(s.acks, p.ID)
		s.mu.Unlock()
		if a != nil {
			a.ch <- ackResult{args: &Args{data: p.Data, att: p.Attachments}}
		}
	}
}

// onEvent dispatches a received event to its handlers.
func (s *Socket) onEvent(p *sio.Packet) {
	name, _, err := sio.EventName(p.Data)
	if err != nil {
		return
	}
	ev := &Event{Name: name, Args: Args{data: p.Data, att: p.Attachments, skip: 1}, s: s, id: p.ID, hasAck: p.HasID}
	s.mu.Lock()
	// With recovery on, the server appends the event's offset as a last
	// string argument (left in place, as the JS client does).
	if s.pid != "" && !p.HasID {
		if raw := ev.rawArgs(); len(raw) > 0 {
			var off string
			if json.Unmarshal(raw[len(raw)-1], &off) == nil {
				s.offset = off
			}
		}
	}
	hs := s.handlers[name]
	s.mu.Unlock()
	for _, h := range hs {
		s.m.disp.do(func() { h(ev) })
	}
}

// fail deactivates the socket after a refused connection or when the
// manager gave up, and reports err.
func (s *Socket) fail(err error) {
	s.mu.Lock()
	s.active = false
	s.resetLocked(true)
	s.wakeLocked(err)
	hooks := s.onConnectErr
	s.mu.Unlock()
	for _, f := range hooks {
		s.m.disp.do(func() { f(err) })
	}
}

// transportFailed reports a failed connection attempt (retried).
func (s *Socket) transportFailed(err error) {
	s.mu.Lock()
	s.lastErr = err
	hooks := s.onConnectErr
	s.mu.Unlock()
	for _, f := range hooks {
		s.m.disp.do(func() { f(err) })
	}
}

// engineClosed is called when the connection ends.
func (s *Socket) engineClosed(r Reason) {
	s.mu.Lock()
	wasConnected := s.connected
	s.resetLocked(false)
	hooks := s.onDisconnect
	s.mu.Unlock()
	if wasConnected {
		s.dispatchDisconnect(hooks, r)
	}
}
