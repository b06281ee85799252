package mqttgw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/internal/conns"
	"github.com/banter-chat/banter/internal/evloop"
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
	// WriteTimeout bounds how long bytes may wait for a client to read
	// them (then it is disconnected), and every write to a TLS connection.
	// Default 10 s.
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
	c.MaxQueuedBytes = min(c.MaxQueuedBytes, 1<<30)
	if c.MaxInputBytes <= 0 {
		c.MaxInputBytes = 1 << 20
	}
	c.MaxInputBytes = min(c.MaxInputBytes, 1<<30)
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

	// hub is the event loop (made with the first connection), the flush
	// workers, the open connections and the sweeper (keepalive, clock,
	// load estimate).
	hub  *conns.Hub[*conn]
	fl   *flusher  // write coalescing (flush.go)
	exec *executor // packet handlers

	// clock is the seconds since start, advanced by the sweeper: what a
	// connection's last read records.
	clock atomic.Uint32
	start time.Time

	// reqCtx is the context of the chat calls a packet makes (requests.go),
	// remade every second.
	reqCtx    atomic.Pointer[context.Context]
	reqCancel [requestContexts]context.CancelFunc // sweeper's
	reqNext   int
	base      context.Context // cancelled by Close
	stopBase  context.CancelFunc

	mu        sync.Mutex
	closed    bool
	clients   map[string]*client // by MQTT client id
	bg        sync.WaitGroup     // goroutines of spawn (flushes and closes of blocking connections)
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
		closeDone: make(chan struct{}),
		exec:      newExecutor(4 * runtime.GOMAXPROCS(0)),
	}
	g.start = time.Now()
	g.base, g.stopBase = context.WithCancel(context.Background())
	g.renewRequestContext()
	g.fl = newFlusher(g)
	// The loop holds what the kernel did not take, up to MaxQueuedBytes
	// (and room for a goodbye): past it the client is a slow consumer.
	g.hub = conns.NewHub(cfg.Logger, cfg.MaxQueuedBytes, cfg.WriteTimeout, func(c *conn, _ time.Time) { c.tick(g.clock.Load()) })
	last := time.Now()
	g.hub.Every(func(now time.Time) {
		g.clock.Store(uint32(now.Sub(g.start) / time.Second))
		g.renewRequestContext()
		g.fl.updateRate(now.Sub(last))
		last = now
	})
	return g, nil
}

// Serve accepts MQTT connections on ln until Close, then returns
// ErrClosed. It may be called for several listeners. A *net.TCPListener is
// taken over by the event loop: connections are accepted there and never
// get a goroutine (ln itself is closed; Serve returns when the gateway
// closes). Any other listener (crypto/tls: MQTTS) is accepted from here,
// and its connections are served in blocking mode: a reading goroutine
// each, which the event loop cannot take over.
func (g *Gateway) Serve(ln net.Listener) error {
	loop, err := g.hub.Loop()
	if err != nil {
		ln.Close()
		return ErrClosed
	}
	if tl, ok := ln.(*net.TCPListener); ok {
		els, err := loop.Listen(tl, func(remote net.Addr) (*evloop.Conn, evloop.Handler) {
			c := g.accept(addrPort(remote))
			if c == nil {
				return nil, nil // MQTT has no word for "refused" before CONNECT
			}
			return &c.Conn, c
		})
		if err == nil {
			if !g.hub.Track(els, true) {
				els.Close()
				return ErrClosed
			}
			<-g.hub.Done() // served by the loop until Close
			return ErrClosed
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			return fmt.Errorf("mqttgw: %w", err)
		}
		return errors.New("mqttgw: the event loop cannot take the listener")
	}
	return g.serveAccept(loop, ln)
}

// serveAccept accepts from ln (TLS) and hands each connection to the loop
// (in blocking mode).
func (g *Gateway) serveAccept(loop *evloop.Loop, ln net.Listener) error {
	if !g.hub.Track(ln, true) {
		ln.Close()
		return ErrClosed
	}
	defer func() {
		g.hub.Track(ln, false)
		ln.Close()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if g.hub.IsClosed() {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				// Out of file descriptors: wait, as net/http does,
				// instead of failing the listener.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				g.log.Warn("mqttgw: accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("mqttgw: accept: %w", err)
		}
		backoff = 0
		c := g.accept(addrPort(nc.RemoteAddr()))
		if c == nil {
			nc.Close()
			continue
		}
		if err := loop.AddConn(nc, &c.Conn); err != nil {
			g.logDebug("mqttgw: event loop refused a connection", c, "err", err)
			c.transportClosed(err)
		}
	}
}

// accept admits a new MQTT/TCP connection (Config.Admit) and counts it; nil:
// refused, or the gateway is closed.
func (g *Gateway) accept(remote netip.AddrPort) *conn {
	release := func() {}
	if g.cfg.Admit != nil {
		r, err := g.cfg.Admit(remote.String())
		if err != nil {
			g.logDebug("mqttgw: connection refused", nil, "remote", remote.String(), "err", err)
			return nil
		}
		release = r
	}
	c := newConn(g, false, remote, release)
	if !g.hub.Open.Add(c, 1) { // Close waits for its end
		release()
		return nil
	}
	g.hub.Stats.Opened()
	return c
}

// spawn runs f on a goroutine of its own that Close waits for.
func (g *Gateway) spawn(f func()) {
	g.bg.Add(1)
	go func() {
		defer g.bg.Done()
		f()
	}()
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
	for _, cl := range g.clients {
		if cl.expiry != nil {
			cl.expiry.Stop()
		}
	}
	g.mu.Unlock()
	g.stopBase() // chat calls in progress end
	// A client that does not read holds its DISCONNECT: when ctx ends,
	// the hub cuts what is left.
	err := g.hub.Close(ctx, func(c *conn) { c.stopTelling(errShutdown, packets.ErrServerShuttingDown) })
	g.bg.Wait()
	g.fl.stop()
	g.exec.Close()
	g.mu.Lock()
	clear(g.clients)
	g.mu.Unlock()
	return err
}
