package bench

import (
	"bytes"
	"context"
	"encoding/json"
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
	p := appendMarkSized(nil, 7, 12345, 1733644800123456, 40)
	if len(p) != 40 {
		t.Fatalf("mark of %d bytes", len(p))
	}
	for _, wrapped := range [][]byte{p, []byte(`{"id":"x","text":"` + string(p) + `","seq":3}`)} {
		s, n, ts, ok := parseMark(wrapped)
		if !ok || s != 7 || n != 12345 || ts != 1733644800123456 {
			t.Fatalf("parseMark(%s) = %d %d %d %v", wrapped, s, n, ts, ok)
		}
	}
	for _, bad := range []string{"", "@@1.2.", "@@a.2.3.", "no mark"} {
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
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("result %q: %v", b, err)
	}
	return r
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
