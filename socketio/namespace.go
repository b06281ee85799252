package socketio

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/banter-chat/banter/engineio"
	"github.com/banter-chat/banter/socketio/parser"
)

// Middleware runs before a socket joins a namespace. A non-nil error
// refuses the connection; a *ConnectError also sends its Data.
type Middleware func(s *Socket) error

// Namespace is a communication channel multiplexed over connections.
type Namespace struct {
	srv     *Server
	name    string
	adapter Adapter

	mu          sync.RWMutex
	sockets     map[string]*Socket
	middlewares []Middleware
	onConnect   []func(*Socket)
	handlers    map[string][]EventHandler // for every socket of the namespace
	onAny       []func(*Event)            // every event of every socket (OnAny)
	onDisc      []func(*Socket, Reason)   // every socket's disconnect (OnDisconnect)

	serverHandlers map[string][]func(*ServerSideEvent) // ServerSideEmit from other nodes
}

func newNamespace(s *Server, name string) *Namespace {
	n := &Namespace{srv: s, name: name, sockets: make(map[string]*Socket)}
	n.adapter = s.cfg.Adapter(n)
	return n
}

// Name returns the namespace name, e.g. "/" or "/admin".
func (n *Namespace) Name() string { return n.name }

// Adapter returns the namespace's adapter.
func (n *Namespace) Adapter() Adapter { return n.adapter }

// Use adds a middleware.
func (n *Namespace) Use(m Middleware) {
	n.mu.Lock()
	n.middlewares = append(n.middlewares, m)
	n.mu.Unlock()
}

// OnConnection registers a handler for new sockets.
func (n *Namespace) OnConnection(h func(*Socket)) {
	n.mu.Lock()
	n.onConnect = append(n.onConnect, h)
	n.mu.Unlock()
}

// On registers an event handler for every socket of the namespace. It
// runs after the socket's own handlers (Socket.On) for that event. Unlike
// Socket.On in a connection handler, it costs no memory per socket: prefer
// it for servers holding many connections. ev.Socket is the sender.
func (n *Namespace) On(event string, h EventHandler) {
	n.mu.Lock()
	if n.handlers == nil {
		n.handlers = make(map[string][]EventHandler)
	}
	n.handlers[event] = append(n.handlers[event], h)
	n.mu.Unlock()
}

// OnAny registers a handler that sees every event of every socket of the
// namespace, before the specific handlers (ev.Socket is the sender). Like
// On, and unlike Socket.OnAny, it costs no memory per socket.
func (n *Namespace) OnAny(h func(ev *Event)) {
	n.mu.Lock()
	n.onAny = append(n.onAny, h)
	n.mu.Unlock()
}

// OnDisconnect registers a handler called once for every socket of the
// namespace that disconnects, after the socket's own (Socket.OnDisconnect):
// without memory per socket.
func (n *Namespace) OnDisconnect(h func(s *Socket, reason Reason)) {
	n.mu.Lock()
	n.onDisc = append(n.onDisc, h)
	n.mu.Unlock()
}

// Socket returns the connected socket with the given id on this node.
func (n *Namespace) Socket(id string) *Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.sockets[id]
}

// Len returns the number of sockets connected to the namespace on this node.
func (n *Namespace) Len() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.sockets)
}

func (n *Namespace) newOperator() *BroadcastOperator { return &BroadcastOperator{nsp: n} }

// To returns a broadcast to the given rooms.
func (n *Namespace) To(rooms ...string) *BroadcastOperator { return n.newOperator().To(rooms...) }

// In is To.
func (n *Namespace) In(rooms ...string) *BroadcastOperator { return n.To(rooms...) }

// Except returns a broadcast to all but the given rooms.
func (n *Namespace) Except(rooms ...string) *BroadcastOperator {
	return n.newOperator().Except(rooms...)
}

// Emit broadcasts an event to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...any) error {
	return n.newOperator().Emit(event, args...)
}

// add runs the connection sequence of a new socket: recovery, middlewares,
// CONNECT reply, connection handlers.
func (n *Namespace) add(c *client, auth map[string]any, nspQuery string) {
	hs := c.conn.Handshake()
	if auth == nil {
		auth = map[string]any{}
	}
	s := &Socket{
		nsp:    n,
		client: c,
		handshake: Handshake{
			Auth: auth, Address: hs.RemoteAddr, Time: hs.Time, Secure: hs.Secure, URL: hs.URL,
			eng: hs, nspQuery: nspQuery,
		},
	}
	var restored *RecoveryState
	var offset string
	if n.srv.cfg.Recovery != nil {
		if pid, _ := auth["pid"].(string); pid != "" {
			offset, _ = auth["offset"].(string)
			if sess, ok := n.adapter.RestoreSession(pid, offset); ok {
				s.id, s.pid, s.recovered, s.data = sess.SID, sess.PID, true, sess.Data
				restored = sess
			}
		}
		delete(auth, "pid")
		delete(auth, "offset")
		if s.pid == "" {
			s.pid = engineioID()
		}
	}
	if s.id == "" {
		s.id = engineioID()
	}
	n.mu.RLock()
	mws := n.middlewares
	n.mu.RUnlock()
	if !(s.recovered && n.srv.cfg.Recovery.SkipMiddlewares) {
		for _, mw := range mws {
			if err := mw(s); err != nil {
				msg, data := err.Error(), any(nil)
				if ce, ok := err.(*ConnectError); ok {
					data = ce.Data
				}
				c.sendConnectError(n.name, msg, data)
				return
			}
		}
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	// Connected before it is visible in c.sockets, under c.mu: a concurrent
	// client.OnClose either sees it (and disconnects it) or we see c.closed.
	s.mu.Lock()
	s.connected.Store(true)
	s.mu.Unlock()
	c.sockets = append(c.sockets, s)
	c.mu.Unlock()
	var data json.RawMessage
	if c.protocol == 5 {
		reply := struct {
			SID string `json:"sid"`
			PID string `json:"pid,omitempty"`
		}{s.id, s.pid}
		data, _ = json.Marshal(reply)
	}
	var handlers []func(*Socket)
	// Like Node, whose connection handlers run before the CONNECT reply
	// leaves: the connection is corked until the handlers return, so a
	// client that sees CONNECT finds the rooms they joined already joined.
	// A handler that writes to its socket (Emit, an ack) uncorks it at
	// once, CONNECT first: it never waits on itself.
	c.conn.Cork()
	defer c.conn.Uncork()
	n.adapter.Attach(s.id, restored, offset, func(missed []*parser.Packet) {
		n.mu.Lock()
		n.sockets[s.id] = s
		handlers = n.onConnect
		n.mu.Unlock()
		// Like Node: a recovered client gets what it missed, then CONNECT
		// (socket.io-client buffers events until it is connected).
		for _, p := range missed {
			c.enqueuePacket(p)
		}
		c.enqueuePacket(&parser.Packet{Type: parser.Connect, Namespace: n.name, Data: data})
	})
	for _, h := range handlers {
		h(s)
	}
}

func (n *Namespace) remove(s *Socket) {
	n.mu.Lock()
	if n.sockets[s.id] == s {
		delete(n.sockets, s.id)
	}
	n.mu.Unlock()
	n.adapter.DelAll(s.id)
}

// engineioID returns a fresh unguessable id (same form as session ids).
func engineioID() string { return engineio.NewID() }

// Timeout returns a broadcast to every socket whose EmitWithAck waits d.
func (n *Namespace) Timeout(d time.Duration) *BroadcastOperator {
	return n.newOperator().Timeout(d)
}

// Volatile returns a broadcast that may be dropped for busy clients.
func (n *Namespace) Volatile() *BroadcastOperator { return n.newOperator().Volatile() }

// Local returns a broadcast restricted to this node.
func (n *Namespace) Local() *BroadcastOperator { return n.newOperator().Local() }

// FetchSockets returns the sockets of the namespace on every node.
func (n *Namespace) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
	return n.newOperator().FetchSockets(ctx)
}

// SocketsJoin makes every socket of the namespace join rooms.
func (n *Namespace) SocketsJoin(rooms ...string) error { return n.newOperator().SocketsJoin(rooms...) }

// SocketsLeave makes every socket of the namespace leave rooms.
func (n *Namespace) SocketsLeave(rooms ...string) error {
	return n.newOperator().SocketsLeave(rooms...)
}

// DisconnectSockets disconnects every socket of the namespace.
func (n *Namespace) DisconnectSockets(close bool) error {
	return n.newOperator().DisconnectSockets(close)
}
