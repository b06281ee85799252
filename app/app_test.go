package app_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/testutil"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func TestRoutesAndShutdown(t *testing.T) {
	testutil.CheckGoroutineLeaks(t)
	a, err := app.New(app.Config{DBPath: filepath.Join(t.TempDir(), "b.db"), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ln) }()
	base := "http://" + ln.Addr().String()

	if code, body, _ := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body, h := get(t, base+"/"); code != 200 || !strings.Contains(strings.ToLower(body), "<html") || h.Get("Content-Security-Policy") == "" {
		t.Errorf("/ = %d, CSP %q, body %.80q", code, h.Get("Content-Security-Policy"), body)
	}
	if code, body, _ := get(t, base+"/socket.io/socket.io.min.js"); code != 200 || len(body) < 1000 {
		t.Errorf("client bundle = %d, %d bytes", code, len(body))
	}
	if code, body, _ := get(t, base+"/socket.io/?EIO=4&transport=polling"); code != 200 || !strings.HasPrefix(body, `0{"sid":`) {
		t.Errorf("Engine.IO handshake = %d %q", code, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after Shutdown = %v, want nil", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("still accepting connections after Shutdown")
	}
	if err := a.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if err := a.Serve(ln); err == nil {
		t.Error("Serve after Shutdown succeeded")
	}
}

func TestShutdownWithoutServe(t *testing.T) {
	testutil.CheckGoroutineLeaks(t)
	a, err := app.New(app.Config{DBPath: filepath.Join(t.TempDir(), "b.db"), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := app.New(app.Config{DBPath: filepath.Join(dir, "no", "such", "dir.db"), Logger: quiet()})
	if !errors.Is(err, app.ErrDatabase) {
		t.Errorf("missing directory: %v, want ErrDatabase", err)
	}
	_, err = app.New(app.Config{DBPath: filepath.Join(dir, "x.db"), DefaultRoom: "not a room!", Logger: quiet()})
	if err == nil || errors.Is(err, app.ErrDatabase) {
		t.Errorf("bad default room: %v", err)
	}
}

func TestURL(t *testing.T) {
	for addr, want := range map[string]string{
		"[::]:3000":        "http://localhost:3000",
		"0.0.0.0:80":       "http://localhost:80",
		"127.0.0.1:4000":   "http://localhost:4000",
		"192.0.2.7:3000":   "http://192.0.2.7:3000",
		"[2001:db8::1]:99": "http://[2001:db8::1]:99",
	} {
		tcp, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := app.URL(tcp); got != want {
			t.Errorf("URL(%s) = %s, want %s", addr, got, want)
		}
	}
}
