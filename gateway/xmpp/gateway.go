package xmppgw

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/internal/conns"
	"github.com/banter-chat/banter/gateway/xmpp/stanza"
	"github.com/banter-chat/banter/internal/evloop"
)

// Config configures a Gateway. The zero value of every field means its
// default.
type Config struct {
	Logger *slog.Logger // default: discard

	// Domain is the XMPP domain users are on (alice@Domain); rooms are on
	// "rooms." + Domain. Default: the host name.
	Domain string
	// TLS, if set, is offered as STARTTLS on Serve's connections (and
	// then required before authentication) and used by ServeTLS. Without
	// it, authentication is allowed on plain connections (a deployment
	// behind a TLS-terminating proxy, or a local one).
	TLS *tls.Config

	// Admit is asked for every new connection (remote "ip:port"); its
	// release is called once when the connection ends. nil: admit all.
	Admit func(remoteAddr string) (release func(), err error)
	// CheckOrigin vets the Origin of a WebSocket request (browsers); nil
	// allows every origin.
	CheckOrigin func(r *http.Request) error

	// MaxStanzaBytes bounds one stanza (larger: stream error
	// policy-violation). Default 64 KiB. MaxDepth bounds nesting inside
	// a stanza. Default 32.
	MaxStanzaBytes int
	MaxDepth       int
	// MaxQueuedBytes bounds what waits to be written to one client (and
	// what the event loop buffers for it); past it the client is
	// disconnected as a slow consumer. Default 1 MiB.
	MaxQueuedBytes int
	// MaxUnacked bounds the stanzas kept for stream management
	// (XEP-0198) that the client has not acknowledged; past it the
	// client is disconnected (a resumption could not be lossless).
	// Default 2000.
	MaxUnacked int
	// ResumeTimeout is how long a session whose connection was lost
	// waits for the client to resume it (XEP-0198), events queued
	// meanwhile. Default 5 minutes.
	ResumeTimeout time.Duration
	// AuthTimeout is the time a new connection has to authenticate and
	// bind a resource. Default 60 seconds.
	AuthTimeout time.Duration
	// KeepAlive is the idle time after which the kernel probes a silent
	// TCP connection (dead peers are dropped about two minutes later).
	// Default 2 minutes; negative: no probes.
	KeepAlive time.Duration
	// WriteTimeout bounds how long bytes may wait for a client to read
	// them (then it is disconnected), and a write to a connection that is
	// not on the event loop (a WebSocket over the HTTPS port). Default 10
	// seconds.
	WriteTimeout time.Duration
	// RequestBurst and RequestsPerSecond shape a per-connection bucket
	// over every stanza; beyond it stanzas are refused with
	// resource-constraint errors (messages also count against the chat's
	// per-user message rate). Defaults 100 and 50.
	RequestBurst      int
	RequestsPerSecond float64
	// HistoryOnJoin is the number of messages a room sends on join when
	// the client does not say (XEP-0045 <history/>). Default 20.
	HistoryOnJoin int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Domain == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		c.Domain = h
	}
	if c.MaxStanzaBytes <= 0 {
		c.MaxStanzaBytes = 64 << 10
	}
	if c.MaxDepth <= 0 {
		c.MaxDepth = stanza.DefaultMaxDepth
	}
	if c.MaxQueuedBytes <= 0 {
		c.MaxQueuedBytes = 1 << 20
	}
	if c.MaxUnacked <= 0 {
		c.MaxUnacked = 2000
	}
	if c.ResumeTimeout <= 0 {
		c.ResumeTimeout = 5 * time.Minute
	}
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = 60 * time.Second
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = 2 * time.Minute
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.RequestBurst <= 0 {
		c.RequestBurst = 100
	}
	if c.RequestsPerSecond <= 0 {
		c.RequestsPerSecond = 50
	}
	if c.HistoryOnJoin <= 0 {
		c.HistoryOnJoin = 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// ErrClosed is returned by Serve and ServeTLS after Close.
var ErrClosed = errors.New("xmppgw: gateway closed")

// Gateway is the XMPP gateway. See the package documentation.
type Gateway struct {
	svc    *chat.Service
	cfg    Config
	log    *slog.Logger
	domain string
	muc    string // "rooms." + domain
	caps   capsInfo
	// hub is the event loop (made on the first connection), the flush
	// workers, the open connections Close waits for, the listeners it
	// closes, and the sweeper (auth timeouts).
	hub *conns.Hub[*conn]

	mu        sync.Mutex
	closed    bool
	resumable map[string]*session            // XEP-0198 id → session
	resources map[string]map[string]*session // bare JID local → resource → session

	typingState // room → who was typing (render.go)

	// bg counts hibernating sessions and background work (ending a
	// session): Close waits for them after the connections.
	bg        sync.WaitGroup
	closeOnce sync.Once

	stats counters
}

// New returns a Gateway for svc, with no listener yet: Serve (XMPP over
// TCP with STARTTLS), ServeTLS (direct TLS, XEP-0368) and ServeHTTP (the
// WebSocket binding, RFC 7395) add them.
func New(svc *chat.Service, cfg Config) (*Gateway, error) {
	cfg = cfg.withDefaults()
	dom, err := stanza.ParseJID(cfg.Domain)
	if err != nil || dom.Local != "" || dom.Resource != "" {
		return nil, fmt.Errorf("xmppgw: domain %q is not a valid XMPP domain", cfg.Domain)
	}
	g := &Gateway{
		svc: svc, cfg: cfg, log: cfg.Logger,
		domain:    dom.Domain,
		muc:       "rooms." + dom.Domain,
		resumable: make(map[string]*session),
		resources: make(map[string]map[string]*session),
	}
	g.typing = make(map[string][]string)
	g.caps = newCaps()
	g.hub = conns.NewHub(cfg.Logger, cfg.MaxQueuedBytes, cfg.WriteTimeout, (*conn).tick)
	return g, nil
}

// Domain returns the XMPP domain.
func (g *Gateway) Domain() string { return g.domain }

// Serve accepts XMPP client connections (RFC 6120) on ln until Close,
// offering STARTTLS when Config.TLS is set. It returns ErrClosed after
// Close. A *net.TCPListener is taken over by the event loop, which
// accepts its connections itself (ln is closed by then); any other
// listener is served by an accepting goroutine.
func (g *Gateway) Serve(ln net.Listener) error { return g.serve(ln, transportTCP) }

// ServeTLS accepts connections that start with TLS (XEP-0368, port
// 5223 by custom). It needs Config.TLS.
func (g *Gateway) ServeTLS(ln net.Listener) error {
	if g.cfg.TLS == nil {
		ln.Close()
		return errors.New("xmppgw: ServeTLS needs Config.TLS")
	}
	return g.serve(ln, transportDirectTLS)
}

func (g *Gateway) serve(ln net.Listener, kind transportKind) error {
	loop, err := g.hub.Loop()
	if err != nil {
		ln.Close()
		return ErrClosed
	}
	if tl, ok := ln.(*net.TCPListener); ok {
		ls, err := loop.Listen(tl, func(remote net.Addr) (*evloop.Conn, evloop.Handler) {
			c := g.accepted(remote.String(), kind)
			if c == nil {
				return nil, nil
			}
			return &c.Conn, c
		})
		switch {
		case err == nil:
			if err := ls.SetKeepAlive(g.keepAlive()); err != nil {
				g.log.Warn("xmpp: TCP keep-alive not set", "err", err)
			}
			if !g.hub.Track(ls, true) {
				ls.Close()
				return ErrClosed
			}
			<-g.hub.Done()
			return ErrClosed
		case errors.Is(err, errors.ErrUnsupported): // no event loop here: accept below
		default:
			return err
		}
	}
	if !g.hub.Track(ln, true) || !g.hub.Open.Enter() {
		ln.Close()
		return ErrClosed
	}
	defer g.hub.Open.Leave()
	defer g.hub.Track(ln, false)
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if g.hub.IsClosed() {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				// Out of descriptors or the like: back off, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				g.log.Warn("xmpp: accept failed; retrying", "err", err, "in", delay)
				select {
				case <-time.After(delay):
				case <-g.hub.Done():
				}
				continue
			}
			return err
		}
		delay = 0
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetKeepAliveConfig(g.keepAlive())
		}
		c := g.accepted(nc.RemoteAddr().String(), kind)
		if c == nil {
			nc.Close()
			continue
		}
		if err := loop.AddConn(nc, &c.Conn); err != nil {
			c.OnClose(&c.Conn, err) // not served: the loop calls no handler
		}
	}
}

// keepAlive is the TCP keep-alive of client connections (Config.KeepAlive).
func (g *Gateway) keepAlive() net.KeepAliveConfig {
	if g.cfg.KeepAlive < 0 {
		return net.KeepAliveConfig{}
	}
	return net.KeepAliveConfig{Enable: true, Idle: g.cfg.KeepAlive, Interval: 30 * time.Second, Count: 4}
}

// accepted admits a new connection and registers it, or returns nil
// (refused, or the gateway is closed). It runs on the event loop's
// accepting goroutine: it must not block.
func (g *Gateway) accepted(remote string, kind transportKind) *conn {
	release := func() {}
	if g.cfg.Admit != nil {
		r, err := g.cfg.Admit(remote)
		if err != nil {
			// Before the stream header we cannot say why in XMPP terms
			// without reading it: a refused connection is just closed.
			g.stats.refused.Add(1)
			return nil
		}
		release = r
	}
	c := g.newConn(kind, release, remote)
	if !g.register(c) {
		release()
		return nil
	}
	return c
}

// register adds c to the open connections unless the gateway is closed.
func (g *Gateway) register(c *conn) bool {
	if !g.hub.Open.Add(c, 1) { // Close waits for its finish
		return false
	}
	g.stats.accepted[c.kind].Add(1)
	g.stats.open[c.kind].Add(1)
	return true
}

// unregister forgets a finished connection.
func (g *Gateway) unregister(c *conn) {
	g.stats.closed.Add(1)
	g.stats.open[c.kind].Add(-1)
	g.hub.Open.Remove(c)
	g.hub.Open.Leave()
}

// goBackground runs f on a goroutine that Close waits for.
func (g *Gateway) goBackground(f func()) {
	g.bg.Add(1)
	go func() {
		defer g.bg.Done()
		f()
	}()
}

// Close stops accepting, ends every connection (chat sessions end first:
// call it after chat.Service.Close so clients hear system-shutdown) and
// the sessions waiting for a resumption, and waits for the gateway's
// goroutines, or for ctx.
func (g *Gateway) Close(ctx context.Context) error {
	var hib []*session
	g.closeOnce.Do(func() {
		g.mu.Lock()
		g.closed = true // no hibernation from now on (connLost)
		for _, s := range g.resumable {
			hib = append(hib, s)
		}
		g.mu.Unlock()
	})
	err := g.hub.Close(ctx, func(c *conn) {
		c.streamError("system-shutdown", "the server is shutting down")
	})
	for _, s := range hib {
		s.end("shutdown")
	}
	if werr := conns.Wait(ctx, &g.bg); err == nil {
		err = werr
	}
	return err
}

// Activity counts connections accepted and closed so far, a TLS
// handshake as ten (it leaves tens of kilobytes of garbage, a plain login
// a few): a burst of them tells the app's memory reclaimer to return
// memory afterwards.
func (g *Gateway) Activity() uint64 {
	return g.stats.accepted[0].Load() + g.stats.accepted[1].Load() + g.stats.accepted[2].Load() +
		g.stats.closed.Load() + 10*g.stats.tlsHandshakes.Load()
}

// Stats is a snapshot of the gateway's connections, for metrics.
type Stats struct {
	TCP, TLS, WebSocket int       // open connections by transport (TCP: plain or after STARTTLS)
	Accepted            [3]uint64 // connections accepted since New, by transport (tcp, tls, websocket)
	Sessions            int       // bound resources (chat sessions), hibernating ones included
	Hibernating         int       // sessions waiting for a stream resumption
	Resumed             uint64    // successful XEP-0198 resumptions
	SlowConsumers       uint64    // connections closed because their queue overflowed
	Refused             uint64    // connections refused by admission
}

type counters struct {
	accepted [3]atomic.Uint64
	open     [3]atomic.Int64
	resumed  atomic.Uint64
	slow     atomic.Uint64
	refused  atomic.Uint64
	closed   atomic.Uint64
	// tlsHandshakes counts TLS handshakes done on the event loop.
	tlsHandshakes atomic.Uint64
}

// Stats returns the gateway's counters.
func (g *Gateway) Stats() Stats {
	var st Stats
	for i := range st.Accepted {
		st.Accepted[i] = g.stats.accepted[i].Load()
	}
	st.TCP = int(g.stats.open[transportTCP].Load())
	st.TLS = int(g.stats.open[transportDirectTLS].Load())
	st.WebSocket = int(g.stats.open[transportWebSocket].Load())
	st.Resumed, st.SlowConsumers, st.Refused = g.stats.resumed.Load(), g.stats.slow.Load(), g.stats.refused.Load()
	g.mu.Lock()
	for _, rs := range g.resources {
		st.Sessions += len(rs)
	}
	st.Hibernating = len(g.resumable)
	for _, s := range g.resumable {
		if s.attached() {
			st.Hibernating--
		}
	}
	g.mu.Unlock()
	return st
}
