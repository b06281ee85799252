// Package apptest serves a whole Banter server (app.App) in a test.
package apptest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
)

// Serve builds an App from cfg and serves it on a loopback port until the
// test ends; then it shuts the App down (reporting errors of Shutdown and
// Serve; a test may shut it down earlier itself). It returns the base URL,
// http://127.0.0.1:PORT (https with TLS configured), and the App. A zero
// cfg.DBPath is a fresh file in t.TempDir (unless cfg.StoreURL is set) and
// a nil cfg.Logger discards.
func Serve(t testing.TB, cfg app.Config) (string, *app.App) {
	t.Helper()
	if cfg.DBPath == "" && cfg.StoreURL == "" {
		cfg.DBPath = filepath.Join(t.TempDir(), "banter.db")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a, err := app.New(cfg)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("app.Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("app.Serve: %v", err)
		}
	})
	scheme := "http://"
	if cfg.TLSCertFile != "" {
		scheme = "https://"
	}
	return scheme + ln.Addr().String(), a
}
