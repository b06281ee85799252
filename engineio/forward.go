package engineio

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// ForwardedHeader marks a request that one server forwarded to another
// (Config.Owner). A server never forwards such a request again: two nodes
// with different views of who owns a session cannot bounce a request
// between them, and a forwarded request for a session the owner no longer
// has gets the ordinary "Session ID unknown" error.
const ForwardedHeader = "Engineio-Forwarded"

// forwarder relays requests for sessions of other servers (a cluster
// without sticky sessions) through a reverse proxy. Long-polling requests
// and WebSocket upgrades both pass: httputil.ReverseProxy tunnels an
// upgraded connection, which then stays relayed through this server for
// its life.
type forwarder struct {
	srv   *Server
	owner func(ctx context.Context, sid string) *url.URL
	proxy *httputil.ReverseProxy
	tr    *http.Transport

	ctx    context.Context // ends at Shutdown: cuts the tunnels
	cancel context.CancelFunc

	mu      sync.Mutex
	closing bool
	active  sync.WaitGroup // forwarded requests in flight, tunnels included
}

type targetKey struct{}

func newForwarder(s *Server) *forwarder {
	f := &forwarder{srv: s, owner: s.cfg.Owner}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.tr = &http.Transport{
		// A dead owner must fail fast: the client then reconnects.
		DialContext:           (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   256, // long-polls hold a connection each for a heartbeat period
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	f.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			target := pr.In.Context().Value(targetKey{}).(*url.URL)
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // the owner sees the request the client sent
			// Keep what a balancer in front said about the client, and add
			// this hop.
			pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			pr.SetXForwarded()
			for _, h := range []string{"X-Forwarded-Host", "X-Forwarded-Proto"} {
				if v := pr.In.Header.Get(h); v != "" {
					pr.Out.Header.Set(h, v)
				}
			}
			pr.Out.Header.Set(ForwardedHeader, "1")
		},
		Transport: f.tr,
		ErrorLog:  slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// The owner is gone or unreachable: to the client its session
			// is unknown, and it reconnects (to any node).
			s.log.Debug("engine.io forward failed", "url", r.URL.String(), "err", err)
			writeError(w, ErrUnknownSID, "")
		},
	}
	return f
}

// serve forwards r to the owner of sid and reports whether it did; false
// means the caller answers "Session ID unknown".
func (f *forwarder) serve(w http.ResponseWriter, r *http.Request, sid string) bool {
	if r.Header.Get(ForwardedHeader) != "" {
		return false
	}
	target := f.owner(r.Context(), sid)
	if target == nil {
		return false
	}
	f.mu.Lock()
	if f.closing {
		f.mu.Unlock()
		return false
	}
	f.active.Add(1)
	f.mu.Unlock()
	defer f.active.Done()
	// The request's context also ends at Shutdown, which makes the proxy
	// close a tunnel it holds (http.Server.Shutdown does not wait for
	// hijacked connections).
	ctx, cancel := context.WithCancel(context.WithValue(r.Context(), targetKey{}, target))
	defer cancel()
	stop := context.AfterFunc(f.ctx, cancel)
	defer stop()
	// Only CORS headers were set so far; the owner answers with its own.
	clear(w.Header())
	f.proxy.ServeHTTP(w, r.WithContext(ctx))
	return true
}

// shutdown refuses new forwards, cuts the ones in flight and waits for them
// (or ctx).
func (f *forwarder) shutdown(ctx context.Context) error {
	f.mu.Lock()
	f.closing = true
	f.mu.Unlock()
	f.cancel()
	done := make(chan struct{})
	go func() {
		f.active.Wait()
		close(done)
	}()
	defer f.tr.CloseIdleConnections()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
