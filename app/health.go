package app

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Health endpoints (docs/operations.md, "Monitoring"):
//
//   - /healthz is liveness: 200 "ok" while the process serves, 503
//     "shutting down" once Shutdown began. It checks no dependency, so an
//     orchestrator never restarts a node because its database is slow.
//   - /readyz is readiness: 200 "ok" when the store answers a read and, in
//     a cluster, Redis answers a PING; 503 with the reason otherwise (and
//     while shutting down), so a load balancer sends clients elsewhere.
//
// Both answer in plain text and are never cached.

// readyTimeout bounds each dependency check of /readyz.
const readyTimeout = 2 * time.Second

func plainHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

func (a *App) healthz(w http.ResponseWriter, _ *http.Request) {
	plainHeaders(w)
	if a.stopping.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	plainHeaders(w)
	reason, err := a.checkReady(r.Context())
	a.ready.note(a, reason, err)
	if reason != "" {
		http.Error(w, reason, http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// checkReady returns "" when the node may take clients, else a short
// reason for the response (the cause, which may name hosts, is for the
// log only).
func (a *App) checkReady(ctx context.Context) (reason string, err error) {
	if a.stopping.Load() {
		return "shutting down", nil
	}
	sctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	// The store itself, not the timed wrapper: probes are not traffic.
	if _, err := a.be.store.LastSeq(sctx, a.svc.DefaultRoom()); err != nil {
		return "store unavailable", err
	}
	if a.be.bus != nil {
		bctx, cancel := context.WithTimeout(ctx, readyTimeout)
		defer cancel()
		if err := a.be.bus.Ping(bctx); err != nil {
			return "bus unavailable", err
		}
	}
	return "", nil
}

// readiness remembers the last answer of /readyz so that only changes are
// logged (probes come every few seconds).
type readiness struct {
	mu   sync.Mutex
	last string // "" unknown, "ok", or the reason
}

func (s *readiness) note(a *App, reason string, err error) {
	now := reason
	if now == "" {
		now = "ok"
	}
	s.mu.Lock()
	changed := s.last != now
	was := s.last
	s.last = now
	s.mu.Unlock()
	switch {
	case !changed:
	case reason == "":
		if was != "" {
			a.log.Info("readyz: ready again")
		}
	case err != nil:
		a.log.Warn("readyz: not ready", "reason", reason, "err", err)
	default:
		a.log.Info("readyz: not ready", "reason", reason)
	}
}
