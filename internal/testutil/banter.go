package testutil

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	banterOnce sync.Once
	banterPath string
	banterErr  error
)

// BanterBinary builds cmd/banter once per test binary (without -race: tests
// that kill and restart it measure the real binary) and returns its path.
// Call RemoveBanterBinary from TestMain after m.Run.
func BanterBinary(t testing.TB) string {
	t.Helper()
	root := RepoRoot(t)
	banterOnce.Do(func() {
		dir, err := os.MkdirTemp("", "banter-bin-")
		if err != nil {
			banterErr = err
			return
		}
		banterPath = filepath.Join(dir, "banter")
		cmd := exec.Command("go", "build", "-o", banterPath, "./cmd/banter")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			banterErr = fmt.Errorf("go build ./cmd/banter: %v\n%s", err, out)
		}
	})
	if banterErr != nil {
		t.Fatal(banterErr)
	}
	return banterPath
}

// RemoveBanterBinary deletes what BanterBinary built.
func RemoveBanterBinary() {
	if banterPath != "" {
		_ = os.RemoveAll(filepath.Dir(banterPath))
	}
}

// ListeningLine matches banter's start log line and captures its URL.
var ListeningLine = regexp.MustCompile(`Banter listening on (https?://\S+?)"?$`)

// Banter is a running banter process.
type Banter struct {
	Cmd    *exec.Cmd
	URL    string // http://127.0.0.1:PORT
	Stderr *LockedBuffer
	done   chan struct{}
	err    error // Wait's result, once done is closed
}

// Done is closed when the process has exited.
func (p *Banter) Done() <-chan struct{} { return p.done }

// StartBanter runs the banter binary with args (e.g. "serve", "--addr",
// "127.0.0.1:0", ...), waits for its listening log line and returns it. The
// process is killed on cleanup if still running; its stderr is logged when
// the test failed.
func StartBanter(t testing.TB, args ...string) *Banter {
	t.Helper()
	return StartBinary(t, BanterBinary(t), args...)
}

// StartBinary is StartBanter with a banter binary built elsewhere (e.g. as
// the Dockerfile builds it).
func StartBinary(t testing.TB, bin string, args ...string) *Banter {
	t.Helper()
	cmd := exec.Command(bin, args...)
	pr, pw := io.Pipe()
	p := &Banter{Cmd: cmd, Stderr: &LockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = io.MultiWriter(p.Stderr, pw)
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
			t.Logf("banter stderr:\n%s", p.Stderr.String())
		}
	})
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := ListeningLine.FindStringSubmatch(sc.Text()); m != nil {
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
		p.URL = strings.Replace(u, "localhost", "127.0.0.1", 1)
	case <-p.done:
		t.Fatalf("banter exited before listening: %v\n%s", p.err, p.Stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("banter did not log its URL within 30s\n%s", p.Stderr.String())
	}
	return p
}

// Wait waits for the process to exit and returns its exit code (minus the
// signal number when killed by a signal).
func (p *Banter) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("banter did not exit within %v\n%s", timeout, p.Stderr.String())
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
