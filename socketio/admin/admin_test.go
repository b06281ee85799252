package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/client"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/socketio"
)

// The protocol itself is checked against the Node version by test/admin
// with the official clients; these tests cover what is Banter's own.

const changeit = "$2b$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS"

func serve(t *testing.T, cfg Config) (*socketio.Server, *Admin, string) {
	t.Helper()
	srv := socketio.NewServer(socketio.Config{DisableClientBundle: true})
	adm, err := Instrument(srv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	base := testutil.StartHTTP(t, mux)
	t.Cleanup(func() {
		adm.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv, adm, base
}

// dashboard connects to the admin namespace and records its events.
type dashboard struct {
	s      *client.Socket
	mu     sync.Mutex
	events map[string][][]any
}

func dial(t *testing.T, base string, auth map[string]any) (*dashboard, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := &dashboard{events: map[string][][]any{}}
	m, err := client.NewManager(base, client.Config{Transports: []string{"websocket"}, NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	d.s = m.Socket("/admin", client.SocketOptions{Auth: auth})
	for _, ev := range []string{"session", "config", "all_sockets", "server_stats", "socket_connected", "room_joined", "event_sent"} {
		d.s.On(ev, func(e *client.Event) {
			vals, _ := e.Values()
			d.mu.Lock()
			d.events[ev] = append(d.events[ev], vals)
			d.mu.Unlock()
		})
	}
	return d, d.s.Connect(ctx)
}

func (d *dashboard) wait(t *testing.T, ev string) []any {
	t.Helper()
	var got []any
	testutil.Eventually(t, 10*time.Second, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		if len(d.events[ev]) > 0 {
			got = d.events[ev][0]
			return true
		}
		return false
	}, "no %s", ev)
	return got
}

func TestInstrumentRefusesBadConfigurations(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no auth chosen":  {},
		"plain password":  {Auth: &BasicAuth{Username: "admin", PasswordHash: "changeit"}},
		"empty username":  {Auth: &BasicAuth{PasswordHash: changeit}},
		"truncated hash":  {Auth: &BasicAuth{Username: "admin", PasswordHash: changeit[:30]}},
		"unknown version": {Auth: &BasicAuth{Username: "admin", PasswordHash: "$3b" + changeit[3:]}},
	} {
		srv := socketio.NewServer(socketio.Config{DisableClientBundle: true})
		if _, err := Instrument(srv, cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err %v, want ErrConfig", name, err)
		}
		if srv.Observed() {
			t.Errorf("%s: refused, yet the server is observed", name)
		}
	}
}

func TestLoginAndSession(t *testing.T) {
	_, _, base := serve(t, Config{Auth: &BasicAuth{Username: "admin", PasswordHash: changeit}})
	for _, auth := range []map[string]any{nil, {"username": "admin", "password": "nope"}, {"username": "root", "password": "changeit"}, {"sessionId": "0123456789abcdef"}} {
		_, err := dial(t, base, auth)
		var ce *client.ConnectError
		if !errors.As(err, &ce) || ce.Message != "invalid credentials" {
			t.Errorf("auth %v: %v, want invalid credentials", auth, err)
		}
	}
	d, err := dial(t, base, map[string]any{"username": "admin", "password": "changeit"})
	if err != nil {
		t.Fatal(err)
	}
	sid, _ := d.wait(t, "session")[0].(string)
	if len(sid) != 16 {
		t.Fatalf("session id %q", sid)
	}
	if _, err := dial(t, base, map[string]any{"sessionId": sid}); err != nil {
		t.Fatalf("session id refused: %v", err)
	}
}

func TestModes(t *testing.T) {
	for _, c := range []struct {
		cfg      Config
		features []any
		observed bool
	}{
		{Config{NoAuth: true}, []any{"EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"}, true},
		{Config{NoAuth: true, ReadOnly: true}, []any{"AGGREGATED_EVENTS", "ALL_EVENTS"}, true},
		{Config{NoAuth: true, Production: true}, []any{"EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS"}, false},
	} {
		srv, _, base := serve(t, c.cfg)
		d, err := dial(t, base, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := d.wait(t, "config")[0].(map[string]any)
		if got, _ := cfg["supportedFeatures"].([]any); !slices.Equal(got, c.features) {
			t.Errorf("%+v: features %v, want %v", c.cfg, got, c.features)
		}
		// Production mode costs the server no hook at all.
		if srv.Observed() != c.observed {
			t.Errorf("%+v: observed %v", c.cfg, srv.Observed())
		}
		d.wait(t, "server_stats")
	}
}

// Actions name namespaces; an admin who mistypes one must not create it
// (Node's io.of would).
func TestActionsDoNotCreateNamespaces(t *testing.T) {
	srv, _, base := serve(t, Config{NoAuth: true})
	d, err := dial(t, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.wait(t, "config")
	m, err := client.NewManager(base, client.Config{Transports: []string{"websocket"}, NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := m.Socket("/", client.SocketOptions{})
	done := make(chan struct{}, 1)
	c.On("done", func(*client.Event) { done <- struct{}{} })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	_ = d.s.Emit("emit", "/typo", nil, "x")
	_ = d.s.Emit("join", "/typo2", "room")
	_ = d.s.Emit("leave", "/typo3", "room")
	_ = d.s.Emit("_disconnect", "/typo4", true)
	_ = d.s.Emit("join", 42, "room") // bad types are ignored too
	// The admin socket's events are handled in order: once an emit action
	// that follows them arrived, they were.
	_ = d.s.Emit("emit", "/", nil, "done")
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the emit action did not arrive")
	}
	for _, n := range srv.Namespaces() {
		if strings.HasPrefix(n.Name(), "/typo") {
			t.Errorf("namespace %s created by an action", n.Name())
		}
	}
}

// Without a dashboard (and without a cluster adapter) the hooks record
// nothing: the instrumentation costs a check per event.
func TestNothingRecordedWithoutDashboard(t *testing.T) {
	srv, adm, base := serve(t, Config{NoAuth: true})
	m, err := client.NewManager(base, client.Config{Transports: []string{"websocket"}, NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s := m.Socket("/", client.SocketOptions{})
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		_ = srv.Emit("news", 1)
	}
	adm.rec.mu.Lock()
	n := adm.rec.pending
	adm.rec.mu.Unlock()
	if n != 0 || adm.Dropped() != 0 {
		t.Fatalf("%d events recorded, %d dropped with no dashboard", n, adm.Dropped())
	}
	// With one, a broadcast is one event_sent per socket.
	d, err := dial(t, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.wait(t, "all_sockets")
	_ = srv.Emit("news", 2)
	args := d.wait(t, "event_sent")
	if args[0] != "/" || args[1] != s.ID() {
		t.Fatalf("event_sent %v", args)
	}
	b, _ := json.Marshal(args[2])
	if string(b) != `["news",2]` {
		t.Fatalf("event_sent args %s", b)
	}
}

// A dashboard that cannot keep up loses live events, counted; the server
// does not wait for it.
func TestRecorderDropsWhenFull(t *testing.T) {
	var r recorder
	r.init(10)
	for range 4 {
		r.add(record{kind: kindSent, ids: []string{"a", "b", "c"}}, 3)
	}
	if r.pending != 9 || r.dropped.Load() != 3 {
		t.Fatalf("pending %d, dropped %d; want 9 and 3", r.pending, r.dropped.Load())
	}
	if got := r.take(nil); len(got) != 3 || r.pending != 0 {
		t.Fatalf("took %d records, %d pending", len(got), r.pending)
	}
	r.add(record{kind: kindJoined}, 1)
	if r.pending != 1 {
		t.Fatal("the buffer did not accept records after take")
	}
}
