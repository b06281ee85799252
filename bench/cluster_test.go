package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/apptest"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestClusterUsageErrors(t *testing.T) {
	self := os.Getpid()
	two := fmt.Sprintf("127.0.0.1:1=%d,127.0.0.1:2=%d", self, self)
	for _, args := range [][]string{
		{"cluster", "--sender-nodes", "0"},
		{"cluster", "--sender-nodes", "2"}, // one node
		{"cluster", "--nodes", two, "--sender-nodes", "3"},
		{"cluster", "--nodes", two, "--n", "10", "--senders", "10"}, // no receivers for node 2
		{"cluster", "--n", "0"},
		{"cluster", "--rate", "-1"},
		{"cluster", "--nodes", "10.0.0.1:80=1"},
		{"cluster", "--redis", "http://x"},
		{"cluster", "--shape", "sync"},
		{"cluster", "--postgres", "postgres://127.0.0.1/test"}, // no application_name: its backends cannot be found
	} {
		err := Main(context.Background(), args, io.Discard, io.Discard)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("%q: err = %v, want ErrUsage", args, err)
		}
	}
}

// A histogram scraped twice: the difference, its sum over nodes and its
// quantiles as Prometheus's histogram_quantile computes them.
func TestPromHist(t *testing.T) {
	text := func(b1, b2, b3, inf float64, sum float64) string {
		return fmt.Sprintf(`# TYPE banter_bus_lag_seconds histogram
banter_bus_lag_seconds_bucket{le="0.001"} %v
banter_bus_lag_seconds_bucket{le="0.002"} %v
banter_bus_lag_seconds_bucket{le="0.004"} %v
banter_bus_lag_seconds_bucket{le="+Inf"} %v
banter_bus_lag_seconds_sum %v
banter_bus_lag_seconds_count %v
# TYPE banter_store_operation_duration_seconds histogram
banter_store_operation_duration_seconds_bucket{operation="history",le="0.001"} 7
banter_store_operation_duration_seconds_bucket{operation="history",le="+Inf"} 7
banter_store_operation_duration_seconds_sum{operation="history"} 0.001
banter_store_operation_duration_seconds_count{operation="history"} 7
banter_store_operation_duration_seconds_bucket{operation="append",le="0.001"} %v
banter_store_operation_duration_seconds_bucket{operation="append",le="+Inf"} %v
banter_store_operation_duration_seconds_sum{operation="append"} %v
banter_store_operation_duration_seconds_count{operation="append"} %v
# TYPE banter_chat_messages_stored_total counter
banter_chat_messages_stored_total %v
`, b1, b2, b3, inf, sum, inf, b1, inf, sum, inf, inf)
	}
	parse := func(s string) nodeMetrics {
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		return parseNodeMetrics(fams)
	}
	before := []nodeMetrics{parse(text(5, 5, 5, 5, 0.001)), parse(text(0, 0, 0, 0, 0))}
	// Node 1: 100 more, all between 1 and 2 ms; node 2: 100, 2 to 4 ms.
	after := []nodeMetrics{parse(text(5, 105, 105, 105, 0.151)), parse(text(0, 0, 100, 100, 0.3))}
	d := sumNodeMetrics(before, after)
	if got := d.counters["banter_chat_messages_stored_total"]; got != 200 {
		t.Fatalf("stored: %v, want 200", got)
	}
	h := d.hists["bus_lag"]
	if h.count != 200 || math.Abs(h.sum-0.45) > 1e-9 {
		t.Fatalf("lag: count %v sum %v", h.count, h.sum)
	}
	for _, c := range []struct{ q, want float64 }{{0.25, 0.0015}, {0.5, 0.002}, {0.75, 0.003}, {1, 0.004}} {
		if got := h.quantile(c.q); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("q%v = %v, want %v", c.q, got, c.want)
		}
	}
	m := map[string]float64{}
	d.addTo(m, 2*time.Second)
	if m["store_appends_s"] != 100 || math.Abs(m["bus_lag_mean_ms"]-2.25) > 1e-9 || m["bus_lag_p50_ms"] != 2 {
		t.Fatalf("figures: %v", m)
	}
	if _, ok := m["append_p50_ms"]; !ok {
		t.Fatalf("no append figures (the append series, not history's): %v", m)
	}
	if !math.IsNaN((promHist{}).quantile(0.5)) {
		t.Fatal("quantile of an empty histogram is not NaN")
	}
}

// freshClusterBackends returns a fresh schema's store URL and a fresh
// prefix's Redis URL, both removed when the test ends.
func freshClusterBackends(t *testing.T) (storeURL, redisURL string) {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	schema := "banter_bench_" + id
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, testutil.PostgresURL())
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	prefix := "banter-test-" + id + ":"
	testutil.DeleteRedisKeysAtCleanup(t, testutil.RedisURL(), prefix)
	sep := "?"
	if strings.Contains(testutil.PostgresURL(), "?") {
		sep = "&"
	}
	return testutil.PostgresURL() + sep + "search_path=" + schema + "&application_name=" + schema,
		testutil.RedisURL() + "?prefix=" + url.QueryEscape(prefix)
}

// The cluster scenario against two real nodes (in this process) on the
// machine's PostgreSQL and Redis: every message reaches every connection of
// both nodes once, the deliveries to the node without senders are counted
// as remote, and the store, bus and Redis figures are read.
func TestClusterScenario(t *testing.T) {
	storeURL, redisURL := freshClusterBackends(t)
	var nodes []string
	for range 2 {
		u, _ := apptest.Serve(t, app.Config{StoreURL: storeURL, RedisURL: redisURL,
			ClusterHeartbeat: 500 * time.Millisecond})
		nodes = append(nodes, fmt.Sprintf("%s=%d", strings.TrimPrefix(u, "http://"), os.Getpid()))
	}
	var out bytes.Buffer
	err := Main(context.Background(), []string{"cluster", "--nodes", strings.Join(nodes, ","),
		"--redis", testutil.RedisURL(), "--postgres", storeURL, "--n", "20", "--senders", "4", "--rate", "8",
		"--warmup", "500ms", "--duration", "1500ms", "--drain", "5s"}, &out, io.Discard)
	if err != nil {
		t.Fatalf("bench cluster: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var r Result
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last line: %v\n%s", err, out.String())
	}
	m := r.Metrics
	if r.Scenario != "cluster" || r.Params["nodes"] != 2 || m["sent"] < 8 || m["lost"] != 0 || m["duplicated"] != 0 || m["refused"] != 0 {
		t.Fatalf("result: %s", lines[len(lines)-1])
	}
	for _, k := range []string{"remote_latency_p99_ms", "local_latency_p99_ms", "node1_cpu_us_per_delivery", "node2_deliveries_s",
		"store_appends_s", "append_p50_ms", "bus_lag_p50_ms", "bus_published_s", "redis_cpu", "redis_publish_s", "postgres_cpu_us_per_append"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %s in %s", k, lines[len(lines)-1])
		}
	}
	// Every message published once (the sender's node) and received by
	// the other node.
	if m["bus_received_s"] < m["bus_published_s"]*0.5 {
		t.Errorf("bus: published %v/s, received %v/s", m["bus_published_s"], m["bus_received_s"])
	}
}
