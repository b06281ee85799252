// Package admin is the server side of the official Socket.IO Admin UI
// (npm @socket.io/admin-ui 0.5.x) for a socketio.Server: what Node's
// instrument(io, options) does, so the unchanged dashboard (the package's
// ui/dist, served by package socketio/admin/ui) shows this server's
// namespaces, sockets (transport, handshake, data), rooms, clients and live
// events, its traffic charts, and runs its actions: emit, join, leave and
// disconnect, on this node and, through a cluster adapter
// (socketio/redisadapter), on every node.
//
// Entry points: Instrument(srv, Config) creates the admin namespace
// ("/admin") with Node's basic authentication (a bcrypt hash, as Node
// expects it) and starts the instrumentation; Close stops it.
//
// What the dashboard receives, as from Node: "config" and, in development
// mode, "all_sockets" on connection; "server_stats" every two seconds from
// every node (the sockets per namespace, connection counts and the
// aggregated traffic: connections, disconnections by reason, packets and
// bytes each way); in development mode the live events socket_connected,
// socket_updated, socket_disconnected, room_joined, room_left,
// event_received and event_sent (one per recipient socket, as Node does).
// Production mode sends only config and server_stats, and installs no
// socketio.Observer: its cost is one timer.
//
// Concurrency and cost: the socketio.Observer hooks only append a small
// record to a bounded buffer under a mutex; one goroutine turns the records
// into admin events and broadcasts them on the admin namespace (through its
// adapter, so a cluster's dashboards see every node). Nothing waits for
// the dashboard: when the buffer is full (Config.MaxPending) records are
// dropped and counted (Admin.Dropped). Every method is safe for concurrent
// use.
package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/banter-chat/banter/socketio"
)

// Features, as the dashboard knows them.
const (
	FeatureEmit             = "EMIT"
	FeatureJoin             = "JOIN"
	FeatureLeave            = "LEAVE"
	FeatureDisconnect       = "DISCONNECT"
	FeatureMJoin            = "MJOIN"
	FeatureMLeave           = "MLEAVE"
	FeatureMDisconnect      = "MDISCONNECT"
	FeatureAggregatedEvents = "AGGREGATED_EVENTS"
	FeatureAllEvents        = "ALL_EVENTS"
)

// ErrInvalidCredentials is the CONNECT_ERROR message of a refused login
// (the dashboard recognizes it).
var ErrInvalidCredentials = errors.New("invalid credentials")

// ErrConfig is wrapped by Instrument's configuration errors.
var ErrConfig = errors.New("admin: invalid configuration")

// BasicAuth is Node's {type: "basic", username, password}: the password is
// a bcrypt hash ($2a$, $2b$ or $2y$).
type BasicAuth struct {
	Username     string
	PasswordHash string
}

// Config configures the instrumentation. Auth or NoAuth must be set, as
// Node requires the auth option.
type Config struct {
	// Namespace is the admin namespace (default "/admin").
	Namespace string
	// Auth is the dashboard's login. Nil needs NoAuth.
	Auth *BasicAuth
	// NoAuth lets anyone who reaches the server use the dashboard (Node's
	// auth: false).
	NoAuth bool
	// ReadOnly offers no action (emit, join, leave, disconnect).
	ReadOnly bool
	// Production is Node's mode "production": no socket details, rooms or
	// live events, only the statistics.
	Production bool
	// ServerID names this node on the dashboard's Servers page (default
	// the host name; give nodes on one machine distinct ids).
	ServerID string
	// Store keeps the dashboard's session ids, so a reconnecting dashboard
	// need not log in again (default in memory; in a cluster without
	// sticky sessions use one every node shares, NewRedisStore).
	Store SessionStore
	// StatsInterval is the period of server_stats (default 2s, as Node).
	StatsInterval time.Duration
	// MaxPending bounds the live events waiting to be sent (default
	// 65536); past it they are dropped and counted.
	MaxPending int
	Logger     *slog.Logger
}

// Admin is the instrumentation of one server.
type Admin struct {
	cfg      Config
	log      *slog.Logger
	srv      *socketio.Server
	nsp      *socketio.Namespace
	features []string
	hash     []byte
	server   serverInfo

	sessions sync.Map // *socketio.Socket → session id to send once connected

	// dashboards counts the admin sockets of this node; clustered: the
	// admin namespace's adapter reaches other nodes (observer.live).
	dashboards atomic.Int64
	clustered  bool

	rec recorder

	ctx    context.Context
	cancel context.CancelFunc
	wgMu   sync.Mutex // orders wg.Add against Close's Wait
	closed bool
	wg     sync.WaitGroup
}

type serverInfo struct {
	id, hostname string
	pid          int
}

// Instrument serves the Admin UI's protocol on srv. Call it before the
// server accepts connections (sockets already connected are listed by
// all_sockets, but their earlier room changes were not seen).
func Instrument(srv *socketio.Server, cfg Config) (*Admin, error) {
	if cfg.Namespace == "" {
		cfg.Namespace = "/admin"
	}
	if cfg.Namespace[0] != '/' {
		cfg.Namespace = "/" + cfg.Namespace
	}
	if cfg.StatsInterval <= 0 {
		cfg.StatsInterval = 2 * time.Second
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 65536
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore(0)
	}
	a := &Admin{cfg: cfg, log: cfg.Logger, srv: srv}
	switch {
	case cfg.Auth != nil:
		if cfg.Auth.Username == "" {
			return nil, fmt.Errorf("%w: the username is empty", ErrConfig)
		}
		if _, err := bcrypt.Cost([]byte(cfg.Auth.PasswordHash)); err != nil {
			return nil, fmt.Errorf("%w: the password must be a valid bcrypt hash ($2a$, $2b$ or $2y$): %v", ErrConfig, err)
		}
		a.hash = []byte(cfg.Auth.PasswordHash)
	case !cfg.NoAuth:
		return nil, fmt.Errorf("%w: set Auth (a username and a bcrypt hash) or, explicitly, NoAuth", ErrConfig)
	}
	host, _ := os.Hostname()
	a.server = serverInfo{id: cfg.ServerID, hostname: host, pid: os.Getpid()}
	if a.server.id == "" {
		a.server.id = host
	}
	if !cfg.ReadOnly {
		a.features = []string{FeatureEmit, FeatureJoin, FeatureLeave, FeatureDisconnect, FeatureMJoin, FeatureMLeave, FeatureMDisconnect}
	}
	a.features = append(a.features, FeatureAggregatedEvents)
	if !cfg.Production {
		a.features = append(a.features, FeatureAllEvents)
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.rec.init(cfg.MaxPending)

	a.nsp = srv.Of(cfg.Namespace)
	_, local := a.nsp.Adapter().(*socketio.MemoryAdapter)
	a.clustered = !local
	if !cfg.Production {
		// Last: the hooks read what is above.
		srv.Observe((*observer)(a))
	}
	if !cfg.NoAuth {
		a.nsp.Use(a.authenticate)
	}
	if !cfg.ReadOnly {
		a.nsp.On("emit", a.onEmit)
		a.nsp.On("join", a.onJoin)
		a.nsp.On("leave", a.onLeave)
		a.nsp.On("_disconnect", a.onDisconnect)
	}
	a.nsp.OnConnection(a.onConnection)
	a.goTracked(a.run)
	return a, nil
}

// ServerID returns this node's name on the dashboard's Servers page.
func (a *Admin) ServerID() string { return a.server.id }

// Namespace returns the admin namespace.
func (a *Admin) Namespace() *socketio.Namespace { return a.nsp }

// Dropped returns how many live events were dropped because the dashboard
// side could not keep up.
func (a *Admin) Dropped() uint64 { return a.rec.dropped.Load() }

// Close stops the instrumentation (the observer, the statistics) and waits
// for its goroutine. The admin namespace stays; the server's Shutdown
// closes its connections.
func (a *Admin) Close() {
	if !a.cfg.Production {
		a.srv.Observe(nil)
	}
	a.wgMu.Lock()
	a.closed = true
	a.wgMu.Unlock()
	a.cancel()
	a.wg.Wait()
}

// goTracked runs f on a goroutine Close waits for, unless closed.
func (a *Admin) goTracked(f func()) {
	a.wgMu.Lock()
	defer a.wgMu.Unlock()
	if a.closed {
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f()
	}()
}

// authenticate is Node's basic authentication: a session id the store
// knows, or the username and the password (checked against the bcrypt
// hash), which opens a session whose id the dashboard keeps.
func (a *Admin) authenticate(s *socketio.Socket) error {
	auth := s.Handshake().Auth
	if sid, _ := auth["sessionId"].(string); sid != "" {
		ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
		ok, err := a.cfg.Store.Exists(ctx, sid)
		cancel()
		if err != nil {
			a.log.Warn("admin: session store unavailable", "err", err)
		}
		if ok {
			return nil
		}
	}
	user, _ := auth["username"].(string)
	pass, _ := auth["password"].(string)
	if user == a.cfg.Auth.Username && bcrypt.CompareHashAndPassword(a.hash, []byte(pass)) == nil {
		sid := randomID()
		ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
		err := a.cfg.Store.Save(ctx, sid)
		cancel()
		if err != nil {
			a.log.Warn("admin: cannot save the dashboard's session; it will have to log in again", "err", err)
		} else {
			a.sessions.Store(s, sid)
		}
		return nil
	}
	a.log.Info("admin: dashboard login refused", "address", s.Handshake().Address)
	return ErrInvalidCredentials
}

// randomID is a session id as Node makes it: 8 random bytes in hex.
func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (a *Admin) onConnection(s *socketio.Socket) {
	a.dashboards.Add(1)
	s.OnDisconnect(func(socketio.Reason) { a.dashboards.Add(-1) })
	if sid, ok := a.sessions.LoadAndDelete(s); ok {
		_ = s.Emit("session", sid)
	}
	_ = s.Emit("config", map[string]any{"supportedFeatures": a.features})
	if a.cfg.Production {
		return
	}
	// Listing every node's sockets waits for the other nodes: not on the
	// connection's goroutine.
	a.goTracked(func() {
		ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
		defer cancel()
		list, err := a.allSockets(ctx)
		if err != nil {
			a.log.Warn("admin: some nodes did not list their sockets", "err", err)
		}
		_ = s.Emit("all_sockets", list)
	})
}

// allSockets lists the sockets of every namespace on every node.
func (a *Admin) allSockets(ctx context.Context) ([]json.RawMessage, error) {
	out := []json.RawMessage{}
	var errs []error
	for _, n := range a.srv.Namespaces() {
		list, err := n.FetchSockets(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Name(), err))
		}
		for _, r := range list {
			out = append(out, serializeRemote(r, n.Name()))
		}
	}
	return out, errors.Join(errs...)
}

// --- actions ----------------------------------------------------------------

// target is the namespace and the optional filter (a room) of an action;
// nil when the namespace does not exist (Node would create it: an admin
// must not create namespaces by mistyping one).
func (a *Admin) target(ev *socketio.Event, nspArg, filterArg int) *socketio.BroadcastOperator {
	name, err := ev.String(nspArg)
	if err != nil {
		a.log.Debug("admin: action without a namespace", "action", ev.Name, "err", err)
		return nil
	}
	n := a.srv.Namespace(name)
	if n == nil {
		a.log.Debug("admin: action on an unknown namespace", "action", ev.Name, "nsp", name)
		return nil
	}
	op := n.Except() // every socket of the namespace
	var filter string
	if filterArg < ev.NumArgs() {
		_ = ev.Bind(filterArg, &filter) // null or absent: no filter
	}
	if filter != "" {
		op = op.In(filter)
	}
	return op
}

func (a *Admin) onEmit(ev *socketio.Event) {
	op := a.target(ev, 0, 1)
	args, err := ev.Args()
	if op == nil || err != nil || len(args) < 3 {
		return
	}
	name, ok := args[2].(string)
	if !ok || name == "" {
		return
	}
	if err := op.Emit(name, args[3:]...); err != nil {
		a.log.Debug("admin: emit refused", "event", name, "err", err)
	}
}

func (a *Admin) onJoin(ev *socketio.Event)  { a.roomAction(ev, true) }
func (a *Admin) onLeave(ev *socketio.Event) { a.roomAction(ev, false) }

func (a *Admin) roomAction(ev *socketio.Event, join bool) {
	op := a.target(ev, 0, 2)
	room, err := ev.String(1)
	if op == nil || err != nil || room == "" {
		return
	}
	if join {
		err = op.SocketsJoin(room)
	} else {
		err = op.SocketsLeave(room)
	}
	if err != nil {
		a.log.Warn("admin: room action not sent to every node", "action", ev.Name, "err", err)
	}
}

func (a *Admin) onDisconnect(ev *socketio.Event) {
	op := a.target(ev, 0, 2)
	var close bool // absent: false, as in Node
	if op == nil || (ev.NumArgs() > 1 && ev.Bind(1, &close) != nil) {
		return
	}
	if err := op.DisconnectSockets(close); err != nil {
		a.log.Warn("admin: disconnect not sent to every node", "err", err)
	}
}
