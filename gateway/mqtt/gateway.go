package mqttgw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/coder/websocket"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Config configures a Gateway. The zero value of every field means its
// default.
type Config struct {
	Logger *slog.Logger // default: discard

	// Authenticate checks the CONNECT credentials and returns the
	// nickname, replacing the default: the password is a JWT verified by
	// chat.Service.Authenticate when the Service accepts tokens (a
	// username, if given, must be the token's nickname or subject);
	// without a password the client is anonymous and the username is the
	// nickname, unless the Service requires identities.
	Authenticate func(ctx context.Context, username string, password []byte) (nickname string, err error)

	// MaxKeepalive bounds the keepalive a client may ask for, and is
	// imposed on clients that ask for none (0): a dead client is noticed
	// within 1.5 times its keepalive. MQTT 5 clients are told (server
	// keepalive); 3.1.1 clients without keepalive are simply disconnected
	// after that much silence. Default 5 minutes.
	MaxKeepalive time.Duration
	// SessionExpiry is how long a persistent session (clean_session=false,
	// or an MQTT 5 session expiry) is kept after its client disconnected.
	// Default 24 hours; MQTT 5 clients may ask for less.
	SessionExpiry time.Duration
	// MaxQueuedBytes bounds what waits to be written to one client; past
	// it the client is disconnected as a slow consumer. Default 1 MiB.
	MaxQueuedBytes int
	// MaxInflight bounds the unacknowledged QoS 1 messages of one client
	// (also a slow consumer past it). Default 1024.
	MaxInflight int
	// MaxCatchUp is the most messages of one room a reconnecting
	// persistent session is sent (the newest); older ones are a history
	// request away. Default 1000.
	MaxCatchUp int
	// MaxPacketBytes is the largest MQTT packet a client may send.
	// Default 64 KiB.
	MaxPacketBytes int
	// MaxClients refuses connections beyond it (CONNACK server
	// unavailable). Default: no limit.
	MaxClients int
	// ReadBufferBytes is the size of each connection's read buffer;
	// PendingWrites the capacity of mochi's own outbound queue, which the
	// gateway does not use (it writes through its own queue). Defaults
	// 1024 and 8: they set most of the memory of an idle client
	// (docs/benchmarks.md, MQTT).
	ReadBufferBytes int
	PendingWrites   int
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxKeepalive <= 0 {
		c.MaxKeepalive = 5 * time.Minute
	}
	c.MaxKeepalive = min(c.MaxKeepalive, 65535*time.Second)
	if c.SessionExpiry <= 0 {
		c.SessionExpiry = 24 * time.Hour
	}
	if c.MaxQueuedBytes <= 0 {
		c.MaxQueuedBytes = 1 << 20
	}
	if c.MaxInflight <= 0 {
		c.MaxInflight = 1024
	}
	c.MaxInflight = min(c.MaxInflight, 65535)
	if c.MaxCatchUp <= 0 {
		c.MaxCatchUp = 1000
	}
	if c.MaxPacketBytes <= 0 {
		c.MaxPacketBytes = 64 << 10
	}
	if c.ReadBufferBytes <= 0 {
		c.ReadBufferBytes = 1024
	}
	if c.PendingWrites <= 0 {
		c.PendingWrites = 8
	}
	return c
}

// Listener ids, as mochi names the listener a client came through.
const (
	listenerTCP = "tcp"
	listenerWS  = "ws"
)

// ErrClosed is returned by Serve after Close.
var ErrClosed = errors.New("mqttgw: gateway closed")

// Gateway is the MQTT gateway: an embedded broker whose topics are chat
// rooms. See the package documentation.
type Gateway struct {
	svc *chat.Service
	cfg Config
	log *slog.Logger
	srv *mochi.Server

	mu     sync.Mutex
	closed bool
	states map[string]*state                // by MQTT client id
	conns  map[*mochi.Client]*conn          // live connections
	idents map[*mochi.Client]*chat.Identity // verified in OnConnect, taken in OnConnectAuthenticate
	lns    map[net.Listener]struct{}

	wg        sync.WaitGroup // writers, accept loops and connection goroutines
	closeOnce sync.Once
	closeErr  error
	closeDone chan struct{}

	stats counters // stats.go
}

// New returns a running Gateway for svc, with no listener yet: Serve adds
// MQTT over TCP, ServeHTTP is MQTT over WebSocket.
func New(svc *chat.Service, cfg Config) (*Gateway, error) {
	cfg = cfg.withDefaults()
	g := &Gateway{
		svc: svc, cfg: cfg, log: cfg.Logger,
		states:    make(map[string]*state),
		conns:     make(map[*mochi.Client]*conn),
		idents:    make(map[*mochi.Client]*chat.Identity),
		lns:       make(map[net.Listener]struct{}),
		closeDone: make(chan struct{}),
	}
	caps := mochi.NewDefaultServerCapabilities()
	caps.MaximumClientWritesPending = int32(cfg.PendingWrites)
	caps.MaximumInflight = uint16(cfg.MaxInflight)
	caps.ReceiveMaximum = 64 // inbound QoS>0 publishes in flight; we process them one by one
	caps.MaximumSessionExpiryInterval = uint32(min(cfg.SessionExpiry/time.Second, 1<<32-1))
	caps.MaximumMessageExpiryInterval = 0 // inflight messages live as long as the session (bounded by MaxInflight)
	caps.MaximumPacketSize = uint32(cfg.MaxPacketBytes)
	caps.TopicAliasMaximum = 0 // aliases would hide the topic from the ACL check
	caps.SharedSubAvailable = 0
	caps.WildcardSubAvailable = 0
	caps.SubIDAvailable = 0
	caps.RetainAvailable = 0 // rooms have history instead
	if cfg.MaxClients > 0 {
		caps.MaximumClients = int64(cfg.MaxClients)
	}
	g.srv = mochi.New(&mochi.Options{
		Capabilities:            caps,
		ClientNetReadBufferSize: cfg.ReadBufferBytes,
		// Only a threshold for coalescing writes; the buffer grows on demand.
		ClientNetWriteBufferSize: 1024,
		Logger:                   slog.New(quieter{cfg.Logger.Handler()}),
		// $SYS topics are not served (the ACL refuses them); publish them
		// yearly instead of reading MemStats every second.
		SysTopicResendInterval: 365 * 24 * 3600,
	})
	if err := g.srv.AddHook(&hook{g: g}, nil); err != nil {
		return nil, fmt.Errorf("mqttgw: %w", err)
	}
	for _, id := range []string{listenerTCP, listenerWS} {
		if err := g.srv.AddListener(&registered{id: id}); err != nil {
			return nil, fmt.Errorf("mqttgw: %w", err)
		}
	}
	if err := g.srv.Serve(); err != nil { // starts mochi's housekeeping loop
		return nil, fmt.Errorf("mqttgw: %w", err)
	}
	return g, nil
}

// Serve accepts MQTT connections on ln until Close, then returns
// ErrClosed. It may be called for several listeners.
func (g *Gateway) Serve(ln net.Listener) error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	g.lns[ln] = struct{}{}
	g.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			g.mu.Lock()
			closed := g.closed
			delete(g.lns, ln)
			g.mu.Unlock()
			if closed {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("mqttgw: accept: %w", err)
		}
		if !g.track() {
			nc.Close()
			return ErrClosed
		}
		go func() {
			defer g.wg.Done()
			g.establish(listenerTCP, nc)
		}()
	}
}

// track counts a connection goroutine unless the gateway is closed.
func (g *Gateway) track() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	return true
}

func (g *Gateway) establish(listener string, nc net.Conn) {
	err := g.srv.EstablishConnection(listener, nc)
	if err != nil && g.log.Enabled(context.Background(), slog.LevelDebug) {
		g.log.Debug("mqttgw: connection ended", "remote", nc.RemoteAddr().String(), "err", err)
	}
}

// ServeHTTP serves MQTT over WebSocket (subprotocol "mqtt", binary
// frames), as MQTT.js and browsers use it.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.track() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer g.wg.Done()
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols: []string{"mqtt", "mqttv3.1"},
		// Native apps send no Origin; browsers on other origins are
		// let in like for MQTT over TCP: the credentials are the gate.
		InsecureSkipVerify: true,
	})
	if err != nil {
		return // Accept answered the client
	}
	ws.SetReadLimit(int64(g.cfg.MaxPacketBytes) + 16)
	// The connection outlives the request's context only as long as this
	// handler runs, which is the life of the MQTT connection.
	nc := websocket.NetConn(context.WithoutCancel(r.Context()), ws, websocket.MessageBinary)
	g.establish(listenerWS, nc)
	nc.Close()
}

// Close disconnects every client (MQTT 5 clients get DISCONNECT "server
// shutting down"), stops the listeners and waits for the gateway's
// goroutines. Call it after chat.Service.Close. If ctx ends first, the
// connections are closed abruptly and ctx's error returned.
func (g *Gateway) Close(ctx context.Context) error {
	g.closeOnce.Do(func() {
		g.closeErr = g.close(ctx)
		close(g.closeDone)
	})
	select {
	case <-g.closeDone:
		return g.closeErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *Gateway) close(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true
	for ln := range g.lns {
		ln.Close()
	}
	g.mu.Unlock()
	done := make(chan struct{})
	go func() {
		_ = g.srv.Close() // disconnects every client and waits for them
		g.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	// A client that does not read blocks mochi's DISCONNECT write until
	// its keepalive deadline: cut every connection.
	for _, cl := range g.srv.Clients.GetAll() {
		cl.Stop(mochi.ErrConnectionClosed)
	}
	<-done
	return ctx.Err()
}

// Addr-less listeners registered with mochi so that its Close disconnects
// the clients of each (mochi closes clients per listener id).
type registered struct{ id string }

func (l *registered) Init(*slog.Logger) error              { return nil }
func (l *registered) Serve(listeners.EstablishFn)          {}
func (l *registered) ID() string                           { return l.id }
func (l *registered) Address() string                      { return "" }
func (l *registered) Protocol() string                     { return l.id }
func (l *registered) Close(closeClients listeners.CloseFn) { closeClients(l.id) }

// quieter lowers mochi's log records by one level: it logs every refused
// connection or publish (a client's mistake, which the client is told) at
// Warn or Error.
type quieter struct{ slog.Handler }

func (q quieter) Enabled(ctx context.Context, l slog.Level) bool {
	return q.Handler.Enabled(ctx, l-4)
}

func (q quieter) Handle(ctx context.Context, r slog.Record) error {
	r.Level -= 4
	return q.Handler.Handle(ctx, r)
}

func (q quieter) WithAttrs(as []slog.Attr) slog.Handler { return quieter{q.Handler.WithAttrs(as)} }
func (q quieter) WithGroup(n string) slog.Handler       { return quieter{q.Handler.WithGroup(n)} }
