package app

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"syscall"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/engineio"
	"github.com/banter-chat/banter/gateway/proto1"
	"github.com/banter-chat/banter/gateway/rest"
	"github.com/banter-chat/banter/guard"
)

// Connection admission (package guard) is shared by every gateway that
// holds a connection open: Socket.IO (Engine.IO handshakes), /ws, /mqtt,
// SSE streams, TCP lines and MQTT over TCP. Plain REST requests are not
// connections and are not counted.

// fdReserve is kept free of client connections when the connection cap
// is derived from the file descriptor limit: listeners, the database,
// Redis and PostgreSQL connections, logs.
const fdReserve = 256

// defaultMaxConns is the connection cap when Config.MaxConns is 0: the
// process's file descriptor limit minus fdReserve (a server past its fd
// limit fails accepts for everyone; refusing early with a clear answer is
// better), or 0 (no cap) when the limit is unknown or unlimited.
func defaultMaxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 0
	}
	return max(int(rl.Cur)-fdReserve, 1)
}

func newGuard(cfg Config) (*guard.Guard, error) {
	maxConns := cfg.MaxConns
	switch {
	case maxConns == 0:
		maxConns = defaultMaxConns()
	case maxConns < 0:
		maxConns = 0 // no cap
	}
	g, err := guard.New(guard.Config{
		MaxConns:            maxConns,
		MaxConnsPerIP:       cfg.MaxConnsPerIP,
		HandshakesPerSecond: cfg.HandshakesPerSecondPerIP,
		LimitLoopback:       cfg.LimitLoopback,
		Origins:             cfg.CORSOrigins,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return g, nil
}

// ErrConfig is wrapped by New's error when the configuration is invalid.
var ErrConfig = errors.New("invalid configuration")

// engineAdmission plugs the guard into Engine.IO: the origin check on
// every handshake and upgrade, admission on every new session.
func engineAdmission(g *guard.Guard, ecfg *engineio.Config) {
	ecfg.AllowRequest = func(r *http.Request) error {
		if err := g.CheckOrigin(r); err != nil {
			return &engineio.RequestError{Message: err.Error()}
		}
		return nil
	}
	ecfg.Admit = func(r *http.Request) (func(), error) {
		release, err := g.Admit(r.RemoteAddr)
		if err != nil {
			return nil, &engineio.RequestError{Message: err.Error(), Status: guard.Status(err)}
		}
		return release, nil
	}
}

// guardREST wraps the REST gateway: its event streams
// (GET /api/v1/rooms/{room}/events) are admitted as connections; creating
// a session (POST /api/v1/sessions, which holds a nickname) takes a token
// of the client address's handshake bucket; browser pages of the allowed
// origins (Config.CORSOrigins) get CORS headers and preflight answers.
// Other REST requests are not counted.
func guardREST(g *guard.Guard, next http.Handler) http.Handler {
	streams := g.Middleware(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); g.CORSOrigin(origin) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Expose-Headers", "ETag, Retry-After, WWW-Authenticate")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key, If-None-Match, Last-Event-ID")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		switch {
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, rest.Prefix+"rooms/") && strings.HasSuffix(r.URL.Path, "/events"):
			streams.ServeHTTP(w, r)
			return
		case r.Method == http.MethodPost && r.URL.Path == rest.Prefix+"sessions":
			if err := g.Allow(r.RemoteAddr); err != nil {
				w.Header().Set("Retry-After", "1")
				writeRESTError(w, guard.Status(err), chat.CodeRateLimited, err.Error())
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// writeRESTError answers in the REST gateway's error shape
// ({"ok": false, "error": {code, message}}, docs/api.md).
func writeRESTError(w http.ResponseWriter, status int, code chat.Code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(proto1.Failure(chat.Errorf(code, "%s", msg)), '\n'))
}

// tcpRefusal tells a refused TCP line-protocol client why, in the
// protocol's error event, before the connection closes.
func tcpRefusal(err error) []byte {
	code := chat.CodeRateLimited
	if errors.Is(err, guard.ErrServerFull) {
		code = chat.CodeUnavailable
	}
	return proto1.EncodeError(chat.Errorf(code, "%s", err.Error()), "")
}
