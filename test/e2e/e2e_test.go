// Package e2e_test runs Banter end to end: the app (in-process, under the
// race detector, or the real banter binary) against the official Socket.IO
// clients from npm (socket.io-client 4.8 and 2.5), driven by the JavaScript
// scenarios of this directory. Each scenario prints one JSON report line
// (see ../interop/lib.js).
package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
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

// A scenario bounds itself (lib.js, 30 s by default); this catches a hung node.
const scenarioTimeout = 90 * time.Second

// startApp runs the app in-process on a loopback port with a fresh
// database and returns its base URL. Shutdown runs on cleanup and must
// succeed.
func startApp(t *testing.T, cfg app.Config) (string, *app.App) {
	t.Helper()
	if cfg.DBPath == "" {
		cfg.DBPath = filepath.Join(t.TempDir(), "banter.db")
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
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
	return "http://" + ln.Addr().String(), a
}

// testLogger logs to the test at Warn and above (Info would log every
// start and stop).
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// report is the JSON line a scenario prints last.
type report struct {
	Scenario string          `json:"scenario"`
	OK       bool            `json:"ok"`
	Error    string          `json:"error"`
	Checks   []string        `json:"checks"`
	Result   json.RawMessage `json:"result"`
}

// runScenario runs a scenario script and fails the test unless it reports
// success.
func runScenario(t *testing.T, script string, args ...string) report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	out, runErr := testutil.RunNode(t, ctx, script, args...)
	var rep report
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("%s printed no report (%v); stdout %q; %v", script, err, out, runErr)
	}
	if runErr != nil || !rep.OK {
		t.Fatalf("%s failed: %s\nchecks passed: %s\n%v", script, rep.Error, strings.Join(rep.Checks, "; "), runErr)
	}
	t.Logf("%s: %d checks passed", script, len(rep.Checks))
	return rep
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// banterBinary builds cmd/banter once per test run.
func banterBinary(t *testing.T) string {
	t.Helper()
	root := testutil.RepoRoot(t)
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "banter-e2e-")
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
	stderr *lockedBuf
	done   chan struct{}
	err    error // Wait's result, once done is closed
}

var listeningLine = regexp.MustCompile(`Banter listening on (http://\S+?)"?$`)

// startBanter runs the banter binary on a free loopback port with extra
// flags, waits for its "listening" log line and returns it. It is killed
// on cleanup if still running.
func startBanter(t *testing.T, args ...string) *proc {
	t.Helper()
	bin := banterBinary(t)
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	pr, pw := io.Pipe()
	p := &proc{cmd: cmd, stderr: &lockedBuf{}, done: make(chan struct{})}
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

// wait waits for the process to exit and returns its exit code.
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

type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
