package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/banter-chat/banter/web"
)

// The operator endpoints: /metrics (Prometheus) and the status page
// (/status, /status.js, /status.css, /status.json). They are served on the
// main port, or on a listener of their own when Config.MetricsAddr is set
// (to keep them on a private interface), or not at all with
// Config.DisableMetrics. /healthz and /readyz are always on the main port,
// and on the metrics listener too.

// ErrMetricsListen is wrapped by New's error when Config.MetricsAddr
// cannot be listened on.
var ErrMetricsListen = errors.New("cannot listen for metrics")

// opsServer is the metrics listener, when there is one.
type opsServer struct {
	ln   net.Listener
	hs   *http.Server
	done chan error
}

// listenOps opens the metrics listener (first thing in New, so a busy port
// fails New before anything runs).
func (a *App) listenOps() error {
	if a.cfg.DisableMetrics || a.cfg.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", a.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("%w on %s: %w", ErrMetricsListen, a.cfg.MetricsAddr, err)
	}
	a.ops.ln = ln
	return nil
}

// mountOps registers the health endpoints and the operator endpoints, and
// starts the metrics listener if there is one.
func (a *App) mountOps() {
	a.mux.HandleFunc("/healthz", a.healthz)
	a.mux.HandleFunc("/readyz", a.readyz)
	if a.cfg.DisableMetrics {
		return
	}
	a.metrics.register(a)
	mux := a.mux
	if a.ops.ln != nil {
		mux = http.NewServeMux()
		mux.HandleFunc("/healthz", a.healthz)
		mux.HandleFunc("/readyz", a.readyz)
		mux.Handle("GET /favicon.svg", web.Handler()) // the status page's icon
	}
	mux.Handle("GET /metrics", a.metrics.handler)
	mux.HandleFunc("GET /status", statusAsset("index.html", "text/html; charset=utf-8"))
	mux.HandleFunc("GET /status.js", statusAsset("status.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /status.css", statusAsset("status.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /status.json", a.statusJSON)
	if a.ops.ln == nil {
		return
	}
	a.ops.hs = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: a.cfg.ReadHeaderTimeout,
		IdleTimeout:       a.cfg.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	a.ops.done = make(chan error, 1)
	go func() { a.ops.done <- a.ops.hs.Serve(a.ops.ln) }()
	a.log.Info("Banter metrics and status on " + URL(a.ops.ln.Addr()) + "/metrics")
}

// MetricsAddr returns the address of the metrics listener, nil when the
// operator endpoints are on the main port or disabled.
func (a *App) MetricsAddr() net.Addr {
	if a.ops.ln == nil {
		return nil
	}
	return a.ops.ln.Addr()
}

// closeOps stops the metrics listener and waits for its requests.
func (a *App) closeOps(ctx context.Context) error {
	switch {
	case a.ops.hs != nil:
		err := a.ops.hs.Shutdown(ctx)
		if serr := <-a.ops.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
		if err != nil {
			_ = a.ops.hs.Close()
			return fmt.Errorf("metrics: %w", err)
		}
	case a.ops.ln != nil: // New failed before serving
		a.ops.ln.Close()
	}
	return nil
}
