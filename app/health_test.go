package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/internal/testutil"
)

// The machine's PostgreSQL and Redis (scripts/deps.sh starts them, as for
// test/cluster); BANTER_TEST_POSTGRES and BANTER_TEST_REDIS override them.
func testPostgresURL() string { return testutil.PostgresURL() }

func testRedisURL() string { return testutil.RedisURL() }

// clusterURLs returns a fresh schema's store URL and a fresh channel
// prefix's Redis URL, with their hosts replaced by storeHost and
// redisHost when set (proxies). The schema is dropped at cleanup.
func clusterURLs(t *testing.T, storeHost, redisHost string) (storeURL, redisURL string) {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	schema := "banter_metrics_" + id
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, testPostgresURL())
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	su, err := url.Parse(testPostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	q := su.Query()
	q.Set("search_path", schema)
	su.RawQuery = q.Encode()
	ru, err := url.Parse(testRedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rq := ru.Query()
	rq.Set("prefix", "banter-test-"+id+":")
	ru.RawQuery = rq.Encode()
	if storeHost != "" {
		su.Host = storeHost
	}
	if redisHost != "" {
		ru.Host = redisHost
	}
	return su.String(), ru.String()
}

func hostOf(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Host
}

// TestReadiness: /readyz follows the store and the bus (each reached
// through a proxy that the test takes down and brings back), /healthz
// stays up; both are plain text and never cached.
func TestReadiness(t *testing.T) {
	pgProxy, pgURL := testutil.StartProxy(t, "http://"+hostOf(t, testPostgresURL()))
	redisProxy, rURL := testutil.StartProxy(t, "http://"+hostOf(t, testRedisURL()))
	storeURL, redisURL := clusterURLs(t, hostOf(t, pgURL), hostOf(t, rURL))
	base, a := serveApp(t, app.Config{StoreURL: storeURL, RedisURL: redisURL})

	expect := func(path string, code int, body string) {
		t.Helper()
		gotCode, gotBody, h := get(t, base+path)
		if gotCode != code || gotBody != body {
			t.Errorf("%s = %d %q, want %d %q", path, gotCode, gotBody, code, body)
		}
		if ct, cc := h.Get("Content-Type"), h.Get("Cache-Control"); !strings.HasPrefix(ct, "text/plain") || cc != "no-store" {
			t.Errorf("%s: Content-Type %q, Cache-Control %q", path, ct, cc)
		}
	}
	waitReady := func(code int, what string) {
		t.Helper()
		testutil.Eventually(t, 20*time.Second, func() bool {
			c, _, _ := get(t, base+"/readyz")
			return c == code
		}, "/readyz never answered %d (%s)", code, what)
	}
	expect("/healthz", 200, "ok\n")
	expect("/readyz", 200, "ok\n")

	redisProxy.Down.Store(true)
	redisProxy.Cut()
	waitReady(503, "Redis down")
	expect("/readyz", 503, "bus unavailable\n")
	expect("/healthz", 200, "ok\n") // liveness does not depend on Redis
	redisProxy.Down.Store(false)
	waitReady(200, "Redis back")

	pgProxy.Down.Store(true)
	pgProxy.Cut()
	waitReady(503, "PostgreSQL down")
	expect("/readyz", 503, "store unavailable\n")
	expect("/healthz", 200, "ok\n")
	// Chat traffic meanwhile fails, and the store's errors are counted.
	sess, err := a.Service().Connect(context.Background(), chat.ConnectParams{Nickname: "probe", Sink: discardSink{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Join(context.Background(), "nowhere", chat.JoinOptions{}); err == nil {
		t.Fatal("join with the store down succeeded")
	}
	sess.Disconnect("test")
	if got := scrape(t, base+"/metrics").get(t, `banter_store_errors_total{operation="last_seq"}`); got < 1 {
		t.Errorf("store errors counted: %v", got)
	}
	pgProxy.Down.Store(false)
	waitReady(200, "PostgreSQL back")
}

type discardSink struct{}

func (discardSink) Deliver(*chat.Event) {}

// TestClusterMetrics: two nodes on one store and one Redis; a message
// sent on one reaches a user of the other through the bus, which both
// count, and the receiver observes the bus lag.
func TestClusterMetrics(t *testing.T) {
	storeURL, redisURL := clusterURLs(t, "", "")
	urlA, _ := serveApp(t, app.Config{StoreURL: storeURL, RedisURL: redisURL})
	urlB, b := serveApp(t, app.Config{StoreURL: storeURL, RedisURL: redisURL})
	e0 := scrape(t, urlB+"/metrics")
	checkFamilies(t, e0, clusterFamilies, true)
	checkFamilies(t, e0, wantFamilies, true)
	if got := e0.get(t, "banter_bus_lag_seconds_count"); got != 0 {
		t.Fatalf("bus lag observed %v times before any traffic", got)
	}

	alice := dialChat(t, urlA, "alice", []string{"lobby"}, "websocket")
	bob := dialChat(t, urlB, "bob", []string{"lobby"}, "websocket")
	testutil.Eventually(t, 10*time.Second, func() bool {
		members, _ := b.Service().Members("lobby") // cluster-wide: alice and bob
		return slices.Contains(members, "bob") && slices.Contains(members, "alice")
	}, "alice and bob in lobby, seen from node B")
	// Node B's Redis subscriptions follow its users asynchronously: the
	// users topic and the default room (the classic dialect's watcher)
	// from the start, then bob's DM topic and the room.
	testutil.Eventually(t, 10*time.Second, func() bool {
		return scrape(t, urlB+"/metrics").get(t, "banter_bus_subscriptions") == 4
	}, "node B never subscribed to lobby")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := alice.Send(ctx, "lobby", "over the bus"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return len(bob.received()) == 1 }, "bob got %v", bob.received())

	ea, eb := scrape(t, urlA+"/metrics"), scrape(t, urlB+"/metrics")
	if ea.get(t, "banter_bus_published_total") < 1 || eb.get(t, "banter_bus_received_total") < 1 {
		t.Errorf("published on A %v, received on B %v", ea.get(t, "banter_bus_published_total"), eb.get(t, "banter_bus_received_total"))
	}
	if eb.get(t, "banter_bus_lag_seconds_count") < 1 {
		t.Error("node B observed no bus lag")
	}
	if got := eb.get(t, `banter_bus_lag_seconds_bucket{le="+Inf"}`); got != eb.get(t, "banter_bus_lag_seconds_count") {
		t.Errorf("lag histogram +Inf bucket %v != count", got)
	}
}
