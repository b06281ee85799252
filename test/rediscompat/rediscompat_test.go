// Package rediscompat_test runs a mixed Socket.IO cluster: a Banter server
// (in this process, with socketio/redisadapter) and a Node Socket.IO 4.8
// server with @socket.io/redis-adapter 8.x (mixed.js), on the machine's
// Redis with a fresh channel prefix per test. Official socket.io-client
// sockets connect to both; @socket.io/redis-emitter emits to both.
//
// Redis (127.0.0.1:6379) is started by scripts/deps.sh; BANTER_TEST_REDIS
// points elsewhere.
package rediscompat_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/socketio"
	"github.com/banter-chat/banter/socketio/redisadapter"
	"github.com/redis/rueidis"
)

// The scenario bounds itself at 30 s; this only catches a hung Node.
const scenarioTimeout = 90 * time.Second

func redisURL() string { return testutil.RedisURL() }

func uniqueKey() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "banter-test-" + hex.EncodeToString(b)
}

// startBanter runs the Banter side of the cluster: namespace "/" like the
// Node server of mixed.js (sockets join the rooms of their auth and keep
// their name as data; "hello-servers" from other servers is answered), and
// "/ctl", through which the scenario makes this server act.
func startBanter(t *testing.T, key string) string {
	t.Helper()
	opt, err := rueidis.ParseURL(redisURL())
	if err != nil {
		t.Fatal(err)
	}
	opt.DisableCache = true
	rc, err := rueidis.NewClient(opt)
	if err != nil {
		t.Fatalf("Redis at %s is not reachable (is it running? scripts/deps.sh starts it): %v", redisURL(), err)
	}
	logs := &lockedWriter{w: &strings.Builder{}}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	cluster := redisadapter.New(rc, redisadapter.Config{Key: key, RequestsTimeout: 3 * time.Second, Logger: logger})
	srv := socketio.NewServer(socketio.Config{Adapter: cluster.Adapter, DisableClientBundle: true, Logger: logger})
	root, ctl := srv.Of("/"), srv.Of("/ctl")
	// A middleware: Banter writes the CONNECT reply before connection
	// handlers run (Node runs them first), so joins there could come after
	// the client's next step.
	root.Use(func(s *socketio.Socket) error {
		auth := s.Handshake().Auth
		for _, r := range stringList(auth["rooms"]) {
			s.Join(r)
		}
		s.SetData(map[string]any{"name": auth["name"]})
		return nil
	})
	root.OnServerSideEmit("hello-servers", func(ev *socketio.ServerSideEvent) {
		_ = ctl.Emit("server-side", ev.Args)
		ev.Ack("banter pong")
	})
	for op, do := range controls(root) {
		ctl.On(op, func(ev *socketio.Event) {
			args, err := ev.Args()
			req := map[string]any{}
			if err == nil && len(args) > 0 {
				req, _ = args[0].(map[string]any)
			}
			go func() { // requests wait for other servers: not on the connection's goroutine
				res, err := do(req)
				if err != nil {
					res = map[string]any{"error": err.Error()}
				}
				ev.Ack(res)
			}()
		})
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		ts.Close()
		_ = cluster.Close()
		rc.Close()
		if t.Failed() {
			t.Logf("banter log:\n%s", logs.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cluster.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	return ts.URL
}

// controls are the /ctl requests: name → what Banter does.
func controls(nsp *socketio.Namespace) map[string]func(req map[string]any) (any, error) {
	op := func(req map[string]any) *socketio.BroadcastOperator {
		b := nsp.To(stringList(req["to"])...).In(stringList(req["in"])...).Except(stringList(req["except"])...)
		if req["local"] == true {
			b = b.Local()
		}
		return b
	}
	ctx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 5*time.Second)
	}
	return map[string]func(map[string]any) (any, error){
		"serverCount": func(map[string]any) (any, error) {
			ctx, cancel := ctx()
			defer cancel()
			return nsp.ServerCount(ctx)
		},
		"emit": func(req map[string]any) (any, error) {
			args, _ := req["args"].([]any)
			return nil, op(req).Emit(fmt.Sprint(req["event"]), args...)
		},
		"emitWithAck": func(req map[string]any) (any, error) {
			args, _ := req["args"].([]any)
			ctx, cancel := ctx()
			defer cancel()
			return op(req).EmitWithAck(ctx, fmt.Sprint(req["event"]), args...)
		},
		"fetchSockets": func(req map[string]any) (any, error) {
			ctx, cancel := ctx()
			defer cancel()
			list, err := op(req).FetchSockets(ctx)
			out := make([]map[string]any, 0, len(list))
			for _, r := range list {
				out = append(out, map[string]any{
					"id": r.ID, "rooms": r.Rooms, "data": r.Data, "auth": r.Handshake.Auth, "local": r.Local() != nil,
				})
			}
			return out, err
		},
		"socketsJoin": func(req map[string]any) (any, error) {
			return nil, op(req).SocketsJoin(stringList(req["rooms"])...)
		},
		"disconnectSockets": func(req map[string]any) (any, error) {
			return nil, op(req).DisconnectSockets(req["close"] == true)
		},
		"allRooms": func(map[string]any) (any, error) {
			ctx, cancel := ctx()
			defer cancel()
			return nsp.AllRooms(ctx)
		},
		"serverSideEmitWithAck": func(req map[string]any) (any, error) {
			args, _ := req["args"].([]any)
			ctx, cancel := ctx()
			defer cancel()
			return nsp.ServerSideEmitWithAck(ctx, fmt.Sprint(req["event"]), args...)
		},
	}
}

// stringList reads a JSON array of strings.
func stringList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

type report struct {
	OK     bool     `json:"ok"`
	Error  string   `json:"error"`
	Checks []string `json:"checks"`
}

func TestMixedCluster(t *testing.T) {
	testutil.RequireNode(t)
	testutil.NodeModules(t)
	key := uniqueKey()
	url := startBanter(t, key)
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	out, err := testutil.RunNode(t, ctx, "mixed.js", url, redisURL(), key)
	var rep report
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); jerr != nil {
		t.Fatalf("mixed.js printed no report (%v); stdout %q; %v", jerr, out, err)
	}
	for _, c := range rep.Checks {
		t.Logf("ok: %s", c)
	}
	if err != nil || !rep.OK {
		t.Fatalf("mixed cluster: %s (%v)", rep.Error, err)
	}
}

// lockedWriter serializes writes to a log buffer.
type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}
