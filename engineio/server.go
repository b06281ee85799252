// Package engineio is an Engine.IO server (protocol versions 4 and 3):
// HTTP long-polling and WebSocket transports, the upgrade between them,
// heartbeats, and the error responses of Node's engine.io 6.
//
// Entry points: NewServer returns a Server, an http.Handler to mount at
// "/engine.io/" (or "/socket.io/" under Socket.IO). Config.OnConnection
// receives every new session (*Socket); the application sets its Handler
// there, then uses Socket.Send and Socket.Close. Server.Shutdown closes every
// session and waits.
//
// Concurrency: a Socket's Handler.OnMessage calls are serialized and in
// order. Send and Close may be called from any goroutine. WebSocket
// connections are served by an event loop (internal/evloop), not a
// goroutine per connection, so an idle session costs memory only; queued
// packets are written by a small pool of flush workers that coalesce
// everything queued for a session into one write, and under load hold a
// busy session's writes for a few milliseconds so that one write carries
// more (flush.go).
//
// Lock order (a lock may be taken while holding the ones before it, never
// the other way round):
//
//	Socket.recvMu  held while Handler.OnMessage runs: the application may
//	               take its own locks and call any Socket method
//	(the application's locks: Send, Enqueue, SendVolatile, Cork and Close
//	               may be called with them held, e.g. under a chat room's
//	               lock during a broadcast)
//	Socket.mu      a session's state and queue
//	heartbeats.mu  the heartbeat lists (heartbeat.go)
//
// Server.mu (the session table) and wsEngine.mu are never held together
// with a Socket.mu. No callback of the application (OnConnection,
// OnMessage, OnClose) runs with a Socket.mu or Server.mu held; Config.Admit's
// release runs under Server.mu and must not call into the Server. Sends
// under Socket.mu to the flush workers' channels never block.
//
// Clusters without sticky sessions: with Config.SIDPrefix naming the node
// and Config.Owner locating the node of a sid, a request for another node's
// session is forwarded there (forward.go).
package engineio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Server. The zero value is usable: every zero field
// means its default.
type Config struct {
	PingInterval time.Duration // default 25s
	PingTimeout  time.Duration // default 20s
	// UpgradeTimeout bounds a polling→WebSocket upgrade (default 10s).
	UpgradeTimeout time.Duration
	// MaxPayload is the largest accepted message or POST body in bytes
	// (Node's maxHttpBufferSize; default 1,000,000).
	MaxPayload int
	// MaxBufferedBytes bounds the bytes queued for one session, in our queue
	// and in the kernel-bypassing write buffer; a session past it is closed
	// with ReasonSlowConsumer (default 4 MiB).
	MaxBufferedBytes int
	// SocketSendBuffer sets SO_SNDBUF on WebSocket connections (default
	// 256 KiB; negative: leave it to the kernel, which autotunes it up to
	// net.ipv4.tcp_wmem's maximum, 4 MiB by default). It bounds the kernel
	// memory a client that stopped reading holds on top of
	// MaxBufferedBytes; chat traffic never needs more.
	SocketSendBuffer int
	// WriteTimeout bounds every write (default 10s).
	WriteTimeout time.Duration
	// MaxWriteDelay is the longest a WebSocket frame may wait so that it
	// shares a write with the frames after it, when the server is busy
	// (flush.go: under load a write costs the same for one frame or
	// twenty). Default 40ms; negative: never wait. A session that has not
	// written recently is written at once whatever the load.
	MaxWriteDelay time.Duration
	// WriteDelayAbove is the WebSocket frames per second written by the
	// whole server above which it starts holding busy sessions' writes
	// (default 20,000); the delay grows linearly to MaxWriteDelay at four
	// times this rate.
	WriteDelayAbove int
	// DisablePolling / DisableWebSocket remove a transport.
	DisablePolling   bool
	DisableWebSocket bool
	// DisableEIO3 refuses protocol 3 clients (socket.io 1.x/2.x). Node calls
	// the opposite allowEIO3; here old clients are welcome by default.
	DisableEIO3 bool
	// CORS, when set, adds CORS headers to polling responses and answers
	// preflight requests.
	CORS *CORS
	// AllowRequest, when set, is called for every handshake and upgrade
	// request; a non-nil error refuses it with code Forbidden (HTTP 403).
	// A *RequestError's message is sent to the client.
	AllowRequest func(r *http.Request) error
	// Admit, when set, is called for every handshake that AllowRequest let
	// through. A non-nil error refuses it like AllowRequest's (a
	// *RequestError's code, status and message reach the client);
	// otherwise release is called once when the session ends (also when
	// the handshake fails after Admit). Connection limits live here.
	Admit func(r *http.Request) (release func(), err error)
	// OnConnection is called for every new session, before any message of
	// it is delivered. It must set the session's Handler (or close it).
	OnConnection func(s *Socket)
	// Logger receives lifecycle logs (default: discard).
	Logger *slog.Logger

	// SIDPrefix starts every session id this server creates, so that the
	// servers of a cluster can tell which of them owns a session (the node
	// id). At most 32 characters of [A-Za-z0-9_.~-]: the id travels in URL
	// queries.
	SIDPrefix string
	// Owner, when set, is asked about a long-polling request or WebSocket
	// upgrade whose sid is not a session of this server. It returns the
	// base URL of the server that owns sid (a cluster node's advertised
	// address), and the request is forwarded there (forward.go), or nil:
	// the client gets the usual "Session ID unknown" error. A request that
	// was already forwarded (ForwardedHeader) is never forwarded again.
	// Owner is called on the request's goroutine and may block briefly.
	Owner func(ctx context.Context, sid string) *url.URL
}

// CORS configures cross-origin access to the polling transport.
type CORS struct {
	// Origins allowed; "*" allows any origin.
	Origins []string
	// Credentials sets Access-Control-Allow-Credentials (a "*" origin is then
	// echoed back, as browsers require).
	Credentials bool
}

func (c *Config) setDefaults() {
	if c.PingInterval <= 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 20 * time.Second
	}
	if c.UpgradeTimeout <= 0 {
		c.UpgradeTimeout = 10 * time.Second
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = 1_000_000
	}
	if c.MaxBufferedBytes <= 0 {
		c.MaxBufferedBytes = 4 << 20
	}
	if c.SocketSendBuffer == 0 {
		c.SocketSendBuffer = 256 << 10
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	switch {
	case c.MaxWriteDelay == 0:
		c.MaxWriteDelay = 40 * time.Millisecond
	case c.MaxWriteDelay < 0:
		c.MaxWriteDelay = 0
	}
	if c.WriteDelayAbove <= 0 {
		c.WriteDelayAbove = 20_000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if len(c.SIDPrefix) > 32 || strings.Trim(c.SIDPrefix, sidChars) != "" {
		panic("engineio: Config.SIDPrefix " + strconv.Quote(c.SIDPrefix) + ": want at most 32 of [A-Za-z0-9_.~-]")
	}
}

const sidChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~-"

// Server is an Engine.IO server. It is an http.Handler.
type Server struct {
	cfg Config
	log *slog.Logger

	mu       sync.RWMutex
	sessions map[string]*Socket
	closing  bool
	allDone  chan struct{} // closed when closing and sessions is empty

	count atomic.Int64
	stats counters    // stats.go
	hb    *heartbeats // heartbeat.go

	ws       *wsEngine    // nil when WebSocket is disabled
	fwd      *forwarder   // nil without Config.Owner
	flushQ   chan *Socket // sessions for the flush workers (flush.go)
	pace     pacer
	workers  sync.WaitGroup // the flush workers and the pacer
	stop     chan struct{}
	stopOnce sync.Once
}

// NewServer returns a started server.
func NewServer(cfg Config) *Server {
	cfg.setDefaults()
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		sessions: make(map[string]*Socket),
		allDone:  make(chan struct{}),
		flushQ:   make(chan *Socket, 1<<16),
		stop:     make(chan struct{}),
	}
	s.hb = newHeartbeats(&s.cfg, (*Socket).onTimer)
	s.pace.held = make(chan *Socket, 1<<16)
	s.pace.tick.Store(1)
	n := runtime.GOMAXPROCS(0)
	s.workers.Add(n + 1)
	for range n {
		go s.flushWorker()
	}
	go s.runPacer()
	if !cfg.DisableWebSocket {
		s.ws = newWSEngine(s)
	}
	if cfg.Owner != nil {
		s.fwd = newForwarder(s)
	}
	return s
}

// Count returns the number of open sessions.
func (s *Server) Count() int { return int(s.count.Load()) }

// Socket returns the open session (Engine.IO socket) with the given id,
// or nil.
func (s *Server) Socket(id string) *Socket {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sessions[id]
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if s.cfg.CORS != nil {
		if s.cors(w, r) {
			return
		}
	}
	transport := q.Get("transport")
	upgrade := isWebSocketUpgrade(r)
	if transport != "polling" && transport != "websocket" ||
		transport == "polling" && s.cfg.DisablePolling ||
		transport == "websocket" && s.ws == nil {
		s.refuse(w, r, upgrade, ErrUnknownTransport, "")
		return
	}
	if sid := q.Get("sid"); sid != "" {
		sess := s.Socket(sid)
		if sess == nil {
			if s.fwd != nil && s.fwd.serve(w, r, sid) {
				return
			}
			s.refuse(w, r, upgrade, ErrUnknownSID, "")
			return
		}
		if transport == "websocket" {
			if !upgrade {
				s.refuse(w, r, upgrade, ErrBadRequest, "")
				return
			}
			if err := s.allow(r); err != nil {
				s.refuse(w, r, upgrade, ErrForbidden, err.Error())
				return
			}
			s.ws.upgrade(w, r, sess)
			return
		}
		if upgrade {
			s.refuse(w, r, upgrade, ErrBadRequest, "")
			return
		}
		sess.servePolling(w, r)
		return
	}
	// Handshake.
	if r.Method != http.MethodGet {
		s.refuse(w, r, upgrade, ErrBadHandshakeMethod, "")
		return
	}
	protocol := 0
	switch q.Get("EIO") {
	case "4":
		protocol = 4
	case "3":
		protocol = 3
	case "":
		// socket.io-client-swift <= 15.2 sends no EIO at all and speaks v3.
		if !q.Has("EIO") {
			protocol = 3
		}
	}
	if protocol == 3 && s.cfg.DisableEIO3 {
		protocol = 0
	}
	if protocol == 0 {
		s.refuse(w, r, upgrade, ErrUnsupportedProtocolVersion, "")
		return
	}
	if transport == "websocket" && !upgrade {
		s.refuse(w, r, upgrade, ErrBadRequest, "")
		return
	}
	if err := s.allow(r); err != nil {
		s.refuse(w, r, upgrade, ErrForbidden, err.Error())
		return
	}
	release := func() {}
	if s.cfg.Admit != nil {
		rel, err := s.cfg.Admit(r)
		if err != nil {
			s.refuseAdmit(w, r, upgrade, err)
			return
		}
		release = rel
	}
	if transport == "websocket" {
		s.ws.handshake(w, r, protocol, release)
		return
	}
	sess := s.newSocket(r, protocol, transportPolling, release)
	if sess == nil {
		release()
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	sess.servePolling(w, r)
}

func (s *Server) allow(r *http.Request) error {
	if s.cfg.AllowRequest == nil {
		return nil
	}
	err := s.cfg.AllowRequest(r)
	if err == nil {
		return nil
	}
	if _, ok := err.(*RequestError); ok {
		return err
	}
	s.log.Debug("engine.io request refused", "remote", r.RemoteAddr, "err", err)
	return ErrForbidden
}

// refuse answers a bad request. Upgrade requests get the same JSON error as
// polling ones, which the WebSocket client reports as a failed handshake.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, upgrade bool, code ErrorCode, msg string) {
	s.stats.refuse(code)
	s.log.Debug("engine.io request refused", "remote", r.RemoteAddr, "code", int(code), "url", r.URL.String())
	if upgrade {
		w.Header().Set("Connection", "close")
	}
	writeError(w, code, msg)
}

// refuseAdmit answers a handshake that Config.Admit refused.
func (s *Server) refuseAdmit(w http.ResponseWriter, r *http.Request, upgrade bool, err error) {
	msg, status := ErrForbidden.Error(), 0
	if re, ok := err.(*RequestError); ok {
		msg, status = re.Message, re.Status
	}
	s.log.Debug("engine.io handshake not admitted", "remote", r.RemoteAddr, "err", err)
	if upgrade {
		w.Header().Set("Connection", "close")
	}
	writeErrorStatus(w, ErrForbidden, status, msg)
}

// cors writes CORS headers and reports whether the request was a preflight
// that has been fully answered.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	c := s.cfg.CORS
	allowed := ""
	for _, o := range c.Origins {
		if o == "*" {
			allowed = "*"
			if c.Credentials && origin != "" {
				allowed = origin
			}
			break
		}
		if origin != "" && o == origin {
			allowed = origin
			break
		}
	}
	h := w.Header()
	if allowed != "" {
		h.Set("Access-Control-Allow-Origin", allowed)
		if allowed != "*" {
			h.Add("Vary", "Origin")
		}
		if c.Credentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
	}
	if r.Method == http.MethodOptions {
		if allowed != "" {
			h.Set("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE")
			if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
				h.Set("Access-Control-Allow-Headers", rh)
				h.Add("Vary", "Access-Control-Request-Headers")
			}
		}
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

func isWebSocketUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// NewID returns an unguessable id: 15 random bytes, base64url (20 chars).
func NewID() string {
	var b [15]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand.Read is documented not to)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Handshake is what a session keeps of the request that opened it. It is
// immutable. Headers and query are kept in their wire form (one string
// each) and parsed on demand: an idle session then holds two strings instead
// of two maps, which matters at tens of thousands of sessions.
type Handshake struct {
	RemoteAddr string
	Host       string
	URL        string // request URI: path and query
	Secure     bool
	Time       time.Time
	header     string // "Name: value\n" per value, canonical names
}

func newHandshake(r *http.Request) *Handshake {
	n := 0
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 3
		}
	}
	var b strings.Builder
	b.Grow(n)
	for k, vs := range r.Header {
		for _, v := range vs {
			b.WriteString(k)
			b.WriteString(": ")
			b.WriteString(strings.ReplaceAll(v, "\n", " "))
			b.WriteByte('\n')
		}
	}
	return &Handshake{
		RemoteAddr: r.RemoteAddr,
		Host:       r.Host,
		URL:        r.URL.RequestURI(),
		Secure:     r.TLS != nil,
		Time:       time.Now(),
		header:     b.String(),
	}
}

// Header returns a fresh copy of the request headers.
func (h *Handshake) Header() http.Header {
	out := make(http.Header)
	rest := h.header
	for rest != "" {
		line, tail, _ := strings.Cut(rest, "\n")
		rest = tail
		if k, v, ok := strings.Cut(line, ": "); ok {
			out[k] = append(out[k], v)
		}
	}
	return out
}

// Query returns a fresh copy of the request's query parameters.
func (h *Handshake) Query() url.Values {
	_, q, _ := strings.Cut(h.URL, "?")
	v, _ := url.ParseQuery(q)
	return v
}

func (s *Server) newSocket(r *http.Request, protocol int, t transportKind, release func()) *Socket {
	sess := &Socket{
		srv:            s,
		release:        release,
		id:             s.cfg.SIDPrefix + NewID(),
		protocol:       protocol,
		supportsBinary: protocol == 4 || !r.URL.Query().Has("b64"),
		handshake:      newHandshake(r),
		transport:      t,
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.sessions[sess.id] = sess
	s.stats.opened(t) // under s.mu: before any close can count it gone
	s.mu.Unlock()
	s.count.Add(1)
	sess.open()
	return sess
}

// remove forgets sess and reports whether it was registered.
func (s *Server) remove(sess *Socket) bool {
	s.mu.Lock()
	removed := s.sessions[sess.id] == sess
	if removed {
		delete(s.sessions, sess.id)
		s.count.Add(-1)
		sess.release()
	}
	if s.closing && len(s.sessions) == 0 {
		select {
		case <-s.allDone:
		default:
			close(s.allDone)
		}
	}
	s.mu.Unlock()
	return removed
}

// Shutdown refuses new sessions, closes every open session with
// ReasonServerShutdown (flushing what is queued for it) and waits until all
// are gone or ctx ends. It then stops the WebSocket event loop and the flush
// workers. Requests it was forwarding to other servers are cut first.
func (s *Server) Shutdown(ctx context.Context) error {
	var fwdErr error
	if s.fwd != nil {
		// Requests relayed to other servers are not sessions of ours: cut
		// them (their clients reconnect) so they do not hold us up.
		fwdErr = s.fwd.shutdown(ctx)
	}
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		if len(s.sessions) == 0 {
			close(s.allDone)
		}
	}
	all := make([]*Socket, 0, len(s.sessions))
	for _, sess := range s.sessions {
		all = append(all, sess)
	}
	s.mu.Unlock()
	for _, sess := range all {
		sess.Close(ReasonServerShutdown)
		// A polling session closed earlier (a slow consumer, say) may be
		// waiting up to a heartbeat for its client to fetch the close
		// packet: Shutdown does not wait for that.
		sess.finishPendingClose()
	}
	err := fwdErr
	select {
	case <-s.allDone:
	case <-ctx.Done():
		err = ctx.Err()
	}
	// Once only: two concurrent Shutdowns must not both close s.stop.
	s.stopOnce.Do(func() {
		close(s.stop)
		s.workers.Wait()
		s.hb.stopAll()
		if s.ws != nil {
			s.ws.stop()
		}
	})
	return err
}
