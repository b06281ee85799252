// Package guard admits client connections for every gateway: a cap on
// connections in total, a cap per client address, a handshake rate per
// client address (token bucket), and the browser origins allowed to
// connect. One Guard is shared by all gateways of a server, so a client
// cannot multiply its allowance by switching protocols.
//
// Client addresses are IPs; IPv6 addresses are grouped by /64 (one host
// usually owns a whole /64, so counting single IPv6 addresses would let it
// open connections without bound). Loopback clients are exempt from the
// per-address limits by default: behind a reverse proxy on the same
// machine every client comes from loopback, and the proxy is where
// per-client limits belong then (docs/operations.md).
//
// Concurrency: all methods may be called from any goroutine.
package guard

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Guard. Zero values mean the documented defaults.
type Config struct {
	// MaxConns caps connections across all gateways. 0: no cap.
	MaxConns int
	// MaxConnsPerIP caps the connections of one client address. 0: no cap.
	MaxConnsPerIP int
	// HandshakesPerSecond and HandshakeBurst shape the token bucket of new
	// connections per client address. 0 rate: no limit. Burst defaults to
	// twice the rate (at least 1).
	HandshakesPerSecond float64
	HandshakeBurst      int
	// LimitLoopback applies the per-address limits to loopback clients too
	// (tests; a server whose clients really are local).
	LimitLoopback bool
	// Origins lists the browser origins ("https://chat.example.com") allowed
	// besides the server's own; "*" allows any. Requests without an Origin
	// header (native apps) are always allowed: the origin check exists to
	// stop other web sites' pages from using a visitor's browser.
	Origins []string
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
}

// Refusals. Their messages are meant for the client.
var (
	ErrServerFull   = errors.New("server is at its connection limit; try again later")
	ErrTooManyConns = errors.New("too many connections from your address")
	ErrTooFast      = errors.New("too many new connections from your address; slow down")
	ErrOrigin       = errors.New("this origin is not allowed to connect")
)

// Guard admits connections. See the package documentation.
type Guard struct {
	cfg     Config
	anyOrig bool
	origins map[string]bool // normalized "scheme://host[:port]"

	total atomic.Int64
	// refusals by kind (Stats)
	full, perIP, fast, origin atomic.Uint64

	mu     sync.Mutex
	ips    map[netip.Prefix]*client
	admits int // since the last sweep
}

type client struct {
	conns  int
	tokens float64
	last   time.Time
}

// New returns a Guard. It fails on an origin that is not a URL origin.
func New(cfg Config) (*Guard, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HandshakeBurst <= 0 {
		cfg.HandshakeBurst = max(1, int(2*cfg.HandshakesPerSecond))
	}
	g := &Guard{cfg: cfg, origins: map[string]bool{}, ips: map[netip.Prefix]*client{}}
	for _, o := range cfg.Origins {
		if o == "*" {
			g.anyOrig = true
			continue
		}
		n, ok := normalizeOrigin(o)
		if !ok {
			return nil, fmt.Errorf("guard: origin %q: want scheme://host[:port], e.g. https://chat.example.com, or *", o)
		}
		g.origins[n] = true
	}
	return g, nil
}

// Stats are the refusals since New.
type Stats struct {
	ServerFull, TooManyConns, TooFast, Origin uint64
}

// Stats returns the refusals so far.
func (g *Guard) Stats() Stats {
	return Stats{ServerFull: g.full.Load(), TooManyConns: g.perIP.Load(), TooFast: g.fast.Load(), Origin: g.origin.Load()}
}

// Config returns the configuration.
func (g *Guard) Config() Config { return g.cfg }

// Conns returns the number of admitted connections not yet released.
func (g *Guard) Conns() int { return int(g.total.Load()) }

// Admit counts a new connection from remoteAddr ("ip:port", as
// http.Request.RemoteAddr and net.Conn.RemoteAddr give it). On success
// the caller must call release exactly once when the connection ends
// (release is idempotent). On refusal err is one of the Err values.
func (g *Guard) Admit(remoteAddr string) (release func(), err error) {
	if n := g.total.Add(1); g.cfg.MaxConns > 0 && n > int64(g.cfg.MaxConns) {
		g.total.Add(-1)
		g.full.Add(1)
		return nil, ErrServerFull
	}
	key, limited := g.key(remoteAddr)
	if !limited {
		return g.releaser(netip.Prefix{}), nil
	}
	now := g.cfg.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.clientLocked(key, now)
	if g.cfg.MaxConnsPerIP > 0 && c.conns >= g.cfg.MaxConnsPerIP {
		g.total.Add(-1)
		g.perIP.Add(1)
		return nil, ErrTooManyConns
	}
	if !g.takeLocked(c, now) {
		g.total.Add(-1)
		g.fast.Add(1)
		return nil, ErrTooFast
	}
	c.conns++
	return g.releaser(key), nil
}

// Allow takes a token from remoteAddr's handshake bucket without counting
// a connection: for requests that create something costly without
// holding a connection (a REST chat session). ErrTooFast when empty.
func (g *Guard) Allow(remoteAddr string) error {
	key, limited := g.key(remoteAddr)
	if !limited || g.cfg.HandshakesPerSecond <= 0 {
		return nil
	}
	now := g.cfg.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.takeLocked(g.clientLocked(key, now), now) {
		g.fast.Add(1)
		return ErrTooFast
	}
	return nil
}

func (g *Guard) clientLocked(key netip.Prefix, now time.Time) *client {
	c := g.ips[key]
	if c == nil {
		c = &client{tokens: float64(g.cfg.HandshakeBurst), last: now}
		g.ips[key] = c
	}
	if g.admits++; g.admits >= 4096 {
		g.sweepLocked(now)
		g.ips[key] = c // the sweep may have dropped it
	}
	return c
}

// takeLocked takes a handshake token from c's bucket.
func (g *Guard) takeLocked(c *client, now time.Time) bool {
	if g.cfg.HandshakesPerSecond <= 0 {
		return true
	}
	c.tokens = min(float64(g.cfg.HandshakeBurst), c.tokens+now.Sub(c.last).Seconds()*g.cfg.HandshakesPerSecond)
	c.last = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// CORSOrigin reports whether a cross-origin browser request from origin
// may read responses (Config.Origins; the server's own origin needs no
// CORS).
func (g *Guard) CORSOrigin(origin string) bool {
	if origin == "" {
		return false
	}
	if g.anyOrig {
		return true
	}
	n, ok := normalizeOrigin(origin)
	return ok && g.origins[n]
}

func (g *Guard) releaser(key netip.Prefix) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			g.total.Add(-1)
			if !key.IsValid() {
				return
			}
			g.mu.Lock()
			if c := g.ips[key]; c != nil {
				c.conns--
			}
			g.mu.Unlock()
		})
	}
}

// sweepLocked forgets addresses with no connection whose bucket is full
// again: the map stays as large as the set of recently active clients.
func (g *Guard) sweepLocked(now time.Time) {
	g.admits = 0
	for k, c := range g.ips {
		full := g.cfg.HandshakesPerSecond <= 0 ||
			c.tokens+now.Sub(c.last).Seconds()*g.cfg.HandshakesPerSecond >= float64(g.cfg.HandshakeBurst)
		if c.conns == 0 && full {
			delete(g.ips, k)
		}
	}
}

// key returns the address group of remoteAddr and whether the
// per-address limits apply to it.
func (g *Guard) key(remoteAddr string) (netip.Prefix, bool) {
	if g.cfg.MaxConnsPerIP <= 0 && g.cfg.HandshakesPerSecond <= 0 {
		return netip.Prefix{}, false
	}
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Prefix{}, false // not an IP (a Unix socket, a pipe)
	}
	ip := ap.Addr().Unmap()
	if ip.IsLoopback() && !g.cfg.LimitLoopback {
		return netip.Prefix{}, false
	}
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits) // cannot fail: bits fit the address family
	return p, true
}

// CheckOrigin allows a browser request whose Origin header is absent,
// the server's own origin (same host), or one of Config.Origins.
func (g *Guard) CheckOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" || g.anyOrig {
		return nil
	}
	u, err := url.Parse(origin)
	if err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	if n, ok := normalizeOrigin(origin); ok && g.origins[n] {
		return nil
	}
	g.origin.Add(1)
	return ErrOrigin
}

// OriginPatterns returns the allowed origins as host patterns (what
// github.com/coder/websocket's AcceptOptions.OriginPatterns takes).
func (g *Guard) OriginPatterns() []string {
	if g.anyOrig {
		return []string{"*"}
	}
	var out []string
	for o := range g.origins {
		u, _ := url.Parse(o)
		out = append(out, u.Host)
	}
	return out
}

func normalizeOrigin(o string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		return "", false
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), true
}

// Status is the HTTP status for a refusal: 503 when the server is full,
// 429 for a client over its limits, 403 for a refused origin.
func Status(err error) int {
	switch {
	case errors.Is(err, ErrServerFull):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrTooManyConns), errors.Is(err, ErrTooFast):
		return http.StatusTooManyRequests
	}
	return http.StatusForbidden
}

// Middleware guards a handler whose connection lasts as long as its
// ServeHTTP call (a WebSocket served on the handler goroutine, an SSE
// stream): origin check, admission before, release after.
func (g *Guard) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := g.CheckOrigin(r); err != nil {
			http.Error(w, err.Error(), Status(err))
			return
		}
		release, err := g.Admit(r.RemoteAddr)
		if err != nil {
			Refuse(w, err)
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}

// OriginMiddleware refuses requests from browser origins that are not
// allowed, and serves the others with next (which admits connections
// itself, e.g. for connections that outlive their handler).
func (g *Guard) OriginMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := g.CheckOrigin(r); err != nil {
			http.Error(w, err.Error(), Status(err))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Refuse answers a request Admit refused, as Middleware does.
func Refuse(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrTooFast) {
		w.Header().Set("Retry-After", "1")
	}
	http.Error(w, err.Error(), Status(err))
}

// Listener wraps ln: connections over the limits are closed at once
// (after refuse, if not nil, had a chance to tell the client why, e.g. a
// line of the TCP protocol); admitted connections release their place
// when closed.
func (g *Guard) Listener(ln net.Listener, refuse func(c net.Conn, err error)) net.Listener {
	return &listener{Listener: ln, g: g, refuse: refuse}
}

type listener struct {
	net.Listener
	g      *Guard
	refuse func(net.Conn, error)
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		release, err := l.g.Admit(c.RemoteAddr().String())
		if err != nil {
			if l.refuse != nil {
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				l.refuse(c, err)
			}
			c.Close()
			continue
		}
		return &conn{Conn: c, release: release}, nil
	}
}

type conn struct {
	net.Conn
	release func()
}

// NetConn returns the accepted connection (as tls.Conn.NetConn does), for
// code that sets socket options.
func (c *conn) NetConn() net.Conn { return c.Conn }

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}
