package mqttgw

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/mochi-mqtt/server/v2/packets"
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

	// Admit, when set, is asked for every connection (MQTT over TCP when
	// accepted, over WebSocket before the upgrade) with the client's
	// address; an error refuses it (closed, or HTTP 503/429 with the
	// error's text). release is called once when the connection ends.
	// Connection limits live there (guard.Guard.Admit).
	Admit func(remoteAddr string) (release func(), err error)
	// AllowRequest, when set, checks a WebSocket upgrade request (the
	// browser's Origin, say); an error refuses it with HTTP 403.
	AllowRequest func(r *http.Request) error

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
	// MaxQueuedBytes bounds what waits to be written to one client (our
	// queue, and what the kernel did not take); past it the client is
	// disconnected as a slow consumer. Default 1 MiB.
	MaxQueuedBytes int
	// MaxInputBytes bounds what a client may send ahead of its packets
	// being handled (the event loop reads whatever arrives); past it the
	// client is disconnected. Default 1 MiB.
	MaxInputBytes int
	// MaxInflight bounds the unacknowledged QoS 1 messages of one client
	// (also a slow consumer past it). Default 1024.
	MaxInflight int
	// MaxCatchUp is the most messages of one room a reconnecting
	// persistent session is sent (the newest); older ones are a history
	// request away. Default 1000.
	MaxCatchUp int
	// MaxPacketBytes is the largest MQTT packet a client may send (its
	// Remaining Length). Default 64 KiB.
	MaxPacketBytes int
	// MaxClients refuses connections beyond it (CONNACK server
	// unavailable). Default: no limit.
	MaxClients int
	// WriteTimeout bounds a write to a TLS connection (connections on the
	// event loop never block: see MaxQueuedBytes). Default 10 s.
	WriteTimeout time.Duration
	// MaxCoalesceDelay is the longest a PUBLISH may wait for the next one
	// to leave in the same write, when the gateway is busy (flush.go).
	// Default 40 ms (a little more than the gap between messages at 30
	// per second); negative: never wait.
	MaxCoalesceDelay time.Duration
	// CoalesceAbove is the delivery rate (packets per second, all clients,
	// over the last second) from which writes are coalesced. Default
	// 10,000.
	CoalesceAbove int
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
	c.SessionExpiry = min(c.SessionExpiry, (1<<32-1)*time.Second)
	if c.MaxQueuedBytes <= 0 {
		c.MaxQueuedBytes = 1 << 20
	}
	if c.MaxInputBytes <= 0 {
		c.MaxInputBytes = 1 << 20
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
	c.MaxPacketBytes = min(c.MaxPacketBytes, 268435455)
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	switch {
	case c.MaxCoalesceDelay == 0:
		c.MaxCoalesceDelay = 40 * time.Millisecond
	case c.MaxCoalesceDelay < 0:
		c.MaxCoalesceDelay = 0
	}
	if c.CoalesceAbove <= 0 {
		c.CoalesceAbove = 10_000
	}
	return c
}

// ErrClosed is returned by Serve after Close.
var ErrClosed = errors.New("mqttgw: gateway closed")

// Gateway is the MQTT gateway: MQTT connections whose topics are chat
// rooms. See the package documentation.
type Gateway struct {
	svc *chat.Service
	cfg Config
	log *slog.Logger

	loop *loop
	fl   *flusher
	ka   *wheel

	clock atomic.Int64 // unix seconds, advanced by the wheel

	mu      sync.Mutex
	closed  bool
	clients map[string]*client // by MQTT client id
	lns     map[net.Listener]struct{}

	live      sync.WaitGroup // connections not torn down yet
	bg        sync.WaitGroup // goroutines of spawn (flushes and shutdowns off the shared workers)
	accepts   sync.WaitGroup // accept loops and WebSocket handshakes in progress
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
		clients:   make(map[string]*client),
		lns:       make(map[net.Listener]struct{}),
		closeDone: make(chan struct{}),
	}
	g.loop = newLoop(g)
	g.fl = newFlusher(g)
	g.ka = newWheel(g)
	return g, nil
}

// Serve accepts MQTT connections on ln until Close, then returns
// ErrClosed. It may be called for several listeners. Plain TCP connections
// are served by the event loop; TLS connections (a crypto/tls listener:
// MQTTS) by a reading goroutine each, which the event loop cannot take
// over.
func (g *Gateway) Serve(ln net.Listener) error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	g.lns[ln] = struct{}{}
	g.accepts.Add(1)
	g.mu.Unlock()
	defer g.accepts.Done()
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
		g.accept(nc)
	}
}

// accept admits nc and hands it to the event loop (plain TCP) or to a
// reading goroutine (TLS).
func (g *Gateway) accept(nc net.Conn) {
	release := func() {}
	if g.cfg.Admit != nil {
		r, err := g.cfg.Admit(nc.RemoteAddr().String())
		if err != nil {
			// MQTT has no word for "refused" before CONNECT.
			g.logDebug("mqttgw: connection refused", nil, "remote", nc.RemoteAddr().String(), "err", err)
			nc.Close()
			return
		}
		release = r
	}
	if !g.track() {
		nc.Close()
		release()
		return
	}
	if tc, ok := nc.(*tls.Conn); ok {
		c := newConn(g, tcpBlock, tc, release)
		g.ka.add(c, connectTimeout)
		c.ready()
		go c.readBlocking()
		return
	}
	tcp, ok := nc.(*net.TCPConn)
	if !ok {
		g.logError("mqttgw: unsupported connection type", "type", fmt.Sprintf("%T", nc))
		nc.Close()
		release()
		g.live.Done()
		return
	}
	nbc, err := takeConn(tcp)
	if err != nil {
		g.logDebug("mqttgw: cannot take the connection", nil, "err", err)
		tcp.Close()
		release()
		g.live.Done()
		return
	}
	c := newConn(g, tcpLoop, nbc, release)
	nbc.SetSession(c)
	nbc.OnData(c.onLoopData)
	g.ka.add(c, connectTimeout)
	c.ready()
	if err := g.loop.add(nbc); err != nil {
		// nbio closed it; whether it called back or not, end it here.
		g.logDebug("mqttgw: event loop refused a connection", c, "err", err)
		_ = nbc.Close()
		c.transportClosed(err)
	}
}

// spawn runs f on a goroutine of its own that Close waits for.
func (g *Gateway) spawn(f func()) {
	g.bg.Add(1)
	go func() {
		defer g.bg.Done()
		f()
	}()
}

// track counts a connection unless the gateway is closed.
func (g *Gateway) track() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.live.Add(1)
	return true
}

// Close disconnects every client (MQTT 5 clients that chat.Service.Close
// did not tell yet get DISCONNECT "server shutting down"), stops the
// listeners and waits for every connection to end. Call it after
// chat.Service.Close. If ctx ends first, the connections are closed
// abruptly and ctx's error returned.
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
	for _, cl := range g.clients {
		if cl.expiry != nil {
			cl.expiry.Stop()
		}
	}
	g.mu.Unlock()
	g.accepts.Wait()
	for _, c := range g.ka.all() {
		c.stopTelling(errShutdown, packets.ErrServerShuttingDown)
	}
	done := make(chan struct{})
	go func() {
		g.live.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		// A client that does not read holds its DISCONNECT: cut them.
		for _, c := range g.ka.all() {
			c.shutdown()
		}
		<-done
		err = ctx.Err()
	}
	g.bg.Wait()
	g.ka.close()
	g.loop.stop()
	g.fl.stop()
	g.mu.Lock()
	clear(g.clients)
	g.mu.Unlock()
	return err
}
