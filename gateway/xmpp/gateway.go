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
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/xmpp/stanza"
	"github.com/lesismal/nbio"
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
	// WriteTimeout bounds a write to a connection that is not on the
	// event loop (a WebSocket over the HTTPS port). Default 10 seconds.
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
	// Pollers is the number of event-loop goroutines. Default
	// GOMAXPROCS/4, at least 1.
	Pollers int
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
	if c.Pollers <= 0 {
		c.Pollers = max(1, runtime.GOMAXPROCS(0)/4)
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
	svc     *chat.Service
	cfg     Config
	log     *slog.Logger
	domain  string
	muc     string // "rooms." + domain
	caps    capsInfo
	flusher *flusher

	loopMu      sync.Mutex
	loop        *nbio.Engine
	loopStarted bool
	loopStopped bool

	mu        sync.Mutex
	closed    bool
	lns       map[net.Listener]struct{}
	conns     map[*conn]struct{}
	resumable map[string]*session            // XEP-0198 id → session
	resources map[string]map[string]*session // bare JID local → resource → session

	typingState // room → who was typing (render.go)

	wg        sync.WaitGroup // accept loops, processors, background work
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
		lns:       make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		resumable: make(map[string]*session),
		resources: make(map[string]map[string]*session),
	}
	g.typing = make(map[string][]string)
	g.caps = newCaps()
	g.flusher = newFlusher(g, runtime.GOMAXPROCS(0))
	g.loop = nbio.NewEngine(nbio.Config{
		Name:               "banter-xmpp",
		NPoller:            cfg.Pollers,
		ReadBufferSize:     16 << 10,
		MaxWriteBufferSize: cfg.MaxQueuedBytes,
	})
	g.loop.OnData(g.onData)
	g.loop.OnClose(g.onClose)
	return g, nil
}

// Domain returns the XMPP domain.
func (g *Gateway) Domain() string { return g.domain }

// startLoop starts the event loop on the first connection (nbio's Stop
// hangs when it runs before the pollers started: see engineio.start).
func (g *Gateway) startLoop() error {
	g.loopMu.Lock()
	defer g.loopMu.Unlock()
	if g.loopStopped {
		return ErrClosed
	}
	if !g.loopStarted {
		reserveProcs(g.cfg.Pollers, g.log)
		if err := g.loop.Start(); err != nil {
			return err
		}
		g.loopStarted = true
	}
	return nil
}

// reserveProcs gives the pollers room in the scheduler, as
// engineio.reserveProcs does for its own (a poller keeps its P while it
// waits in epoll_wait): GOMAXPROCS is raised to one more than the pollers
// unless the GOMAXPROCS environment variable sets it.
func reserveProcs(pollers int, log *slog.Logger) {
	want := pollers + 1
	have := runtime.GOMAXPROCS(0)
	if have >= want || os.Getenv("GOMAXPROCS") != "" {
		return
	}
	runtime.GOMAXPROCS(want)
	log.Info("GOMAXPROCS raised for the XMPP event loop", "from", have, "to", want)
}

// Serve accepts XMPP client connections (RFC 6120) on ln until Close,
// offering STARTTLS when Config.TLS is set. It returns ErrClosed after
// Close.
func (g *Gateway) Serve(ln net.Listener) error { return g.serve(ln, false) }

// ServeTLS accepts connections that start with TLS (XEP-0368, port
// 5223 by custom). It needs Config.TLS.
func (g *Gateway) ServeTLS(ln net.Listener) error {
	if g.cfg.TLS == nil {
		return errors.New("xmppgw: ServeTLS needs Config.TLS")
	}
	return g.serve(ln, true)
}

func (g *Gateway) serve(ln net.Listener, directTLS bool) error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	g.lns[ln] = struct{}{}
	g.wg.Add(1)
	g.mu.Unlock()
	defer g.wg.Done()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			g.mu.Lock()
			closed := g.closed
			g.mu.Unlock()
			if closed {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscallEMFILE) {
				// Out of descriptors or the like: back off, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				g.log.Warn("xmpp: accept failed; retrying", "err", err, "in", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		g.accept(nc, directTLS)
	}
}

// accept admits a TCP connection and moves it onto the event loop.
func (g *Gateway) accept(nc net.Conn, directTLS bool) {
	release := func() {}
	if g.cfg.Admit != nil {
		r, err := g.cfg.Admit(nc.RemoteAddr().String())
		if err != nil {
			// Before the stream header we cannot say why in XMPP terms
			// without reading it: a refused connection is just closed.
			g.stats.refused.Add(1)
			nc.Close()
			return
		}
		release = r
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		release()
		nc.Close()
		g.log.Warn("xmpp: listener gave a connection that is not TCP; closed")
		return
	}
	if ka := g.cfg.KeepAlive; ka > 0 {
		_ = tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: ka, Interval: 30 * time.Second, Count: 4})
	} else {
		_ = tc.SetKeepAlive(false)
	}
	if err := g.startLoop(); err != nil {
		release()
		nc.Close()
		return
	}
	c := g.newConn(transportTCP, release, nc.RemoteAddr().String())
	if directTLS {
		c.kind = transportDirectTLS
	}
	if !g.register(c) {
		release()
		nc.Close()
		return
	}
	nbc, err := nbio.NBConn(tc) // a duplicate descriptor; tc is closed
	if err != nil {
		c.closed(err)
		return
	}
	c.nc = nbc
	nbc.SetSession(c)
	if directTLS {
		c.startTLS()
	}
	c.armAuthTimer()
	c.publish()
	if _, err := g.loop.AddConn(nbc); err != nil {
		nbc.Close()
		c.closed(err)
	}
}

// register adds c to the live connections unless the gateway is closed.
func (g *Gateway) register(c *conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.conns[c] = struct{}{}
	g.stats.accepted[c.kind].Add(1)
	g.wg.Add(1) // released by conn.finish
	return true
}

func (g *Gateway) unregister(c *conn) {
	g.stats.closed.Add(1)
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

// onData is the event loop's read callback.
func (g *Gateway) onData(nc *nbio.Conn, data []byte) {
	c, _ := nc.Session().(*conn)
	if c == nil {
		nc.Close()
		return
	}
	c.onData(data)
}

// onClose is the event loop's close callback.
func (g *Gateway) onClose(nc *nbio.Conn, err error) {
	c, _ := nc.Session().(*conn)
	if c == nil {
		return
	}
	c.closed(err)
}

// goBackground runs f on a goroutine that Close waits for, unless the
// gateway is closed (then it runs f synchronously: Close is waiting on
// other work and f must still happen, e.g. ending a session).
func (g *Gateway) goBackground(f func()) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f()
	}()
}

// Close stops accepting, ends every connection (chat sessions end first:
// call it after chat.Service.Close so clients hear system-shutdown) and
// waits for the gateway's goroutines, or for ctx.
func (g *Gateway) Close(ctx context.Context) error {
	g.closeOnce.Do(func() {
		g.mu.Lock()
		g.closed = true
		lns := make([]net.Listener, 0, len(g.lns))
		for ln := range g.lns {
			lns = append(lns, ln)
		}
		conns := make([]*conn, 0, len(g.conns))
		for c := range g.conns {
			conns = append(conns, c)
		}
		hib := make([]*session, 0, len(g.resumable))
		for _, s := range g.resumable {
			hib = append(hib, s)
		}
		g.mu.Unlock()
		for _, ln := range lns {
			ln.Close()
		}
		for _, c := range conns {
			c.streamError("system-shutdown", "the server is shutting down")
		}
		for _, s := range hib {
			s.end("shutdown")
		}
	})
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		g.flusher.stop()
		g.loopMu.Lock()
		g.loopStopped = true
		if g.loopStarted {
			g.loop.Stop()
		}
		g.loopMu.Unlock()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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
	st.Resumed, st.SlowConsumers, st.Refused = g.stats.resumed.Load(), g.stats.slow.Load(), g.stats.refused.Load()
	g.mu.Lock()
	for c := range g.conns {
		switch {
		case c.kind == transportWebSocket:
			st.WebSocket++
		case c.kind == transportDirectTLS:
			st.TLS++
		default:
			st.TCP++
		}
	}
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
