package reliability_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/testutil"
)

// SIGTERM to the binary: clients are told (bye "shutdown", then a
// disconnect), the process exits 0, and the store was closed cleanly: a
// restart on the same file has every acked message. A polling client is
// disconnected; its bye is best effort (docs/protocol.md): it arrives only
// if a GET is pending when the server stops.
func TestSIGTERMTellsClientsAndClosesStore(t *testing.T) {
	db := filepath.Join(t.TempDir(), "banter.db")
	p := startBanter(t, "--addr", "127.0.0.1:0", "--db", db)
	ws := mustDial(t, p.URL, dialOptions{})
	mustHello(t, ws, "ws-user", "general")
	poll := mustDial(t, p.URL, dialOptions{polling: true})
	mustHello(t, poll, "poll-user", "general")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var a sendAck
	if err := ws.ok(ctx, "send", map[string]any{"room": "general", "text": "before the stop", "clientId": "last"}, &a); err != nil {
		t.Fatal(err)
	}
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{ws, poll} {
		if _, err := c.waitEvent(ctx, 0, func(e event) bool {
			var b struct {
				Reason string `json:"reason"`
			}
			return e.Name == "bye" && json.Unmarshal(e.Arg, &b) == nil && b.Reason == "shutdown"
		}); err != nil && c == ws {
			t.Errorf("no bye shutdown: %v (events %v)", err, c.snapshot())
		}
		select {
		case <-c.done():
		case <-ctx.Done():
			t.Error("connection not closed by the server")
		}
	}
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0", code)
	}
	if !strings.Contains(p.Stderr.String(), "Banter stopped") {
		t.Errorf("no clean stop logged:\n%s", p.Stderr.String())
	}
	p2 := startBanter(t, "--addr", "127.0.0.1:0", "--db", db)
	c := mustDial(t, p2.URL, dialOptions{})
	h := mustHello(t, c, "checker", "general")
	if len(h.Rooms) != 1 || h.Rooms[0].LastSeq != a.Seq || len(h.Rooms[0].Messages) == 0 || h.Rooms[0].Messages[len(h.Rooms[0].Messages)-1].ID != a.ID {
		t.Errorf("after restart: %+v, want the acked message %+v last", h.Rooms, a)
	}
}

// app.Shutdown with a client that vanished behind a frozen proxy (it can
// be told nothing and its socket never drains): Shutdown still returns
// within its deadline, and nothing is left running.
func TestShutdownWithVanishedClientLeavesNoGoroutine(t *testing.T) {
	testutil.CheckGoroutineLeaks(t)
	a, err := app.New(app.Config{DBPath: filepath.Join(t.TempDir(), "banter.db"), Logger: discardLogger()})
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
	px := startProxy(t, ln.Addr().String())
	live := mustDial(t, base, dialOptions{})
	mustHello(t, live, "live", "general")
	ghost := mustDial(t, px.url(), dialOptions{})
	mustHello(t, ghost, "ghost", "general")
	gpoll := mustDial(t, px.url(), dialOptions{polling: true})
	mustHello(t, gpoll, "ghost-poll", "general")
	px.freeze()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	t.Logf("Shutdown with 2 vanished clients took %v", time.Since(start).Round(time.Millisecond))
	select {
	case <-live.done():
	case <-ctx.Done():
		t.Error("live client not disconnected")
	}
	// Cleanup (registered after the leak check) closes the clients and
	// the proxy; the leak check then waits for every goroutine.
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
