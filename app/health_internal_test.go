package app

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

// The states a black-box test cannot hold still: a node shutting down
// (its listener is already closed) and an SQLite store that fails.
func TestHealthStates(t *testing.T) {
	a, err := New(Config{DBPath: filepath.Join(t.TempDir(), "b.db"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	call := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := call("/readyz"); code != 200 || body != "ok\n" {
		t.Fatalf("/readyz = %d %q", code, body)
	}
	// The store fails (closed here; a full disk or a broken file alike).
	if err := a.be.store.Close(); err != nil {
		t.Fatal(err)
	}
	if code, body := call("/readyz"); code != 503 || body != "store unavailable\n" {
		t.Errorf("/readyz with the store closed = %d %q", code, body)
	}
	if code, body := call("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz with the store closed = %d %q", code, body)
	}
	a.stopping.Store(true) // what Shutdown does first
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := call(p); code != 503 || body != "shutting down\n" {
			t.Errorf("%s while shutting down = %d %q", p, code, body)
		}
	}
}
