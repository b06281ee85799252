package testutil

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// NodeStartTimeout bounds how long StartNode waits for a server script to
// print its LISTENING line (a cold Node start on a loaded machine takes ~1 s).
const NodeStartTimeout = 30 * time.Second

// RequireNode skips the test when the node binary is not installed: the only
// reason a JavaScript rig may be skipped. Anything else missing (npm packages,
// Chromium) fails the test, since scripts/deps.sh installs it.
func RequireNode(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("node")
	if err != nil {
		t.Skipf("node is not installed (%v): install Node.js 20 to run the JavaScript interop and browser tests", err)
	}
	return path
}

// nodeCommand prepares `node script args...` in its own process group, with
// NODE_PATH set to the repository's node_modules so scripts outside the
// repository tree resolve the same packages.
func nodeCommand(t testing.TB, ctx context.Context, script string, args ...string) *exec.Cmd {
	t.Helper()
	node := RequireNode(t)
	modules := NodeModules(t)
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	// A script may start children (Chromium does); killing the group ends
	// them all instead of leaving orphans holding ports and pipes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd) }
	// If a grandchild keeps our pipes open after the kill, stop waiting for
	// them rather than hanging the test.
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// RunNode runs `node script args...` until it exits or ctx ends (then its whole
// process group is killed) and returns its stdout. A non-zero exit returns an
// error that includes stderr; on success, stderr (if any) is logged. Relative
// script paths are relative to the test's package directory.
func RunNode(t testing.TB, ctx context.Context, script string, args ...string) (stdout string, err error) {
	t.Helper()
	cmd := nodeCommand(t, ctx, script, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errOut
	runErr := cmd.Run()
	if runErr != nil {
		if ctx.Err() != nil {
			runErr = fmt.Errorf("%w (%w)", runErr, ctx.Err())
		}
		return out.String(), fmt.Errorf("node %s %s: %w\nstderr:\n%s", script, strings.Join(args, " "), runErr, tail(errOut.String(), 8<<10))
	}
	if errOut.Len() > 0 {
		t.Logf("node %s stderr:\n%s", script, tail(errOut.String(), 8<<10))
	}
	return out.String(), nil
}

// StartNode starts a long-running Node server script and waits for it to print
// a line "LISTENING <port>" on stdout, returning the port as a string. The
// process group is killed by t.Cleanup; its stderr is logged if the test fails.
// The script gets BANTER_WATCH_STDIN=1 and a stdin that reaches end of file
// when the test process is gone: it should then exit (see
// test/interop/refserver.js).
func StartNode(t testing.TB, script string, args ...string) (port string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := nodeCommand(t, ctx, script, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatalf("testutil.StartNode: %v", err)
	}
	stderr := &LockedBuffer{}
	cmd.Stderr = stderr
	// The script's stdin is a pipe whose write end only this process holds:
	// if the test binary dies without cleanup (a panic, a timeout), the pipe
	// closes and a script watching stdin exits instead of holding its port.
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		cancel()
		t.Fatalf("testutil.StartNode: %v", err)
	}
	cmd.Stdin = stdinR
	cmd.Env = append(cmd.Env, "BANTER_WATCH_STDIN=1")
	err = cmd.Start()
	stdinR.Close()
	if err != nil {
		cancel()
		stdinW.Close()
		t.Fatalf("testutil.StartNode: start node %s: %v", script, err)
	}
	// exited is closed once waitErr is set: both the start-up check and the
	// cleanup need to wait for the exit.
	exited := make(chan struct{})
	var waitErr error
	portc := make(chan string, 1)
	go func() {
		scanForPort(stdout, portc)
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		stdinW.Close()
		cancel()
		<-exited
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("node %s stderr:\n%s", script, tail(stderr.String(), 8<<10))
		}
	})
	select {
	case p, ok := <-portc:
		if ok {
			return p
		}
		// stdout closed without a LISTENING line: the script died.
		<-exited
		t.Fatalf("node %s exited before listening: %v\nstderr:\n%s", script, waitErr, tail(stderr.String(), 8<<10))
	case <-time.After(NodeStartTimeout):
		t.Fatalf("node %s did not print LISTENING within %v\nstderr:\n%s", script, NodeStartTimeout, tail(stderr.String(), 8<<10))
	}
	panic("unreachable")
}

// scanForPort sends the port of the first "LISTENING <port>" line and closes
// portc, then drains stdout so the script never blocks writing to it.
func scanForPort(r io.Reader, portc chan<- string) {
	sc := bufio.NewScanner(r)
	found := false
	for sc.Scan() {
		if found {
			continue
		}
		if p, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "LISTENING "); ok {
			portc <- p
			found = true
			close(portc)
		}
	}
	if !found {
		close(portc)
	}
	// Drain anything the scanner refused (a line too long) as well.
	_, _ = io.Copy(io.Discard, r)
}

// LockedBuffer is a bytes.Buffer safe for concurrent writes and reads (a
// child process's output read while it runs).
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *LockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// tail keeps the last n bytes of s: enough to show an error, not a megabyte
// of logs.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
