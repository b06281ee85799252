package socketio

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// RemoteSocket describes a socket of any node of the cluster, as
// FetchSockets returns it (Node's RemoteSocket). Its fields are a snapshot;
// its methods act on the socket wherever it lives, through the adapter.
type RemoteSocket struct {
	ID        string
	Handshake HandshakeInfo
	Rooms     []string // its own room included
	Data      any      // Socket.Data; from another node, as decoded from JSON
	// ClientID and Transport are the socket's connection (its Engine.IO
	// session id) and transport ("polling", "websocket"). Another node
	// sends them only when it is instrumented (Server.Observed), in the
	// data as Node's Admin UI does; otherwise they are empty.
	ClientID  string
	Transport string

	nsp   *Namespace
	local *Socket
}

// HandshakeInfo is the part of a socket's handshake that travels between
// nodes (Node's socket.handshake).
type HandshakeInfo struct {
	Headers http.Header
	Time    time.Time
	Address string
	XDomain bool
	Secure  bool
	URL     string
	Query   url.Values
	Auth    map[string]any
}

// Local returns the socket when it is connected to this node, else nil.
func (r *RemoteSocket) Local() *Socket { return r.local }

// Emit sends an event to the socket, on whichever node it is.
func (r *RemoteSocket) Emit(event string, args ...any) error {
	return r.nsp.To(r.ID).Emit(event, args...)
}

// Join makes the socket join rooms.
func (r *RemoteSocket) Join(rooms ...string) error { return r.nsp.In(r.ID).SocketsJoin(rooms...) }

// Leave makes the socket leave rooms.
func (r *RemoteSocket) Leave(rooms ...string) error { return r.nsp.In(r.ID).SocketsLeave(rooms...) }

// Disconnect disconnects the socket (and with close its whole connection).
func (r *RemoteSocket) Disconnect(close bool) error {
	return r.nsp.In(r.ID).DisconnectSockets(close)
}

// remote describes a local socket as FetchSockets returns it.
func (s *Socket) remote() *RemoteSocket {
	h := s.Handshake()
	return &RemoteSocket{
		ID: s.id,
		Handshake: HandshakeInfo{
			Headers: h.Headers(), Time: h.Time, Address: h.Address, Secure: h.Secure,
			URL: h.URL, Query: h.Query(), Auth: h.Auth,
			// Node: whether the Origin header differs from the host.
			XDomain: h.Headers().Get("Origin") != "",
		},
		Rooms:     s.Rooms(),
		Data:      s.Data(),
		ClientID:  s.ClientID(),
		Transport: s.Transport(),
		nsp:       s.nsp,
		local:     s,
	}
}

// ServerSideEvent is an event another node of the cluster sent with
// Namespace.ServerSideEmit.
type ServerSideEvent struct {
	Name string
	Args []any // as decoded from JSON

	ack   func(any)
	acked atomic.Bool
}

// HasAck reports whether the sender waits for an answer.
func (e *ServerSideEvent) HasAck() bool { return e.ack != nil }

// Ack answers the sender (Node's adapters carry one value per node). Only
// the first call sends; it returns false for later calls and when no
// answer is expected.
func (e *ServerSideEvent) Ack(v any) bool {
	if e.ack == nil || !e.acked.CompareAndSwap(false, true) {
		return false
	}
	e.ack(v)
	return true
}

// OnServerSideEmit registers a handler for events other nodes send to
// this namespace with ServerSideEmit (Node: io.on(event, ...)). Handlers
// run on the adapter's goroutine: a slow one should hand work off.
func (n *Namespace) OnServerSideEmit(event string, h func(*ServerSideEvent)) {
	n.mu.Lock()
	if n.serverHandlers == nil {
		n.serverHandlers = make(map[string][]func(*ServerSideEvent))
	}
	n.serverHandlers[event] = append(n.serverHandlers[event], h)
	n.mu.Unlock()
}

// HandleServerSideEmit is called by cluster adapters with an event another
// node sent; ack is nil when the sender expects no answer. It reports
// whether a handler was registered for the event.
func (n *Namespace) HandleServerSideEmit(event string, args []any, ack func(any)) bool {
	n.mu.RLock()
	hs := n.serverHandlers[event]
	n.mu.RUnlock()
	if len(hs) == 0 {
		return false
	}
	ev := &ServerSideEvent{Name: event, Args: args, ack: ack}
	for _, h := range hs {
		h(ev)
	}
	return true
}

// ServerSideEmit sends an event to this namespace on the other nodes of
// the cluster (not to clients); their OnServerSideEmit handlers get it.
// Arguments travel as JSON ([]byte becomes base64). Without a cluster
// adapter there is no other node and it does nothing.
func (n *Namespace) ServerSideEmit(event string, args ...any) error {
	if reservedEvents[event] {
		return fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	return n.adapter.ServerSideEmit(event, args)
}

// ServerSideEmitWithAck is ServerSideEmit waiting for one answer from every
// other node (ServerSideEvent.Ack). When some do not answer in time (the
// adapter's request timeout, or ctx) it returns the answers received and an
// error.
func (n *Namespace) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]any, error) {
	if reservedEvents[event] {
		return nil, fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	return n.adapter.ServerSideEmitWithAck(ctx, event, args)
}

// AllRooms returns the rooms of the namespace on every node, sockets' own
// rooms included.
func (n *Namespace) AllRooms(ctx context.Context) ([]string, error) {
	return n.adapter.AllRooms(ctx)
}

// ServerCount returns the number of nodes serving the namespace.
func (n *Namespace) ServerCount(ctx context.Context) (int, error) {
	return n.adapter.ServerCount(ctx)
}
