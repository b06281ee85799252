// Package rest is Banter's HTTP gateway: a JSON REST API under /api/v1
// (history paging and short polling with ETag/304, posting, direct
// messages, typing, presence), Server-Sent Events for live room events
// (resumable with Last-Event-ID), and server-side publish for backends
// authenticated with an API key. docs/api.md and docs/openapi.yaml are the
// contract; a test checks every documented route answers. The routes of
// protocol 1's commands decode their bodies and run them with package
// proto1, like every gateway; a path with a method it does not have gets
// 405 with Allow.
//
// # Entry points
//
// New(svc, cfg) returns a Gateway, an http.Handler to mount at /api/v1/.
// Close ends the REST sessions, closes the event streams and waits for
// them and for the janitor.
//
// # Identity
//
// HTTP is stateless but a chat user is a session: POST /api/v1/sessions
// connects one (a nickname, as on every gateway) and returns its token,
// which later requests send as "Authorization: Bearer <token>" (event
// streams may pass it as ?token=, since EventSource cannot set headers).
// A session lives while it is used: it ends after Config.SessionIdle
// without a request or an open event stream, or on DELETE.
//
// # Concurrency
//
// Handlers run on net/http's goroutines. A session's chat.Sink (Deliver)
// is called under chat's locks: it only appends the event to the queues
// of the session's open streams (bounded in bytes; a stream that
// overflows is closed and its client resumes with Last-Event-ID, losing
// nothing). Each stream is written by its own handler goroutine. The
// gateway's mutex is never held while calling chat.
package rest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/internal/conns"
	"github.com/banter-chat/banter/gateway/proto1"
)

// Config configures a Gateway. The zero value of every field means its
// default.
type Config struct {
	// APIKey authenticates server-side publish (POST /api/v1/publish).
	// Empty: publishing is disabled (403 with an explanation).
	APIKey string
	// Logger receives operational logs. Default: discard.
	Logger *slog.Logger
	// PublishNickname is the sender of a publish that names none. Default
	// "server".
	PublishNickname string
	// Protocol configures the command side: the call timeout and each
	// session's request bucket over every request, as on the other
	// gateways (defaults 10s, 100 and 50/s). Its Logger and Now default to
	// this Config's.
	Protocol proto1.Config
	// SessionIdle ends a session without a request or an open event
	// stream for this long. Default 2m.
	SessionIdle time.Duration
	// Heartbeat is the interval of SSE comment lines that keep proxies
	// from closing a quiet stream. Default 15s.
	Heartbeat time.Duration
	// MaxStreamBytes bounds what is queued for one event stream; past it
	// the stream is closed (the client resumes with Last-Event-ID).
	// Default 1 MiB.
	MaxStreamBytes int
	// Now is the clock of idle expiry and request buckets. Default
	// time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.PublishNickname == "" {
		c.PublishNickname = "server"
	}
	if c.SessionIdle <= 0 {
		c.SessionIdle = 2 * time.Minute
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.MaxStreamBytes <= 0 {
		c.MaxStreamBytes = 1 << 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Protocol = c.Protocol.Inherit(c.Logger, c.Now)
	return c
}

// Prefix is where the gateway expects to be mounted.
const Prefix = "/api/v1/"

// MaxBodyBytes bounds a request body: the largest message text, escaped,
// plus the other fields.
const MaxBodyBytes = 4*chat.MaxStoredTextBytes + 4096

// Gateway serves the REST API and event streams.
type Gateway struct {
	cfg   Config
	log   *slog.Logger
	svc   *chat.Service
	proto *proto1.Server
	mux   *http.ServeMux

	mu       sync.Mutex
	closed   bool
	sessions map[string]*session // by token
	backends map[string]*session // publish senders, by NickKey
	pubMu    sync.Mutex          // serializes creating publish senders
	streams  sync.WaitGroup
	stop     chan struct{}
	janitor  sync.WaitGroup

	stats counters // stats.go
}

// New returns a Gateway serving svc; its janitor runs until Close.
func New(svc *chat.Service, cfg Config) *Gateway {
	cfg = cfg.withDefaults()
	g := &Gateway{
		cfg: cfg, log: cfg.Logger, svc: svc, proto: proto1.NewServer(svc, cfg.Protocol), mux: http.NewServeMux(),
		sessions: make(map[string]*session), backends: make(map[string]*session),
		stop: make(chan struct{}),
	}
	g.routes()
	g.janitor.Add(1)
	go g.runJanitor()
	return g
}

// route is one documented endpoint (docs/api.md, docs/openapi.yaml).
type route struct {
	method, path string
	h            func(*Gateway) http.HandlerFunc
}

var routeTable = []route{
	{"POST", "/sessions", func(g *Gateway) http.HandlerFunc { return g.createSession }},
	{"GET", "/sessions/current", func(g *Gateway) http.HandlerFunc { return g.auth(g.getSession) }},
	{"DELETE", "/sessions/current", func(g *Gateway) http.HandlerFunc { return g.auth(g.deleteSession) }},
	{"PUT", "/sessions/current/nickname", func(g *Gateway) http.HandlerFunc { return g.auth(g.rename) }},
	{"GET", "/users", func(g *Gateway) http.HandlerFunc { return g.users }},
	{"POST", "/users/{nickname}/messages", func(g *Gateway) http.HandlerFunc { return g.auth(g.directMessage) }},
	{"POST", "/users/{nickname}/kick", func(g *Gateway) http.HandlerFunc { return g.auth(g.kick) }},
	{"GET", "/rooms", func(g *Gateway) http.HandlerFunc { return g.rooms }},
	{"GET", "/rooms/{room}/members", func(g *Gateway) http.HandlerFunc { return g.members }},
	{"POST", "/rooms/{room}/join", func(g *Gateway) http.HandlerFunc { return g.auth(g.join) }},
	{"POST", "/rooms/{room}/leave", func(g *Gateway) http.HandlerFunc { return g.auth(g.leave) }},
	{"GET", "/rooms/{room}/messages", func(g *Gateway) http.HandlerFunc { return g.auth(g.messages) }},
	{"POST", "/rooms/{room}/messages", func(g *Gateway) http.HandlerFunc { return g.auth(g.post) }},
	{"DELETE", "/rooms/{room}/messages/{seq}", func(g *Gateway) http.HandlerFunc { return g.auth(g.deleteMessage) }},
	{"POST", "/rooms/{room}/typing", func(g *Gateway) http.HandlerFunc { return g.auth(g.typing) }},
	{"GET", "/rooms/{room}/events", func(g *Gateway) http.HandlerFunc { return g.events }},
	{"POST", "/publish", func(g *Gateway) http.HandlerFunc { return g.publish }},
}

// Routes lists the API's routes as "METHOD /api/v1/path" (path parameters
// in braces), in the order of docs/api.md.
func Routes() []string {
	out := make([]string, len(routeTable))
	for i, r := range routeTable {
		out[i] = r.method + " " + strings.TrimSuffix(Prefix, "/") + r.path
	}
	return out
}

func (g *Gateway) routes() {
	allow := make(map[string][]string) // path → its methods, in table order
	var paths []string
	for _, r := range routeTable {
		path := strings.TrimSuffix(Prefix, "/") + r.path
		g.mux.HandleFunc(r.method+" "+path, r.h(g))
		if allow[path] == nil {
			paths = append(paths, path)
		}
		allow[path] = append(allow[path], r.method)
		if r.method == http.MethodGet {
			allow[path] = append(allow[path], http.MethodHead) // served by the GET pattern
		}
	}
	// A route's path with another method: 405 with Allow (RFC 9110
	// 15.5.6). The method patterns above are more specific, so these only
	// see the methods the path does not have.
	for _, path := range paths {
		methods := strings.Join(allow[path], ", ")
		g.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", methods)
			g.fail(w, r, statusErr(http.StatusMethodNotAllowed, chat.Errorf(chat.CodeInvalidArgument,
				"method %s is not allowed on %s (allowed: %s; see docs/api.md)", r.Method, r.URL.Path, methods)))
		})
	}
	g.mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		g.fail(w, r, statusErr(http.StatusNotFound, chat.Errorf(chat.CodeInvalidArgument, "no such route: %s %s (see docs/api.md)", r.Method, r.URL.Path)))
	})
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mux.ServeHTTP(w, r)
}

// Close ends every REST session, closes the event streams and waits for
// their handlers and the janitor, or for ctx.
func (g *Gateway) Close(ctx context.Context) error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	close(g.stop)
	var all []*session
	for _, s := range g.sessions {
		all = append(all, s)
	}
	for _, s := range g.backends {
		all = append(all, s)
	}
	clear(g.sessions)
	clear(g.backends)
	g.mu.Unlock()
	for _, s := range all {
		s.end("gateway closed", chat.ReasonShutdown)
	}
	return conns.Wait(ctx, &g.janitor, &g.streams)
}

// statusError is a chat error with an HTTP status other than the one its
// code maps to.
type statusError struct {
	status int
	err    *chat.Error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

func statusErr(status int, err *chat.Error) error { return &statusError{status: status, err: err} }

// httpStatus maps chat's error codes to HTTP statuses.
func httpStatus(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.status
	}
	switch chat.ErrorCode(err) {
	case chat.CodeInvalidNickname, chat.CodeInvalidRoom, chat.CodeInvalidMessage,
		chat.CodeEmptyMessage, chat.CodeInvalidArgument:
		return http.StatusBadRequest
	case chat.CodeMessageTooLarge:
		return http.StatusRequestEntityTooLarge
	case chat.CodeNicknameTaken, chat.CodeNotMember, chat.CodeTooManyRooms:
		return http.StatusConflict
	case chat.CodeNotFound:
		return http.StatusNotFound
	case chat.CodeUnauthenticated, chat.CodeTokenExpired, chat.CodeTokenInvalid:
		return http.StatusUnauthorized
	case chat.CodeForbidden:
		return http.StatusForbidden
	case chat.CodeRateLimited:
		return http.StatusTooManyRequests
	case chat.CodeNotConnected:
		return http.StatusUnauthorized
	case chat.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// fail answers err as {"ok": false, "error": {code, message}} with the
// status of its code.
func (g *Gateway) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := httpStatus(err)
	code, msg := chat.ClientError(err)
	if status >= 500 {
		g.log.Warn("rest: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", wwwAuthenticate(code, msg))
	}
	writeBody(w, status, append(proto1.Failure(err), '\n'))
}

// wwwAuthenticate is the challenge of a 401 (RFC 6750 section 3): a
// refused token is "invalid_token" with the reason; a missing one carries
// no error code.
func wwwAuthenticate(code chat.Code, msg string) string {
	switch code {
	case chat.CodeTokenExpired, chat.CodeTokenInvalid:
		return `Bearer realm="banter", error="invalid_token", error_description=` + strconv.Quote(msg)
	}
	return `Bearer realm="banter"`
}
