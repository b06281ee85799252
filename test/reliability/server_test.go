// Package reliability_test shows that Banter loses nothing, gets stuck
// nowhere and does not crash: acknowledged messages survive SIGKILL under
// traffic, vanished clients are detected by the heartbeat, slow consumers
// are cut off without hurting others, bad input is answered and survived,
// and shutdown is clean. Tests run the whole server, in-process (under the
// race detector) or as the real banter binary, against a Go client of the
// chat protocol written from the wire spec (client_test.go), sometimes
// through a loopback proxy that can freeze traffic (proxy_test.go).
// docs/reliability.md has the figures.
package reliability_test

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/apptest"
	"github.com/banter-chat/banter/internal/testutil"
)

// logBuf collects the app's logs (tests look for a close reason in them).
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startApp runs the app in-process on a loopback port with a fresh
// database; Shutdown runs on cleanup and must succeed. It returns the base
// URL, the app and its log (Debug and above: close reasons are there).
func startApp(t *testing.T, cfg app.Config) (string, *app.App, *logBuf) {
	t.Helper()
	logs := &logBuf{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// Registered first: runs after the app's shutdown, with its last lines.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("app log:\n%s", logs.String())
		}
	})
	base, a := apptest.Serve(t, cfg)
	return base, a, logs
}

// TestMain removes the banter binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveBanterBinary()
	os.Exit(code)
}

// proc is a running banter binary.
type proc = testutil.Banter

// startBanter runs the banter binary with args after "serve" and waits
// until it listens.
func startBanter(t *testing.T, args ...string) *proc {
	t.Helper()
	return testutil.StartBanter(t, append([]string{"serve"}, args...)...)
}

// freePort returns a loopback address that was free a moment ago (the
// kill test restarts the server on the same address).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
