// Package socketio is a Socket.IO server (protocol v5 for socket.io-client
// 3.x/4.x, v4 for socket.io-client 1.x/2.x and old native apps) on top of
// package engineio. Its API follows Node's socket.io 4.x.
//
// Entry points: NewServer returns a Server, an http.Handler to mount at
// "/socket.io/" that also serves the official browser client bundle.
// Server.Of returns a namespace; Namespace.OnConnection receives sockets;
// Socket.On registers event handlers; Emit, To/In/Except and Timeout build
// emits and broadcasts; Namespace.PrepareEvent encodes an event once for a
// fan-out whose recipients the caller picks (Socket.Enqueue,
// SendVolatile). Broadcasts and the cluster operations (FetchSockets,
// SocketsJoin, ServerSideEmit...) go through each namespace's Adapter:
// in-memory by default, socketio/redisadapter for a cluster of Banter and
// Node Socket.IO servers.
//
// Concurrency: the handlers of one client connection run one at a time, in
// packet order, on a goroutine of the transport (an HTTP request or the
// WebSocket event loop's pool); a slow handler delays only its own
// connection. Every method is safe for concurrent use. A broadcast is encoded
// once; the same bytes go to every recipient.
package socketio

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/banter-chat/banter/engineio"
	"github.com/banter-chat/banter/socketio/clientdist"
)

// Config configures a Server. Zero values mean defaults.
type Config struct {
	// Engine configures the Engine.IO layer (heartbeat, payload limit, CORS,
	// AllowRequest...). Its OnConnection is set by the Server.
	Engine engineio.Config
	// ConnectTimeout closes a connection that joins no namespace in time
	// (default 45s, as Node).
	ConnectTimeout time.Duration
	// Adapter creates the adapter of each namespace (default: in-memory).
	Adapter func(*Namespace) Adapter
	// Recovery enables connection state recovery (Socket.IO 4.6+): a client
	// that reconnects within the window gets its id, rooms and missed
	// packets back.
	Recovery *RecoveryConfig
	// ClientBundle serves the official browser client (socket.io.js,
	// socket.io.min.js and their maps) under the Socket.IO path, like Node
	// does. Nil means clientdist.Handler(), the bundle embedded at build time.
	ClientBundle http.Handler
	// DisableClientBundle stops serving the client bundle.
	DisableClientBundle bool
	// MaxAttachments bounds binary attachments per packet (default 10).
	MaxAttachments int
	Logger         *slog.Logger
}

// RecoveryConfig configures connection state recovery.
type RecoveryConfig struct {
	// MaxDisconnectionDuration is how long a session is kept after its
	// connection drops (default 2 minutes).
	MaxDisconnectionDuration time.Duration
	// SkipMiddlewares skips middlewares for recovered sockets (default false).
	SkipMiddlewares bool
	// MaxMissedBytes bounds the replay: a session that missed more than
	// this (the packets' sizes) is not recovered; the client gets a new
	// session (socket.recovered is false) and resyncs as after any
	// unrecoverable disconnect. Without the bound a replay bigger than the
	// session's send buffer would close it as a slow consumer, and the
	// client would retry the same recovery forever. Default: half the
	// Engine.IO MaxBufferedBytes.
	MaxMissedBytes int
}

// Server is a Socket.IO server.
type Server struct {
	cfg    Config
	log    *slog.Logger
	engine *engineio.Server
	bundle http.Handler

	mu      sync.RWMutex
	nsps    map[string]*Namespace
	parents []*parentNamespace
}

type parentNamespace struct {
	match func(name string, auth map[string]any) bool
	setup func(*Namespace)
}

// NewServer returns a server with the namespace "/" already created.
func NewServer(cfg Config) *Server {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 45 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Adapter == nil {
		cfg.Adapter = func(n *Namespace) Adapter { return NewMemoryAdapter(n) }
	}
	if r := cfg.Recovery; r != nil {
		if r.MaxDisconnectionDuration <= 0 {
			r.MaxDisconnectionDuration = 2 * time.Minute
		}
		if r.MaxMissedBytes <= 0 {
			buffered := cfg.Engine.MaxBufferedBytes
			if buffered <= 0 {
				buffered = 4 << 20 // engineio's default
			}
			r.MaxMissedBytes = buffered / 2
		}
	}
	s := &Server{cfg: cfg, log: cfg.Logger, nsps: make(map[string]*Namespace)}
	ecfg := cfg.Engine
	if ecfg.Logger == nil {
		ecfg.Logger = cfg.Logger
	}
	ecfg.OnConnection = s.onEngineConnection
	s.engine = engineio.NewServer(ecfg)
	switch {
	case cfg.DisableClientBundle:
	case cfg.ClientBundle != nil:
		s.bundle = cfg.ClientBundle
	default:
		s.bundle = clientdist.Handler()
	}
	s.Of("/")
	return s
}

// Engine returns the underlying Engine.IO server.
func (s *Server) Engine() *engineio.Server { return s.engine }

// ServeHTTP serves the Engine.IO endpoint and the client bundle
// (socket.io.js, socket.io.min.js and their source maps).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.bundle != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) && !r.URL.Query().Has("EIO") {
		last := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		if strings.HasPrefix(last, "socket.io") && (strings.HasSuffix(last, ".js") || strings.HasSuffix(last, ".map")) {
			s.bundle.ServeHTTP(w, r)
			return
		}
	}
	s.engine.ServeHTTP(w, r)
}

// Of returns the namespace with the given name, creating it if needed.
func (s *Server) Of(name string) *Namespace {
	if name == "" || name[0] != '/' {
		name = "/" + name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.nsps[name]; ok {
		return n
	}
	n := newNamespace(s, name)
	s.nsps[name] = n
	return n
}

// OfFunc registers dynamic namespaces: a client connecting to an unknown
// namespace for which match returns true creates it, and setup (which may
// be nil) configures it before the socket joins it.
func (s *Server) OfFunc(match func(name string, auth map[string]any) bool, setup func(*Namespace)) {
	s.mu.Lock()
	s.parents = append(s.parents, &parentNamespace{match: match, setup: setup})
	s.mu.Unlock()
}

// OfRegexp is OfFunc with a name pattern.
func (s *Server) OfRegexp(re *regexp.Regexp, setup func(*Namespace)) {
	s.OfFunc(func(name string, _ map[string]any) bool { return re.MatchString(name) }, setup)
}

// lookupNamespace finds or creates (dynamically) the namespace for a CONNECT.
func (s *Server) lookupNamespace(name string, auth map[string]any) *Namespace {
	s.mu.RLock()
	n := s.nsps[name]
	parents := s.parents
	s.mu.RUnlock()
	if n != nil {
		return n
	}
	for _, p := range parents {
		if p.match(name, auth) {
			s.mu.Lock()
			n, ok := s.nsps[name]
			if !ok {
				n = newNamespace(s, name)
				s.nsps[name] = n
			}
			s.mu.Unlock()
			if !ok && p.setup != nil {
				p.setup(n)
			}
			return n
		}
	}
	return nil
}

func (s *Server) onEngineConnection(conn *engineio.Socket) {
	c := newClient(s, conn)
	conn.SetHandler(c)
	c.start()
}

// Shutdown disconnects every socket with reason "server shutting down",
// closes every connection and waits until they are gone or ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.engine.Shutdown(ctx)
}

// To is Of("/").To: a broadcast to rooms of the main namespace.
func (s *Server) To(rooms ...string) *BroadcastOperator { return s.Of("/").To(rooms...) }

// Emit broadcasts an event to every socket of the main namespace.
func (s *Server) Emit(event string, args ...any) error { return s.Of("/").Emit(event, args...) }
