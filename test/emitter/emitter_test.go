// Package emitter_test checks that publishers that are no server reach
// Banter's clients through Redis as they reach a Node server's: the
// official @socket.io/redis-emitter (npm_emitter.js) and Banter's Go
// emitter (package socketio/emitter), each against Banter's chat product
// started with a Redis bus and against the Node reference (ref_server.js:
// socket.io 4.8 with @socket.io/redis-adapter 8.x), on the machine's Redis
// with a fresh key per test.
package emitter_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/client"
	"github.com/banter-chat/banter/internal/apptest"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/socketio/emitter"
)

const scenarioTimeout = 2 * time.Minute

func uniqueKey() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "banter-emitter-test-" + hex.EncodeToString(b)
}

// startProduct serves the chat product as a cluster node on the
// machine's Redis: its chat bus on a fresh prefix, its Socket.IO adapter
// on key.
func startProduct(t *testing.T, key string) string {
	t.Helper()
	logs := &testutil.LockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("banter log:\n%s", logs.String())
		}
	})
	base, _ := apptest.Serve(t, app.Config{
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		RedisURL:    testutil.RedisURL() + "?prefix=" + url.QueryEscape(key+":"),
		SocketIOKey: key,
	})
	return base
}

func startNodeRef(t *testing.T, key string) string {
	t.Helper()
	return "http://127.0.0.1:" + testutil.StartNode(t, "ref_server.js", testutil.RedisURL(), key)
}

type side struct {
	name  string
	start func(t *testing.T, key string) string
}

var sides = []side{{"banter", startProduct}, {"node", startNodeRef}}

// The official emitter, from Node.
func TestNpmEmitter(t *testing.T) {
	testutil.RequireNode(t)
	for _, s := range sides {
		t.Run(s.name, func(t *testing.T) {
			key := uniqueKey()
			base := s.start(t, key)
			ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
			defer cancel()
			out, err := testutil.RunNode(t, ctx, "npm_emitter.js", base, testutil.RedisURL(), key)
			var res map[string]any
			_ = json.Unmarshal([]byte(strings.TrimSpace(out)), &res)
			if err != nil || res["ok"] != true {
				t.Fatalf("npm_emitter.js: %v\n%s", err, out)
			}
			t.Logf("%v", res["checks"])
		})
	}
}

// emitted are the events TestGoEmitter publishes.
var emitted = []string{"marker", "to-all", "to-lobby", "lobby-not-random", "just-carol", "volatile-random",
	"other-namespace", "lobby-after-join", "lobby-after-leave"}

// recorder is a Go client socket that keeps the emitted events it
// receives.
type recorder struct {
	name string
	s    *client.Socket
	mu   sync.Mutex
	got  []string // "event args-as-JSON"
}

func dialRecorder(t *testing.T, base, name string, rooms []string) *recorder {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := client.Dial(ctx, base, client.Config{Transports: []string{"websocket"}}, client.SocketOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Manager().Close() })
	r := &recorder{name: name, s: s}
	for _, name := range emitted {
		s.On(name, func(ev *client.Event) {
			vals, _ := ev.Values()
			b, _ := json.Marshal(vals)
			r.mu.Lock()
			r.got = append(r.got, ev.Name+" "+string(b))
			r.mu.Unlock()
		})
	}
	res, err := s.EmitWithAck(ctx, "hello", map[string]any{"nickname": name, "rooms": rooms})
	if err != nil {
		t.Fatalf("hello of %s: %v", name, err)
	}
	var ok struct{ OK bool }
	if err := res.Bind(0, &ok); err != nil || !ok.OK {
		t.Fatalf("hello of %s: %s", name, res.Raw(0))
	}
	return r
}

// step emits a marker to all and returns what each recorder got before
// it (one emitter's publications reach a server in order).
func step(t *testing.T, em *emitter.Emitter, rs []*recorder, marker string) map[string][]string {
	t.Helper()
	if err := em.Emit(context.Background(), "marker", marker); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	want := `marker ["` + marker + `"]`
	for _, r := range rs {
		testutil.Eventually(t, 10*time.Second, func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return slices.Contains(r.got, want)
		}, "%s got no marker %s", r.name, marker)
		r.mu.Lock()
		i := slices.Index(r.got, want)
		out[r.name] = append([]string{}, r.got[:i]...)
		r.got = r.got[i+1:]
		r.mu.Unlock()
	}
	return out
}

func expect(t *testing.T, got map[string][]string, name string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got[name], want) {
		t.Errorf("%s got %q, want %q", name, got[name], want)
	}
}

// Banter's Go emitter.
func TestGoEmitter(t *testing.T) {
	for _, s := range sides {
		if s.name == "node" {
			testutil.RequireNode(t)
		}
		t.Run(s.name, func(t *testing.T) {
			key := uniqueKey()
			base := s.start(t, key)
			opt, err := rueidis.ParseURL(testutil.RedisURL())
			if err != nil {
				t.Fatal(err)
			}
			opt.DisableCache = true
			rc, err := rueidis.NewClient(opt)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			em := emitter.New(rc, emitter.Config{Key: key})
			ctx := context.Background()

			alice := dialRecorder(t, base, "alice", []string{"lobby"})
			bob := dialRecorder(t, base, "bob", []string{"lobby", "random"})
			carol := dialRecorder(t, base, "carol", []string{"random"})
			all := []*recorder{alice, bob, carol}
			step(t, em, all, "m0")

			if err := em.Emit(ctx, "to-all", 1, "two", map[string]int{"three": 3}); err != nil {
				t.Fatal(err)
			}
			got := step(t, em, all, "m1")
			for _, r := range all {
				expect(t, got, r.name, `to-all [1,"two",{"three":3}]`)
			}

			if err := em.To("lobby").Emit(ctx, "to-lobby", []byte{1, 2, 3}); err != nil {
				t.Fatal(err)
			}
			got = step(t, em, all, "m2")
			expect(t, got, "alice", `to-lobby ["AQID"]`) // []byte as decoded JSON: base64
			expect(t, got, "bob", `to-lobby ["AQID"]`)
			expect(t, got, "carol")

			must(t, em.To("lobby", "random").Except("random").Emit(ctx, "lobby-not-random"))
			must(t, em.To(carol.s.ID()).Emit(ctx, "just-carol"))
			must(t, em.Volatile().To("random").Emit(ctx, "volatile-random"))
			must(t, em.Of("/elsewhere").Emit(ctx, "other-namespace"))
			got = step(t, em, all, "m3")
			// Volatile events may be dropped for a client being written to
			// (Node drops them then): only where they may go is checked.
			for _, name := range []string{"bob", "carol"} {
				got[name] = slices.DeleteFunc(got[name], func(e string) bool { return e == "volatile-random []" })
			}
			expect(t, got, "alice", "lobby-not-random []")
			expect(t, got, "bob")
			expect(t, got, "carol", "just-carol []")

			must(t, em.In(carol.s.ID()).SocketsJoin(ctx, "lobby"))
			must(t, em.To("lobby").Emit(ctx, "lobby-after-join"))
			must(t, em.In("lobby").SocketsLeave(ctx, "lobby"))
			must(t, em.To("lobby").Emit(ctx, "lobby-after-leave"))
			got = step(t, em, all, "m4")
			for _, r := range all {
				expect(t, got, r.name, "lobby-after-join []")
			}

			gone := make(chan client.Reason, 1)
			carol.s.OnDisconnect(func(r client.Reason) { gone <- r })
			must(t, em.In(carol.s.ID()).DisconnectSockets(ctx, false))
			select {
			case r := <-gone:
				if r != client.ReasonServerDisconnect {
					t.Errorf("carol disconnected with %q", r)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("carol was not disconnected")
			}
			got = step(t, em, []*recorder{alice, bob}, "m5")
			expect(t, got, "alice")

			if err := em.Emit(ctx, "disconnect"); err == nil {
				t.Error("a reserved event name was published")
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
