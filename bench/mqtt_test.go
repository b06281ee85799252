package bench

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
	mqttgw "github.com/banter-chat/banter/gateway/mqtt"
)

func TestMQTTMarkAndPublish(t *testing.T) {
	p := appendMark(nil, 7, 12345, 1733644800123456, 40)
	if len(p) != 40 {
		t.Fatalf("mark of %d bytes", len(p))
	}
	for _, wrapped := range [][]byte{p, []byte(`{"id":"x","text":"` + string(p) + `","seq":3}`)} {
		s, n, ts, ok := parseMark(wrapped)
		if !ok || s != 7 || n != 12345 || ts != 1733644800123456 {
			t.Fatalf("parseMark(%s) = %d %d %d %v", wrapped, s, n, ts, ok)
		}
	}
	for _, bad := range []string{"", "~1~2~", "~a~2~3~", "no mark"} {
		if _, _, _, ok := parseMark([]byte(bad)); ok {
			t.Errorf("parseMark(%q) ok", bad)
		}
	}
	for _, v := range []byte{4, 5} {
		for _, qos := range []byte{0, 1} {
			pk := appendPublish(nil, v, "banter/rooms/x", qos, 513, p)
			got, gq, id, ok := publishPayload(pk[0], pk[2:], v)
			if !ok || gq != qos || !bytes.Equal(got, p) || qos == 1 && id != 513 {
				t.Fatalf("v%d qos %d: %q %d %d %v", v, qos, got, gq, id, ok)
			}
		}
	}
}

// runMQTTScenario runs an mqtt-* scenario against an in-process gateway and
// returns its result.
func runMQTTScenario(t *testing.T, args ...string) Result {
	t.Helper()
	svc, err := chat.New(chat.Config{Store: chat.NewMemStore(), RateBurst: 10000, RatePerSecond: 10000})
	if err != nil {
		t.Fatal(err)
	}
	gw, err := mqttgw.New(svc, mqttgw.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gw.Serve(ln)
	defer func() {
		_ = svc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = gw.Close(ctx)
	}()
	out := filepath.Join(t.TempDir(), "r.jsonl")
	args = append(args, "--addr", ln.Addr().String(), "--server-pid", strconv.Itoa(os.Getpid()), "--label", "banter", "--sources", "0", "--out", out)
	var stdout bytes.Buffer
	if err := Main(context.Background(), args, &stdout, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	rs, err := readResults(out)
	if err != nil || len(rs) != 1 {
		t.Fatalf("%d results, %v", len(rs), err)
	}
	return rs[0]
}

// TestMQTTScenariosRun: each scenario runs against a broker and measures
// what it says (short runs: a check that they work, not a benchmark).
func TestMQTTScenariosRun(t *testing.T) {
	r := runMQTTScenario(t, "mqtt-idle", "--n", "50", "--hold", "0s")
	if r.Metrics["connected"] != 50 || r.Metrics["failures"] != 0 || r.Metrics["connects_per_s"] <= 0 {
		t.Errorf("mqtt-idle: %v", r.Metrics)
	}
	r = runMQTTScenario(t, "mqtt-idle", "--n", "20", "--rooms", "one", "--hold", "0s", "--prefix", "one")
	if r.Metrics["connected"] != 20 || r.Params["one_room"] != 1 {
		t.Errorf("mqtt-idle --rooms one: %v %v", r.Params, r.Metrics)
	}
	for _, qos := range []string{"0", "1"} {
		r = runMQTTScenario(t, "mqtt-fanout", "--n", "20", "--publishers", "3", "--rate", "60", "--qos", qos,
			"--warmup", "200ms", "--duration", "1s", "--drain", "5s")
		if r.Metrics["sent"] < 50 || r.Metrics["lost"] != 0 || r.Metrics["duplicated"] != 0 || r.Metrics["malformed"] != 0 ||
			r.Metrics["latency_p50_ms"] <= 0 || r.Metrics["cpu_us_per_delivery"] <= 0 {
			t.Errorf("mqtt-fanout --qos %s: %v %v", qos, r.Metrics, r.Notes)
		}
		if qos == "1" && r.Metrics["publish_acked"] != r.Metrics["sent"] {
			t.Errorf("mqtt-fanout --qos 1: %v of %v publishes acknowledged", r.Metrics["publish_acked"], r.Metrics["sent"])
		}
	}
	r = runMQTTScenario(t, "mqtt-churn", "--rate", "100", "--duration", "1s", "--warmup", "20", "--settle", "0s", "--concurrency", "8")
	if r.Metrics["connects"] < 50 || r.Metrics["failures"] != 0 {
		t.Errorf("mqtt-churn: %v %v", r.Metrics, r.Notes)
	}
}

// TestMQTTUsage: bad flags are usage errors.
func TestMQTTUsage(t *testing.T) {
	for _, args := range [][]string{
		{"mqtt-idle", "--n", "0"},
		{"mqtt-idle", "--rooms", "some"},
		{"mqtt-fanout", "--qos", "2"},
		{"mqtt-fanout", "--size", "3"},
		{"mqtt-churn", "--rate", "0"},
		{"mqtt-idle", "--mqtt-version", "3"},
		{"mqtt-idle", "--addr", "10.0.0.1:1883"},
	} {
		err := Main(context.Background(), args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// TestMQTTReport: the MQTT section and its targets from results of both
// brokers; the Socket.IO tables do not see them.
func TestMQTTReport(t *testing.T) {
	var lines []string
	add := func(scenario, server string, params, metrics map[string]float64) {
		for run, f := range []float64{0.95, 1, 1.05} {
			m := map[string]float64{}
			for k, v := range metrics {
				m[k] = v * f
			}
			lines = append(lines, result(scenario, server, run+1, params, m))
		}
	}
	add("idle", "banter", map[string]float64{"connections": 1000}, map[string]float64{"bytes_per_conn": 2000})
	add("idle", "node", map[string]float64{"connections": 1000}, map[string]float64{"bytes_per_conn": 15000})
	add("mqtt-idle", "banter", map[string]float64{"clients": 5000, "one_room": 0}, map[string]float64{"bytes_per_client": 1800, "connects_per_s": 9000})
	add("mqtt-idle", "mosquitto", map[string]float64{"clients": 5000, "one_room": 0}, map[string]float64{"bytes_per_client": 1000, "connects_per_s": 8000})
	add("mqtt-fanout", "banter", map[string]float64{"offered_deliveries_s": 30000, "qos": 0}, map[string]float64{"deliveries_s": 30000, "cpu_us_per_delivery": 6, "latency_p99_ms": 30})
	add("mqtt-fanout", "mosquitto", map[string]float64{"offered_deliveries_s": 30000, "qos": 0}, map[string]float64{"deliveries_s": 30000, "cpu_us_per_delivery": 12, "latency_p99_ms": 20})
	add("mqtt-fanout", "banter", map[string]float64{"offered_deliveries_s": 200000, "qos": 0}, map[string]float64{"deliveries_s": 199000, "latency_p99_ms": 60})
	add("mqtt-fanout", "mosquitto", map[string]float64{"offered_deliveries_s": 200000, "qos": 0}, map[string]float64{"deliveries_s": 50000, "latency_p99_ms": 4000})
	add("mqtt-fanout", "banter", map[string]float64{"offered_deliveries_s": 30000, "qos": 1}, map[string]float64{"deliveries_s": 30000, "lost": 0})
	add("mqtt-fanout", "mosquitto", map[string]float64{"offered_deliveries_s": 30000, "qos": 1}, map[string]float64{"deliveries_s": 30000, "lost": 0})
	dir := t.TempDir()
	res := filepath.Join(dir, "r.jsonl")
	if err := os.WriteFile(res, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "b.md")
	if err := Main(context.Background(), []string{"report", "--results", res, "--out", page, "--plots", dir, "--notes", ""}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(page)
	md := string(b)
	for _, want := range []string{
		"## MQTT: Banter against Mosquitto",
		"| RSS per idle client at 5000 (a room each) ≤ 2× Mosquitto's | 1800 (1710–1890) | 1000 (950–1050) | 1.80 | **met** |",
		"connect + subscribe rate, 5000 clients into a room each, ≥ Mosquitto's (clients/s) | 9000 (8550–9450) | 8000 (7600–8400) | 1.12 | **met** |",
		"| QoS 0 fan-out at 30,000 deliveries/s: server CPU µs per delivery ≤ 2/3 of Mosquitto's | 6 (5.70–6.30) | 12 (11.40–12.60) | 0.50 | **met** |",
		"| … with latency p99 ≤ 2× Mosquitto's (ms) | 30 (28.50–31.50) | 20 (19–21) | 1.50 | **met** |",
		"≥ 2× Mosquitto's saturation deliveries/s (any latency) | 199000 (189050–208950) | 50000 (47500–52500) | 3.98 | **met** |",
		"| QoS 1 fan-out at 30000 deliveries/s: nothing lost | 0 | 0 | – | **met** |",
		"mqtt-latency.svg",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The Socket.IO tables list banter and node only.
	if i := strings.Index(md, "## Idle connections"); i < 0 || strings.Contains(md[i:i+300], "mosquitto") {
		t.Errorf("Socket.IO idle table mentions mosquitto")
	}
	for _, f := range []string{"mqtt-latency.svg", "mqtt-cpu.svg", "mqtt-memory.svg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("plot %s: %v", f, err)
		}
	}
}
