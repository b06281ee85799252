package e2e_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/testutil"
)

// Every acknowledged message survives a SIGKILL of the server right after
// the acks: after a restart on the same database it is in the history,
// catch-up returns it exactly once, and its client id is remembered.
func TestDurabilityAcrossSIGKILL(t *testing.T) {
	testutil.RequireNode(t)
	db := filepath.Join(t.TempDir(), "banter.db")
	limits := []string{"--db", db, "--rate-burst", "100000", "--rate-per-second", "100000"}
	p := startBanter(t, limits...)
	rep := runScenario(t, "durability.js", p.URL, "send", "4", "50")
	// As soon as the client reported its acks: no graceful anything.
	if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(t, 10*time.Second); code != -int(syscall.SIGKILL) {
		t.Fatalf("banter exit %d, want killed by SIGKILL", code)
	}
	var res struct {
		Acks []json.RawMessage `json:"acks"`
	}
	if err := json.Unmarshal(rep.Result, &res); err != nil || len(res.Acks) != 200 {
		t.Fatalf("send result: %d acks, %v", len(res.Acks), err)
	}
	acks := filepath.Join(t.TempDir(), "acks.json")
	if err := os.WriteFile(acks, rep.Result, 0o600); err != nil {
		t.Fatal(err)
	}
	p2 := startBanter(t, limits...)
	runScenario(t, "durability.js", p2.URL, "verify", acks)
}

// SIGTERM: clients hear bye and a disconnect, the process exits 0.
func TestBinaryGracefulShutdown(t *testing.T) {
	testutil.RequireNode(t)
	p := startBanter(t, "--db", filepath.Join(t.TempDir(), "banter.db"))
	ready := filepath.Join(t.TempDir(), "ready")
	done := runScenarioAsync(t, "shutdown.js", p.URL, ready)
	testutil.Eventually(t, 30*time.Second, func() bool { _, err := os.Stat(ready); return err == nil }, "shutdown.js never got ready")
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("banter exit code %d after SIGTERM, want 0\n%s", code, p.Stderr.String())
	}
	<-done
}

// app.Shutdown with clients connected: they are told, and nothing is left
// running in the process.
func TestAppShutdownLeavesNoGoroutine(t *testing.T) {
	testutil.CheckGoroutineLeaks(t)
	testutil.RequireNode(t)
	a, err := app.New(app.Config{DBPath: filepath.Join(t.TempDir(), "banter.db"), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ln) }()
	ready := filepath.Join(t.TempDir(), "ready")
	done := runScenarioAsync(t, "shutdown.js", "http://"+ln.Addr().String(), ready)
	testutil.Eventually(t, 30*time.Second, func() bool { _, err := os.Stat(ready); return err == nil }, "shutdown.js never got ready")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	<-done
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

// runScenarioAsync runs a scenario on another goroutine; the returned
// channel is closed when it ended (its failure fails the test).
func runScenarioAsync(t *testing.T, script string, args ...string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
		defer cancel()
		out, err := testutil.RunNode(t, ctx, script, args...)
		if err != nil {
			t.Errorf("%s: %v\n%s", script, err, out)
			return
		}
		t.Logf("%s: %s", script, out)
	}()
	t.Cleanup(func() { <-done })
	return done
}
