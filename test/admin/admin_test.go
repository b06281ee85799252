// Package admin_test checks Banter's side of the Socket.IO Admin UI
// (package socketio/admin and its dashboard, socketio/admin/ui) against the
// official npm packages, side by side with the Node reference
// (node_server.js: socket.io 4.8 instrumented by @socket.io/admin-ui 0.5):
// the dashboard's protocol with socket.io-client (protocol.js), the
// dashboard itself in headless Chromium (dashboard.js), and a cluster of
// Banter and Node nodes over Redis.
package admin_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"

	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/apptest"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/socketio"
	"github.com/banter-chat/banter/socketio/admin"
	"github.com/banter-chat/banter/socketio/admin/ui"
	"github.com/banter-chat/banter/socketio/redisadapter"
)

// passwordHash is "changeit" hashed with bcrypt, as node_server.js has it.
const passwordHash = "$2b$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS"

// scenarioTimeout bounds one Node scenario (they bound themselves at 2
// minutes).
const scenarioTimeout = 3 * time.Minute

type banterOpts struct {
	serverID string
	redisKey string // join a Redis cluster with this channel prefix
}

// startBanter runs a Banter server behaving like node_server.js: the admin
// instrumentation with the same login, the dashboard at /admin-ui/,
// sockets of "/" joining the rooms of their auth, an "echo" event with
// ack, and /ctl.
func startBanter(t *testing.T, o banterOpts) string {
	t.Helper()
	logs := &testutil.LockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := socketio.Config{DisableClientBundle: true, Logger: logger}
	var cluster *redisadapter.Cluster
	var rc rueidis.Client
	store := admin.SessionStore(nil)
	if o.redisKey != "" {
		rc = redisClient(t)
		cluster = redisadapter.New(rc, redisadapter.Config{Key: o.redisKey, RequestsTimeout: 3 * time.Second, Logger: logger})
		cfg.Adapter = cluster.Adapter
		store = admin.NewRedisStore(rc, "", 0)
	}
	srv := socketio.NewServer(cfg)
	adm, err := admin.Instrument(srv, admin.Config{
		Auth:     &admin.BasicAuth{Username: "admin", PasswordHash: passwordHash},
		ServerID: o.serverID, Store: store, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	root, ctl := srv.Of("/"), srv.Of("/ctl")
	root.Use(func(s *socketio.Socket) error {
		rooms, _ := s.Handshake().Auth["rooms"].([]any)
		for _, r := range rooms {
			if r, ok := r.(string); ok {
				s.Join(r)
			}
		}
		return nil
	})
	root.On("echo", func(ev *socketio.Event) { ev.AckRaw(ev.ArgsJSON()) })
	for op, do := range controls(root) {
		ctl.On(op, func(ev *socketio.Event) {
			var req map[string]any
			_ = ev.Bind(0, &req)
			ev.Ack(map[string]any{"ok": do(req)})
		})
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	mux.Handle("/admin-ui/", ui.Handler("/admin-ui/"))
	mux.Handle("/admin-ui", ui.Handler("/admin-ui/"))
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		adm.Close()
		_ = srv.Shutdown(ctx)
		ts.Close()
		if cluster != nil {
			_ = cluster.Close()
			rc.Close()
		}
		if t.Failed() {
			t.Logf("banter %s log:\n%s", o.serverID, tail(logs.String(), 16<<10))
		}
	})
	if cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cluster.Ready(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return ts.URL
}

// controls are node_server.js's /ctl operations.
func controls(root *socketio.Namespace) map[string]func(req map[string]any) bool {
	sock := func(req map[string]any) *socketio.Socket {
		id, _ := req["id"].(string)
		return root.Socket(id)
	}
	str := func(v any) string { s, _ := v.(string); return s }
	return map[string]func(map[string]any) bool{
		"join": func(req map[string]any) bool {
			s := sock(req)
			if s != nil {
				s.Join(str(req["room"]))
			}
			return s != nil
		},
		"leave": func(req map[string]any) bool {
			s := sock(req)
			if s != nil {
				s.Leave(str(req["room"]))
			}
			return s != nil
		},
		"emit": func(req map[string]any) bool {
			s := sock(req)
			args, _ := req["args"].([]any)
			return s != nil && s.Emit(str(req["event"]), args...) == nil
		},
		"emitBinary": func(req map[string]any) bool {
			s := sock(req)
			return s != nil && s.Emit(str(req["event"]), 1, []byte{1, 2, 3}) == nil
		},
		"broadcast": func(req map[string]any) bool {
			args, _ := req["args"].([]any)
			return root.To(str(req["room"])).Emit(str(req["event"]), args...) == nil
		},
		"setData": func(req map[string]any) bool {
			s := sock(req)
			if s == nil {
				return false
			}
			data, _ := s.Data().(map[string]any)
			merged := map[string]any{}
			maps.Copy(merged, data)
			add, _ := req["data"].(map[string]any)
			maps.Copy(merged, add)
			s.SetData(merged)
			return true
		},
		"disconnect-socket": func(req map[string]any) bool {
			if s := sock(req); s != nil {
				s.Disconnect(true)
			}
			return true
		},
	}
}

func redisClient(t *testing.T) rueidis.Client {
	t.Helper()
	opt, err := rueidis.ParseURL(testutil.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	opt.DisableCache = true
	rc, err := rueidis.NewClient(opt)
	if err != nil {
		t.Fatalf("Redis at %s is not reachable (scripts/deps.sh starts it): %v", testutil.RedisURL(), err)
	}
	return rc
}

func uniqueKey() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "banter-admin-test-" + hex.EncodeToString(b)
}

func startNode(t *testing.T, args ...string) string {
	t.Helper()
	return "http://127.0.0.1:" + testutil.StartNode(t, "node_server.js", args...)
}

// runScenario runs a Node script with args and fails the test unless it
// reports ok.
func runScenario(t *testing.T, script string, args ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	out, err := testutil.RunNode(t, ctx, script, args...)
	var res map[string]any
	if line := strings.TrimSpace(lastLine(out)); line != "" {
		_ = json.Unmarshal([]byte(line), &res)
	}
	if err != nil || res["ok"] != true {
		t.Fatalf("%s %s: %v\nreport: %s", script, strings.Join(args, " "), err, out)
	}
	t.Logf("%s: %v", script, res["checks"])
	return res
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// The dashboard's protocol, spoken by socket.io-client, against both
// servers.
func TestProtocol(t *testing.T) {
	testutil.RequireNode(t)
	for _, side := range []struct {
		name  string
		start func(t *testing.T) string
		id    string
	}{
		{"node", func(t *testing.T) string { return startNode(t) }, "node-reference"},
		{"banter", func(t *testing.T) string { return startBanter(t, banterOpts{serverID: "banter"}) }, "banter"},
	} {
		t.Run(side.name, func(t *testing.T) {
			runScenario(t, "protocol.js", side.start(t), side.id)
		})
	}
}

// The official dashboard in headless Chromium, served by each server at
// /admin-ui/ and logged in to it.
func TestDashboard(t *testing.T) {
	testutil.RequireNode(t)
	for _, side := range []struct {
		name  string
		start func(t *testing.T) string
		id    string
	}{
		{"node", func(t *testing.T) string { return startNode(t) }, "node-reference"},
		{"banter", func(t *testing.T) string { return startBanter(t, banterOpts{serverID: "banter"}) }, "banter"},
	} {
		t.Run(side.name, func(t *testing.T) {
			shots := t.TempDir()
			runScenario(t, "dashboard.js", side.start(t), side.id, "--shots", shots)
		})
	}
}

// The dashboard on the chat product (banter --admin-ui), one node and two
// nodes of a cluster.
func TestDashboardProduct(t *testing.T) {
	testutil.RequireNode(t)
	t.Run("one node", func(t *testing.T) {
		base, _ := apptest.Serve(t, app.Config{AdminUI: adminConfig})
		host, _ := os.Hostname()
		runScenario(t, "dashboard.js", base, host, "--chat", "--shots", t.TempDir())
	})
	t.Run("cluster", func(t *testing.T) {
		key := uniqueKey()
		cfg := app.Config{
			AdminUI:     adminConfig,
			RedisURL:    testutil.RedisURL() + "?prefix=" + url.QueryEscape(key+":"),
			SocketIOKey: key,
		}
		one, a1 := apptest.Serve(t, cfg)
		two, a2 := apptest.Serve(t, cfg)
		runScenario(t, "dashboard.js", one, a1.AdminServerID(), "--other", two, a2.AdminServerID(), "--chat", "--shots", t.TempDir())
	})
}

// A cluster of a Banter node and a Node node over Redis, as the Node
// version works over its adapter: the dashboard on either node shows the
// other's sockets, rooms and server, and its disconnect button reaches
// them.
func TestDashboardCluster(t *testing.T) {
	testutil.RequireNode(t)
	for _, on := range []string{"banter", "node"} {
		t.Run("dashboard on "+on, func(t *testing.T) {
			key := uniqueKey()
			banter := startBanter(t, banterOpts{serverID: "banter-" + key[len(key)-4:], redisKey: key})
			node := startNode(t, "--server-id=node-"+key[len(key)-4:], "--redis="+testutil.RedisURL(), "--key="+key)
			bid, nid := "banter-"+key[len(key)-4:], "node-"+key[len(key)-4:]
			if on == "banter" {
				runScenario(t, "dashboard.js", banter, bid, "--other", node, nid, "--shots", t.TempDir())
			} else {
				runScenario(t, "dashboard.js", node, nid, "--other", banter, bid, "--shots", t.TempDir())
			}
		})
	}
}

// adminConfig is the product's Admin UI with node_server.js's login.
var adminConfig = app.AdminUIConfig{Enabled: true, Username: "admin", PasswordHash: passwordHash}

// The chat product with --admin-ui: one node, then two nodes of a cluster
// (Redis bus, dashboard on the first node, a chat client on the second).
func TestProduct(t *testing.T) {
	testutil.RequireNode(t)
	t.Run("one node", func(t *testing.T) {
		base, _ := apptest.Serve(t, app.Config{AdminUI: adminConfig})
		runScenario(t, "product.js", base)
	})
	t.Run("cluster", func(t *testing.T) {
		key := uniqueKey()
		cfg := app.Config{
			AdminUI:     adminConfig,
			RedisURL:    testutil.RedisURL() + "?prefix=" + url.QueryEscape(key+":"),
			SocketIOKey: key,
		}
		one, _ := apptest.Serve(t, cfg)
		two, _ := apptest.Serve(t, cfg)
		runScenario(t, "product.js", one, two)
	})
}
