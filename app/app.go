// Package app is the whole Banter server wired in one process: the SQLite
// store, the chat Service, the Socket.IO server with the chat gateway, the
// web page and a health check, behind one http.Handler. cmd/banter runs it;
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
	siogw "github.com/banter-chat/banter/gateway/sio"
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

	// Engine.IO heartbeat: defaults 25s and 20s (as Node).
	PingInterval time.Duration
	PingTimeout  time.Duration
	// MaxBufferedBytes bounds what is queued for one client; a client past
	// it is disconnected as a slow consumer. Default 4 MiB.
	MaxBufferedBytes int
	// CORSOrigins allows cross-origin polling clients ("*" for any). Empty:
	// same-origin only (browsers; native clients need no CORS).
	CORSOrigins []string

	// Chat limits (defaults in chat.Config: 4096 bytes, burst 20, 5/s).
	MaxMessageBytes int
	RateBurst       int
	RatePerSecond   float64
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

	// Auth configures client authentication (package auth): the mode
	// (anonymous by default) and the JWT key material. With key material
	// every gateway verifies tokens; with Mode required it refuses
	// clients without one.
	Auth auth.Config

	// FullSync fsyncs every commit (acknowledged messages survive power
	// loss, not only a crash of the process). Default off.
	FullSync bool

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
	return c
}

// ErrDatabase is wrapped by New's error when the database cannot be opened.
var ErrDatabase = errors.New("cannot open the database")

// App is a running Banter server (without its listener until Serve).
type App struct {
	cfg   Config
	log   *slog.Logger
	store chat.Store
	be    backends // store and bus (cluster.go)
	svc   *chat.Service
	io    *socketio.Server
	gw    *siogw.Gateway
	mux   *http.ServeMux
	hs    *http.Server
	gws   gateways // REST/SSE, /ws, TCP (gateways.go)
	mqtt  mqttState

	stopping atomic.Bool
	serving  atomic.Bool
	shutOnce sync.Once
	shutErr  error
	shutDone chan struct{}
}

// New opens the store and builds the chat service, the Socket.IO server,
// the gateway and the web routes.
func New(cfg Config) (*App, error) {
	cfg = cfg.withDefaults()
	log := cfg.Logger
	be, err := openBackends(cfg)
	if err != nil {
		return nil, err
	}
	store := be.store
	ccfg := chat.Config{
		Store: store, Bus: be.chatBus(), Logger: log,
		MaxMessageBytes: cfg.MaxMessageBytes, RateBurst: cfg.RateBurst, RatePerSecond: cfg.RatePerSecond,
		DefaultRoom: cfg.DefaultRoom,
	}
	if ccfg.Authenticator, ccfg.RequireIdentity, err = newAuthenticator(cfg.Auth); err != nil {
		_ = be.close()
		return nil, err
	}
	svc, err := chat.New(ccfg)
	if err != nil {
		_ = be.close()
		return nil, fmt.Errorf("app: %w", err)
	}
	ecfg := engineio.Config{
		PingInterval: cfg.PingInterval, PingTimeout: cfg.PingTimeout,
		MaxBufferedBytes: cfg.MaxBufferedBytes, Logger: log,
	}
	if len(cfg.CORSOrigins) > 0 {
		ecfg.CORS = &engineio.CORS{Origins: cfg.CORSOrigins}
	}
	io := socketio.NewServer(socketio.Config{Engine: ecfg, Logger: log})
	a := &App{
		cfg: cfg, log: log, store: store, be: be, svc: svc, io: io,
		gw:       siogw.New(svc, io.Of("/"), siogw.Config{Logger: log}),
		mux:      http.NewServeMux(),
		shutDone: make(chan struct{}),
	}
	a.mux.Handle("/socket.io/", io)
	a.mux.HandleFunc("/healthz", a.healthz)
	if err := a.initGateways(); err != nil {
		_ = io.Shutdown(context.Background())
		a.gw.Close()
		_ = svc.Close()
		_ = be.close()
		return nil, err
	}
	if err := a.initMQTT(); err != nil {
		_ = a.closeGateways(context.Background())
		_ = io.Shutdown(context.Background())
		a.gw.Close()
		_ = svc.Close()
		_ = be.close()
		return nil, err
	}
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
// client bundle) and "/healthz".
func (a *App) Handler() http.Handler { return a.mux }

// healthz answers 200 "ok" while the server runs and the store answers,
// 503 otherwise (load balancers stop sending clients during a shutdown).
func (a *App) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if a.stopping.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := a.store.LastSeq(ctx, a.svc.DefaultRoom()); err != nil {
		a.log.Warn("healthz: store check failed", "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// Serve serves on ln until Shutdown; it then returns nil. It logs the URL.
func (a *App) Serve(ln net.Listener) error {
	if !a.serving.CompareAndSwap(false, true) {
		return errors.New("app: Serve called twice")
	}
	a.log.Info("Banter listening on " + URL(ln.Addr()))
	err := a.hs.Serve(ln)
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
	var errs []error
	// Sessions end first, so every client hears why (bye) before its
	// connection closes.
	if err := a.svc.Close(); err != nil {
		errs = append(errs, fmt.Errorf("chat: %w", err))
	}
	if err := a.io.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("socket.io: %w", err))
	}
	errs = append(errs, a.closeGateways(ctx)...)
	errs = append(errs, a.closeMQTT(ctx)...)
	if err := <-httpDone; err != nil {
		errs = append(errs, fmt.Errorf("http: %w", err))
		_ = a.hs.Close()
	}
	a.gw.Close()
	if err := a.be.close(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	a.log.Info("Banter stopped")
	return nil
}
