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
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
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
	if cfg.DBPath == "" {
		cfg.DBPath = filepath.Join(t.TempDir(), "banter.db")
	}
	logs := &logBuf{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
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
		if t.Failed() {
			t.Logf("app log:\n%s", logs.String())
		}
	})
	return "http://" + ln.Addr().String(), a, logs
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// banterBinary builds cmd/banter once per test run (without -race: the
// kill test measures the real binary).
func banterBinary(t *testing.T) string {
	t.Helper()
	root := testutil.RepoRoot(t)
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "banter-reliability-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "banter")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/banter")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/banter: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildPath != "" {
		os.RemoveAll(filepath.Dir(buildPath))
	}
	os.Exit(code)
}

// proc is a running banter binary.
type proc struct {
	cmd    *exec.Cmd
	url    string
	stderr *logBuf
	done   chan struct{}
	err    error // Wait's result, once done is closed
}

var listeningLine = regexp.MustCompile(`Banter listening on (http://\S+?)"?$`)

// startBanter runs the banter binary with args after "serve", waits for its
// "listening" log line and returns it. It is killed on cleanup if still
// running.
func startBanter(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(banterBinary(t), append([]string{"serve"}, args...)...)
	pr, pw := io.Pipe()
	p := &proc{cmd: cmd, stderr: &logBuf{}, done: make(chan struct{})}
	cmd.Stderr = io.MultiWriter(p.stderr, pw)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start banter: %v", err)
	}
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("banter stderr:\n%s", p.stderr.String())
		}
	})
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urlc <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case u := <-urlc:
		p.url = strings.Replace(u, "localhost", "127.0.0.1", 1)
	case <-p.done:
		t.Fatalf("banter exited before listening: %v\n%s", p.err, p.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("banter did not log its URL within 30s\n%s", p.stderr.String())
	}
	return p
}

// wait waits for the process to exit and returns its exit code (minus the
// signal number when killed by a signal).
func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("banter did not exit within %v\n%s", timeout, p.stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("banter: %v", p.err)
	}
	return 0
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
