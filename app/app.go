// Package app is the whole Banter server wired in one process: the SQLite
// store, the chat Service, the Socket.IO server with the chat gateway, the
// other gateways, the web page, health checks, Prometheus metrics and the
// operator's status page, behind one http.Handler. cmd/banter runs it;
// end-to-end and browser tests start it the same way.
//
// Entry points: New(Config) builds an App (opening the database); Serve runs
// it on a listener; Shutdown stops it. Handler returns the routes for tests
// that serve them themselves.
//
// Concurrency: Handler, Serve and Shutdown may be called from any goroutine.
// Serve blocks until Shutdown; Shutdown may be called once Serve started, or
// without Serve, and more than once (later calls wait for the first).
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/auth"
	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/engineio"
	"github.com/banter-chat/banter/gateway/proto1"
	siogw "github.com/banter-chat/banter/gateway/sio"
	"github.com/banter-chat/banter/guard"
	"github.com/banter-chat/banter/internal/memreclaim"
	"github.com/banter-chat/banter/socketio"
	"github.com/banter-chat/banter/web"
)

// Config configures an App. The zero value of every field means its
// default.
type Config struct {
	Addr   string       // listen address, default ":3000" (used by cmd/banter)
	DBPath string       // SQLite file, default "./banter.db"
	Logger *slog.Logger // default: text to stderr at Info

	// StoreURL (postgres://…) and RedisURL (redis://…) make the node one of
	// a cluster sharing history and events (cluster.go, docs/cluster.md).
	StoreURL string
	RedisURL string
	// AdminUI serves the Socket.IO Admin UI (admin.go); off by default.
	AdminUI AdminUIConfig
	// SocketIOKey is the channel prefix of the Socket.IO Redis adapter a
	// cluster node listens on (for @socket.io/redis-emitter), default
	// SocketIORedisKey.
	SocketIOKey string
	// Advertise is the base URL the other nodes reach this one at
	// (http://10.0.0.5:3000), for the requests they forward to it (no
	// sticky sessions). Default: derived from the listener (advertiseFor).
	Advertise string
	// ClusterHeartbeat and ClusterTTL: how often a node refreshes its
	// liveness key in Redis, and how long the key lives; a node that
	// stops is declared gone (its users leave) within TTL + heartbeat.
	// Defaults 2s and 3 × ClusterHeartbeat.
	ClusterHeartbeat time.Duration
	ClusterTTL       time.Duration

	// Engine.IO heartbeat: defaults 25s and 20s (as Node).
	PingInterval time.Duration
	PingTimeout  time.Duration
	// MaxBufferedBytes bounds what is queued for one client; a client past
	// it is disconnected as a slow consumer. Default 4 MiB.
	MaxBufferedBytes int
	// MaxWriteDelay is engineio.Config's: under load, how long a WebSocket
	// frame may wait to share a write (default 40ms); NoWriteDelay: never.
	MaxWriteDelay time.Duration
	NoWriteDelay  bool
	// LargeRoom and PresenceWindow are chat.Config's: rooms above
	// LargeRoom users get member counts, at most once per PresenceWindow,
	// instead of per-user presence (defaults 200 and 1s).
	LargeRoom      int
	PresenceWindow time.Duration
	// EditWindow is chat.Config's: how long users may edit and delete
	// their own messages (default 24h).
	EditWindow time.Duration
	// CORSOrigins lists the browser origins ("https://chat.example.com")
	// allowed besides the server's own: cross-origin long-polling (CORS)
	// and WebSocket, /ws, /mqtt and SSE connections from pages of those
	// origins ("*" for any). Empty: same-origin only. Native clients send
	// no Origin and are not affected. (Cross-site WebSocket hijacking: a
	// page of another site must not use its visitors' browsers to connect.)
	CORSOrigins []string

	// Connection admission (guard.go), for every gateway that holds a
	// connection: MaxConns caps them in total (0: the file descriptor
	// limit minus a reserve; negative: no cap). MaxConnsPerIP caps one
	// client address (IPv6: one /64) and HandshakesPerSecondPerIP its rate
	// of new connections (burst twice that); 0: no limit. Loopback clients
	// are exempt from the per-address limits unless LimitLoopback.
	MaxConns                 int
	MaxConnsPerIP            int
	HandshakesPerSecondPerIP float64
	LimitLoopback            bool

	// Chat limits (defaults in chat.Config: 4096 bytes, burst 60, 10/s,
	// 100 rooms per session).
	MaxMessageBytes int
	RateBurst       int
	// MaxFileBytes and FileTypes are chat.FileConfig's: the largest upload
	// (default 10 MiB) and the media types accepted (default
	// chat.DefaultFileTypes).
	MaxFileBytes       int64
	FileTypes          []string
	RatePerSecond      float64
	MaxRoomsPerSession int
	// RequestBurst and RequestsPerSecond shape the per-connection bucket
	// over every Socket.IO client event (siogw.Config; defaults 100, 50).
	RequestBurst      int
	RequestsPerSecond float64
	// MaxPayloadBytes is the largest Engine.IO message or polling POST body
	// (Node's maxHttpBufferSize). Default 1,000,000.
	MaxPayloadBytes int
	// DefaultRoom of the compatibility dialects. Default "general".
	DefaultRoom string
	// APIKey enables server-side publish (POST /api/v1/publish) for
	// backends that send it; empty: publish is disabled. TCPAddr, if set,
	// serves the raw TCP line protocol there (gateways.go).
	APIKey  string
	TCPAddr string
	// MQTTAddr, if set, serves MQTT over TCP there (MQTT over WebSocket
	// is always at /mqtt; mqtt.go).
	MQTTAddr string
	// XMPPAddr, if set, serves XMPP client connections (STARTTLS with
	// the server's certificate) there, XMPPTLSAddr direct TLS; XMPP over
	// WebSocket is always at /xmpp. XMPPDomain is the XMPP domain
	// (default: the host name). See xmpp.go and docs/xmpp.md.
	XMPPAddr    string
	XMPPTLSAddr string
	XMPPDomain  string

	// TLSCertFile and TLSKeyFile (PEM) make the HTTP port HTTPS/WSS and
	// the MQTT listener MQTTS (tls.go). Both or neither.
	TLSCertFile string
	TLSKeyFile  string

	// Auth configures client authentication (package auth): the mode
	// (anonymous by default) and the JWT key material. With key material
	// every gateway verifies tokens; with Mode required it refuses
	// clients without one.
	Auth auth.Config

	// FullSync fsyncs every commit (acknowledged messages survive power
	// loss, not only a crash of the process). Default off.
	FullSync bool

	// MetricsAddr, if set, serves the operator endpoints (/metrics and the
	// status page, plus /healthz and /readyz) on their own listener there,
	// e.g. "127.0.0.1:9090" to keep them private; by default they are on
	// the main port. DisableMetrics removes /metrics and the status page
	// (metrics_http.go; docs/operations.md).
	MetricsAddr    string
	DisableMetrics bool

	// ReadHeaderTimeout and IdleTimeout of the HTTP server: defaults 10s
	// and 120s. There is no write timeout: long-polling requests are held
	// for a heartbeat period (Engine.IO bounds its own writes).
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = ":3000"
	}
	if c.DBPath == "" {
		c.DBPath = "./banter.db"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 120 * time.Second
	}
	if c.ClusterHeartbeat <= 0 {
		c.ClusterHeartbeat = 2 * time.Second
	}
	if c.ClusterTTL <= 0 {
		c.ClusterTTL = 3 * c.ClusterHeartbeat
	}
	return c
}

// ErrDatabase is wrapped by New's error when the database cannot be opened.
var ErrDatabase = errors.New("cannot open the database")

// App is a running Banter server (without its listener until Serve).
type App struct {
	cfg   Config
	log   *slog.Logger
	be    backends // store and bus (cluster.go)
	svc   *chat.Service
	guard *guard.Guard // connection admission for every gateway (guard.go)
	io    *socketio.Server
	gw    *siogw.Gateway
	mux   *http.ServeMux
	hs    *http.Server
	gws   gateways // REST/SSE, /ws, TCP (gateways.go)
	mqtt  mqttState
	xmpp  xmppState
	// xmppReady guards xmpp.gw, set after the reclaimer started.
	xmppReady sync.Mutex
	tls       tlsState
	eco       ecosystem // Admin UI, Socket.IO Redis adapter (admin.go)

	reclaimStop func()    // stops the memory reclaimer and waits for it
	metrics     *metrics  // metrics.go
	ops         opsServer // metrics listener (metrics_http.go)
	ready       readiness // health.go
	started     time.Time

	stopping atomic.Bool
	serving  atomic.Bool
	shutOnce sync.Once
	shutErr  error
	shutDone chan struct{}
}

// New opens the store and builds the chat service, the Socket.IO server,
// the gateway and the web routes.
func New(cfg Config) (_ *App, err error) {
	cfg = cfg.withDefaults()
	log := cfg.Logger
	if cfg.Advertise != "" {
		if _, err := ParseAdvertise(cfg.Advertise); err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
	}
	// On failure, what was built is taken down in reverse order.
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	a := &App{cfg: cfg, log: log, metrics: newMetrics(), started: time.Now()}
	if err := a.listenOps(); err != nil {
		return nil, err
	}
	undo = append(undo, func() { _ = a.closeOps(context.Background()) })
	be, err := openBackends(cfg, a.metrics.observeLag)
	if err != nil {
		return nil, err
	}
	undo = append(undo, func() { _ = be.close() })
	a.be = be
	ccfg := chat.Config{
		Store: timedStore{be.store, a.metrics}, Bus: be.chatBus(), Roster: be.chatRoster(), Logger: log,
		MaxMessageBytes: cfg.MaxMessageBytes, RateBurst: cfg.RateBurst, RatePerSecond: cfg.RatePerSecond,
		MaxRoomsPerSession: cfg.MaxRoomsPerSession, DefaultRoom: cfg.DefaultRoom,
		LargeRoom: cfg.LargeRoom, PresenceWindow: cfg.PresenceWindow, EditWindow: cfg.EditWindow,
		Files: chat.FileConfig{MaxBytes: cfg.MaxFileBytes, Types: cfg.FileTypes},
	}
	if ccfg.Authenticator, ccfg.RequireIdentity, err = newAuthenticator(cfg.Auth); err != nil {
		return nil, err
	}
	svc, err := chat.New(ccfg)
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	undo = append(undo, func() { _ = svc.Close() })
	grd, err := newGuard(cfg)
	if err != nil {
		return nil, err
	}
	ecfg := engineio.Config{
		PingInterval: cfg.PingInterval, PingTimeout: cfg.PingTimeout,
		MaxBufferedBytes: cfg.MaxBufferedBytes, MaxPayload: cfg.MaxPayloadBytes, Logger: log,
		MaxWriteDelay: cfg.MaxWriteDelay,
	}
	if cfg.NoWriteDelay {
		ecfg.MaxWriteDelay = -1
	}
	engineAdmission(grd, &ecfg)
	if len(cfg.CORSOrigins) > 0 {
		ecfg.CORS = &engineio.CORS{Origins: cfg.CORSOrigins}
	}
	if be.roster != nil { // no sticky sessions: forward to a session's node
		ecfg.SIDPrefix, ecfg.Owner = be.sidPrefix(), a.owner
	}
	sioCfg := socketio.Config{Engine: ecfg, Logger: log}
	a.socketIOAdapter(&sioCfg) // admin.go
	io := socketio.NewServer(sioCfg)
	a.svc, a.io, a.guard = svc, io, grd
	undo = append(undo, a.closeEcosystem)
	if err := a.initAdmin(io); err != nil {
		return nil, err
	}
	a.gw = siogw.New(svc, io.Of("/"), siogw.Config{
		Logger:        log,
		Protocol:      proto1.Config{RequestBurst: cfg.RequestBurst, RequestsPerSecond: cfg.RequestsPerSecond},
		SocketIORooms: a.socketIORooms(),
	})
	undo = append(undo, a.gw.Close, func() { _ = io.Shutdown(context.Background()) })
	if err := a.waitSocketIOCluster(); err != nil {
		return nil, err
	}
	a.mux = http.NewServeMux()
	a.shutDone = make(chan struct{})
	a.startReclaimer()
	undo = append(undo, a.reclaimStop)
	if err := a.initTLS(); err != nil {
		return nil, err
	}
	a.mux.Handle("/socket.io/", io)
	a.mountAdminUI()
	if err := a.initGateways(); err != nil {
		return nil, err
	}
	undo = append(undo, func() { _ = a.closeGateways(context.Background()) })
	if err := a.initMQTT(); err != nil {
		return nil, err
	}
	if err := a.initXMPP(); err != nil {
		return nil, err
	}
	undo = append(undo, func() { _ = a.closeXMPP(context.Background()) })
	a.mountOps()
	a.mux.Handle("/", web.Handler())
	a.hs = &http.Server{
		Handler:           a.mux,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return a, nil
}

// startReclaimer returns memory to the OS after bursts of connections
// (internal/memreclaim): the activity is Engine.IO handshakes and closes,
// and MQTT and XMPP connections opened and closed.
func (a *App) startReclaimer() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		engine := memreclaim.EngineActivity(a.io.Engine())
		memreclaim.Run(ctx, memreclaim.Config{Logger: a.log}, func() uint64 { return engine() + a.mqttActivity() + a.xmppActivity() })
	}()
	a.reclaimStop = func() { cancel(); <-done }
}

// ErrAuth is wrapped by New's error when the authentication
// configuration is wrong (or a JWKS URL cannot be fetched).
var ErrAuth = errors.New("app: authentication configuration")

// newAuthenticator builds the JWT verifier of cfg, if it has key material.
func newAuthenticator(cfg auth.Config) (chat.Authenticator, bool, error) {
	mode, err := auth.ParseMode(string(cfg.Mode))
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrAuth, err)
	}
	if !cfg.Enabled() {
		if mode == auth.ModeRequired {
			return nil, false, fmt.Errorf("%w: mode required needs a JWT secret, public key or JWKS", ErrAuth)
		}
		return nil, false, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := auth.New(ctx, cfg)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrAuth, err)
	}
	return v, mode == auth.ModeRequired, nil
}

// Config returns the configuration with defaults applied.
func (a *App) Config() Config { return a.cfg }

// Service returns the chat service (for tests and other gateways).
func (a *App) Service() *chat.Service { return a.svc }

// Handler serves "/" (the web page), "/socket.io/" (Socket.IO and the
// client bundle), the other gateways, "/healthz" and "/readyz" (health.go),
// and "/metrics" and the status page unless they are elsewhere
// (metrics_http.go).
func (a *App) Handler() http.Handler { return a.mux }

// Serve serves on ln until Shutdown; it then returns nil. It logs the URL.
func (a *App) Serve(ln net.Listener) error {
	if !a.serving.CompareAndSwap(false, true) {
		return errors.New("app: Serve called twice")
	}
	url := URL(ln.Addr())
	if a.tlsEnabled() {
		url = "https" + url[len("http"):]
	}
	if a.be.roster != nil {
		adv := a.cfg.Advertise
		if adv == "" {
			adv = advertiseFor(ln.Addr())
			if a.tlsEnabled() {
				adv = "https" + strings.TrimPrefix(adv, "http")
			}
		}
		a.be.roster.SetAddress(adv)
		a.log.Info("cluster node "+a.be.roster.NodeID()+" advertises "+adv, "heartbeat", a.cfg.ClusterHeartbeat, "ttl", a.cfg.ClusterTTL, "bus", a.be.busKind())
	}
	a.log.Info("Banter listening on " + url)
	if !a.tlsEnabled() {
		// WebSocket handshakes of Socket.IO are read and answered on the
		// event loop; everything else reaches net/http (engineio.Accept).
		var err error
		if ln, err = a.io.Engine().Accept(ln, a.cfg.ReadHeaderTimeout, engineio.Route{Prefix: "/socket.io/", Handler: a.io}); err != nil {
			return err
		}
	}
	err := a.hs.Serve(a.tlsListener(ln, "http/1.1"))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// URL is the address a user on this machine opens for a listener address:
// http://localhost:PORT for a wildcard or loopback address.
func URL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	ip := net.ParseIP(host)
	if host == "" || ip != nil && (ip.IsUnspecified() || ip.IsLoopback()) {
		host = "localhost"
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return "http://" + host + ":" + port
}

// Shutdown stops the server: it stops accepting connections, ends every
// chat session (protocol 1 clients get "bye" with reason "shutdown"),
// closes every client connection, waits for requests and background work,
// and closes the store (every acknowledged message is already durable).
// If ctx ends first, remaining connections are closed abruptly and ctx's
// error is returned; the store is closed either way.
func (a *App) Shutdown(ctx context.Context) error {
	a.shutOnce.Do(func() {
		a.shutErr = a.shutdown(ctx)
		close(a.shutDone)
	})
	select {
	case <-a.shutDone:
		return a.shutErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *App) shutdown(ctx context.Context) error {
	a.stopping.Store(true)
	a.log.Info("Banter shutting down")
	// http.Server.Shutdown closes the listeners at once, then waits for
	// requests in flight, which include pending long-polls: Socket.IO's
	// shutdown below releases them, so both run together.
	httpDone := make(chan error, 1)
	go func() { httpDone <- a.hs.Shutdown(ctx) }()
	opsDone := make(chan error, 1)
	go func() { opsDone <- a.closeOps(ctx) }()
	var errs []error
	// Sessions end first, so every client hears why (bye) before its
	// connection closes.
	if err := a.svc.Close(); err != nil {
		errs = append(errs, fmt.Errorf("chat: %w", err))
	}
	if err := a.io.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("socket.io: %w", err))
	}
	a.closeEcosystem()
	errs = append(errs, a.closeGateways(ctx)...)
	errs = append(errs, a.closeMQTT(ctx)...)
	errs = append(errs, a.closeXMPP(ctx)...)
	if err := <-httpDone; err != nil {
		errs = append(errs, fmt.Errorf("http: %w", err))
		_ = a.hs.Close()
	}
	if err := <-opsDone; err != nil {
		errs = append(errs, err)
	}
	a.gw.Close()
	a.reclaimStop()
	if err := a.be.close(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	a.log.Info("Banter stopped")
	return nil
}
