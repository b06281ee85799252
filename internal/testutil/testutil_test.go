package testutil

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakeTB records failures instead of failing the real test, so the helpers'
// failure paths can be checked. Fatal ends the calling goroutine like the real
// one; run such calls in their own goroutine.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	errors   []string
	cleanups []func()
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

func (f *fakeTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func (f *fakeTB) failures() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.errors...)
}

// inGoroutine runs fn where a Goexit from Fatalf cannot end the real test.
func inGoroutine(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

func TestEventuallySucceedsOnceConditionHolds(t *testing.T) {
	var calls atomic.Int32
	Eventually(t, 5*time.Second, func() bool { return calls.Add(1) >= 3 }, "never reached 3")
	if got := calls.Load(); got != 3 {
		t.Fatalf("cond called %d times, want exactly 3 (stop polling once true)", got)
	}
}

func TestEventuallyFailsWithMessage(t *testing.T) {
	f := &fakeTB{}
	inGoroutine(func() {
		Eventually(f, 30*time.Millisecond, func() bool { return false }, "queue length %d", 7)
	})
	errs := f.failures()
	if len(errs) != 1 || !strings.Contains(errs[0], "queue length 7") || !strings.Contains(errs[0], "30ms") {
		t.Fatalf("failures = %q, want one mentioning the message and the timeout", errs)
	}
}

func TestPollChecksAtLeastOnce(t *testing.T) {
	if !poll(0, func() bool { return true }) {
		t.Fatal("poll with zero timeout did not report a condition that is already true")
	}
	if poll(0, func() bool { return false }) {
		t.Fatal("poll reported a false condition as met")
	}
}

func TestStartHTTPServesOnLoopbackAndClosesOnCleanup(t *testing.T) {
	var url string
	t.Run("serve", func(t *testing.T) {
		url = StartHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "pong "+r.URL.Path)
		}))
		if !strings.HasPrefix(url, "http://127.0.0.1:") {
			t.Fatalf("url = %q, want http://127.0.0.1:PORT", url)
		}
		resp, err := http.Get(url + "/x")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "pong /x" {
			t.Fatalf("body = %q", body)
		}
	})
	// The subtest's cleanup has run: nothing may answer any more.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := client.Get(url + "/x"); err == nil {
		resp.Body.Close()
		t.Fatalf("server at %s still answers after cleanup", url)
	}
}

func TestCheckGoroutineLeaksReportsLeakedStack(t *testing.T) {
	f := &fakeTB{}
	checkGoroutineLeaks(f, 50*time.Millisecond)
	stop := make(chan struct{})
	defer close(stop)
	go leakyWorker(stop)
	f.runCleanups()
	errs := f.failures()
	if len(errs) != 1 || !strings.Contains(errs[0], "1 goroutine(s) leaked") || !strings.Contains(errs[0], "leakyWorker") {
		t.Fatalf("failures = %q, want one naming leakyWorker", errs)
	}
}

func leakyWorker(stop chan struct{}) { <-stop }

func TestCheckGoroutineLeaksWaitsForEndingGoroutines(t *testing.T) {
	f := &fakeTB{}
	checkGoroutineLeaks(f, 10*time.Second)
	release := make(chan struct{})
	go func() { <-release }()
	// The goroutine ends only once the check has started waiting for it.
	go func() {
		time.Sleep(20 * time.Millisecond)
		close(release)
	}()
	f.runCleanups()
	if errs := f.failures(); len(errs) != 0 {
		t.Fatalf("goroutines that ended were reported: %q", errs)
	}
}

func TestCheckGoroutineLeaksIgnoresOlderGoroutines(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	go leakyWorker(stop) // started before the snapshot
	f := &fakeTB{}
	checkGoroutineLeaks(f, 10*time.Millisecond)
	f.runCleanups()
	if errs := f.failures(); len(errs) != 0 {
		t.Fatalf("a goroutine older than the check was reported: %q", errs)
	}
}

func TestParseGoroutineID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		id   int64
		good bool
	}{
		{"goroutine 17 [chan receive]:\nmain.f()", 17, true},
		{"\ngoroutine 1 [running]:\n", 1, true},
		{"goroutine x [running]:", 0, false},
		{"goroutine 5", 0, false},
		{"created by main.g", 0, false},
	} {
		id, ok := parseGoroutineID(tc.in)
		if id != tc.id || ok != tc.good {
			t.Errorf("parseGoroutineID(%q) = %d, %v; want %d, %v", tc.in, id, ok, tc.id, tc.good)
		}
	}
}

func TestRepoRootFindsModule(t *testing.T) {
	root := RepoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !declaresModule(data, modulePath) {
		t.Fatalf("RepoRoot = %s: go.mod there does not declare %s (%v)", root, modulePath, err)
	}
	if _, ok := findRepoRoot(t.TempDir()); ok {
		t.Fatal("findRepoRoot found the module above a temporary directory")
	}
}

func TestDeclaresModule(t *testing.T) {
	for _, tc := range []struct {
		goMod string
		want  bool
	}{
		{"module github.com/banter-chat/banter\n\ngo 1.26\n", true},
		{"// x\nmodule   github.com/banter-chat/banter  \n", true},
		{"module github.com/banter-chat/banter/v2\n", false},
		{"module example.com/other\n", false},
		{"", false},
	} {
		if got := declaresModule([]byte(tc.goMod), modulePath); got != tc.want {
			t.Errorf("declaresModule(%q) = %v, want %v", tc.goMod, got, tc.want)
		}
	}
}

func writeScript(t *testing.T, src string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "script.js")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestRunNodeCapturesStdoutAndResolvesRepoModules(t *testing.T) {
	// The script lives outside the repository: only NODE_PATH can resolve ws.
	script := writeScript(t, `
require('ws');
console.log(JSON.stringify(process.argv.slice(2)));
console.error('a warning');
`)
	out, err := RunNode(t, context.Background(), script, "a b", "c")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != `["a b","c"]` {
		t.Fatalf("stdout = %q", out)
	}
}

func TestRunNodeReportsFailureWithStderr(t *testing.T) {
	script := writeScript(t, `console.error('boom: bad input'); process.exit(3);`)
	_, err := RunNode(t, context.Background(), script)
	if err == nil || !strings.Contains(err.Error(), "boom: bad input") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("err = %v, want exit status 3 and the stderr text", err)
	}
}

func TestRunNodeKillsProcessGroupOnContextEnd(t *testing.T) {
	// The script starts a grandchild that would outlive a plain kill of node.
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	script := writeScript(t, fmt.Sprintf(`
const { spawn } = require('child_process');
const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
require('fs').writeFileSync(%q, String(child.pid));
setInterval(() => {}, 1000);
`, pidFile))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := RunNode(t, ctx, script)
		errc <- err
	}()
	var pid int
	Eventually(t, 20*time.Second, func() bool {
		data, err := os.ReadFile(pidFile)
		if err != nil || len(data) == 0 {
			return false
		}
		_, err = fmt.Sscan(string(data), &pid)
		return err == nil
	}, "the script never started its child")
	cancel()
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("err = %v, want one saying the context was canceled", err)
	}
	Eventually(t, 10*time.Second, func() bool {
		return syscall.Kill(pid, 0) == syscall.ESRCH
	}, "grandchild %d still alive after the context ended", pid)
}

func TestStartNodeReturnsPort(t *testing.T) {
	script := writeScript(t, `
const srv = require('http').createServer((req, res) => res.end('node ' + req.url));
srv.listen(0, '127.0.0.1', () => console.log('LISTENING ' + srv.address().port));
`)
	port := StartNode(t, script)
	resp, err := http.Get("http://127.0.0.1:" + port + "/hi")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "node /hi" {
		t.Fatalf("body = %q", body)
	}
}

func TestStartNodeReportsEarlyExit(t *testing.T) {
	script := writeScript(t, `console.error('cannot bind'); process.exit(1);`)
	f := &fakeTB{TB: t}
	inGoroutine(func() { StartNode(f, script) })
	f.runCleanups()
	errs := f.failures()
	if len(errs) != 1 || !strings.Contains(errs[0], "exited before listening") || !strings.Contains(errs[0], "cannot bind") {
		t.Fatalf("failures = %q", errs)
	}
}
