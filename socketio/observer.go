package socketio

import "encoding/json"

// Observer sees what happens on a Server: namespaces, sockets, rooms and
// events, for instrumentation (package socketio/admin serves the official
// Socket.IO Admin UI with it). Install one with Server.Observe.
//
// Its methods are called on the goroutine where the change happens, often
// with socketio's locks and the application's held (a room change inside
// a broadcast, an event sent from a chat fan-out): they must return at
// once, never block and never call back into the Server. An Observer that
// has work to do records what it needs and does the work on a goroutine
// of its own. The arguments are shared and must not be modified; a
// *Socket may be read later (Handshake, Rooms, Data) from that goroutine.
//
// Without an Observer the hooks cost one atomic load per socket event,
// room change and broadcast, and nothing per recipient (a PreparedPacket
// reads the Observer once, when it is prepared: one prepared before
// Observe is not reported).
type Observer interface {
	// NamespaceCreated: n was created (Server.Of, or a dynamic namespace
	// on its first connection). Namespaces created before Observe are not
	// reported: the Observer lists them with Server.Namespaces.
	NamespaceCreated(n *Namespace)
	// SocketConnected: s joined its namespace (CONNECT sent); called
	// before the namespace's connection handlers run.
	SocketConnected(s *Socket)
	// SocketDisconnected: s left its namespace, for reason.
	SocketDisconnected(s *Socket, reason Reason)
	// RoomJoined and RoomLeft: socket id of n joined or left room (its own
	// room, named by its id, included). Called once per actual change.
	RoomJoined(n *Namespace, room, id string)
	RoomLeft(n *Namespace, room, id string)
	// EventReceived: s received an event; data is the JSON array
	// [name, args...] with binary placeholders, att its attachments.
	EventReceived(s *Socket, data json.RawMessage, att [][]byte)
	// EventSent: a broadcast's event (data and att as for EventReceived)
	// was handed to the sockets ids of n, every recipient on this node: one
	// call per broadcast, made only while Active. ids is the Observer's to
	// keep.
	EventSent(n *Namespace, ids []string, data json.RawMessage, att [][]byte)
	// EventSentTo: an event was handed to socket s alone (Emit, an emit
	// with acknowledgement, a prepared packet's Send, Enqueue or
	// SendVolatile).
	EventSentTo(s *Socket, data json.RawMessage, att [][]byte)
	// Active reports whether the Observer records events now. A hook whose
	// report costs work per recipient (collecting a broadcast's ids) is
	// skipped while it is false.
	Active() bool
	// DataChanged: s's Data was replaced (Socket.SetData).
	DataChanged(s *Socket)
}

// observerBox lets an interface value live in an atomic.Pointer.
type observerBox struct{ o Observer }

// Observe installs o (nil removes the current one). Namespaces created from
// now on are reported to o; it sees the sockets, rooms and events of every
// namespace.
func (s *Server) Observe(o Observer) {
	if o == nil {
		s.obs.Store(nil)
		return
	}
	s.obs.Store(&observerBox{o})
}

// Observed reports whether an Observer is installed.
func (s *Server) Observed() bool { return s.obs.Load() != nil }

// observer returns the installed Observer or nil.
func (s *Server) observer() Observer {
	if b := s.obs.Load(); b != nil {
		return b.o
	}
	return nil
}

// Namespace returns the namespace named name if it exists (unlike Of, it
// never creates one), else nil.
func (s *Server) Namespace(name string) *Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nsps[name]
}

// Namespaces returns the server's namespaces.
func (s *Server) Namespaces() []*Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Namespace, 0, len(s.nsps))
	for _, n := range s.nsps {
		out = append(out, n)
	}
	return out
}

// Server returns the server the namespace belongs to.
func (n *Namespace) Server() *Server { return n.srv }

// Transport returns the name of the Engine.IO transport the socket uses
// now: "polling" or "websocket".
func (s *Socket) Transport() string { return s.client.conn.Transport() }

// ClientID returns the id of the socket's connection (its Engine.IO
// session id), which its sockets of other namespaces share.
func (s *Socket) ClientID() string { return s.client.conn.ID() }

// sentTo reports an event sent to one socket.
func (s *Socket) sentTo(o Observer, data json.RawMessage, att [][]byte) {
	o.EventSentTo(s, data, att)
}
