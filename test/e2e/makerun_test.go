package e2e

import (
	"bufio"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/testutil"
)

// TestMakeRun: the README's `make run` passes ARGS to the server, and says
// what it is doing before the build and how to choose the address (issue
// 19, item 15).
func TestMakeRun(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make is not installed: %v", err)
	}
	root := testutil.RepoRoot(t)
	db := filepath.Join(t.TempDir(), "make.db")
	cmd := exec.Command("make", "--no-print-directory", "run", "ARGS=--addr 127.0.0.1:0 --db "+db)
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // make and the server it starts: one group to stop
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
		}
	})
	lines := make(chan string, 1000)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	var seen []string
	listening := regexp.MustCompile(`Banter listening on (http://\S+?)"?$`)
	var url string
	timeout := time.After(5 * time.Minute) // a cold build cache compiles everything
	for url == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("make run ended:\n%s", strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if m := listening.FindStringSubmatch(l); m != nil {
				url = m[1]
			}
		case <-timeout:
			t.Fatalf("make run did not start the server:\n%s", strings.Join(seen, "\n"))
		}
	}
	all := strings.Join(seen, "\n")
	for _, want := range []string{"make run: building bin/banter", "takes a few minutes", "starting bin/banter --addr 127.0.0.1:0 --db " + db, `ARGS="--addr :3900"`} {
		if !strings.Contains(all, want) {
			t.Errorf("make run's output lacks %q:\n%s", want, all)
		}
	}
	res, err := http.Get(url + "/healthz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz of the server make run started: %v %v", res, err)
	}
	res.Body.Close()
	// SIGTERM to the server: it stops cleanly.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	_ = cmd.Wait()
	stopped = true
}
