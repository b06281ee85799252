package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHistQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 500}, {0.9, 900}, {0.99, 990}, {1, 1000}} {
		got := h.quantile(c.q)
		if math.Abs(got-c.want)/c.want > 0.02 {
			t.Errorf("q%.2f = %.1f ms, want %.0f ±2%%", c.q, got, c.want)
		}
	}
	if !math.IsNaN(new(hist).quantile(0.5)) {
		t.Error("empty histogram quantile is not NaN")
	}
	// Bucket bounds are increasing and each value falls under its bound.
	for us := int64(0); us < 1<<22; us = us*5/4 + 1 {
		i := histIndex(us)
		if histValue(i) < us || (i > 0 && histValue(i-1) >= us) {
			t.Fatalf("value %d µs in bucket %d bounded by %d (previous %d)", us, i, histValue(i), histValue(i-1))
		}
	}
}

func result(scenario, server string, run int, params, metrics map[string]float64) string {
	b, _ := json.Marshal(Result{Scenario: scenario, Server: server, Run: run, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Params: params, Metrics: metrics, Load1: 1})
	return string(b)
}

func TestReportTargetsAndPlots(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for run, f := range []float64{0.9, 1, 1.1} {
		lines = append(lines,
			result("idle", "banter", run+1, map[string]float64{"connections": 19000}, map[string]float64{"bytes_per_conn": 2000 * f, "rss_after_mb": 50}),
			result("idle", "node", run+1, map[string]float64{"connections": 19000}, map[string]float64{"bytes_per_conn": 15000 * f, "rss_after_mb": 300}),
			result("fanout", "banter", run+1, map[string]float64{"offered_deliveries_s": 100000}, map[string]float64{"cpu_us_per_delivery": 3 * f, "deliveries_s": 1e5, "latency_p99_ms": 20}),
			result("fanout", "node", run+1, map[string]float64{"offered_deliveries_s": 100000}, map[string]float64{"cpu_us_per_delivery": 7.5 * f, "deliveries_s": 1e5, "latency_p99_ms": 30}),
		)
	}
	res := filepath.Join(dir, "r.jsonl")
	if err := os.WriteFile(res, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "b.md")
	plots := filepath.Join(dir, "plots")
	err := Main(context.Background(), []string{"report", "--results", res, "--out", out, "--plots", plots, "--notes", ""}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(out)
	for _, want := range []string{
		"| RSS per idle connection at 19000 ≤ 1/6 of Node's (and ≤ 2.5 KB) | 2000 (1800–2200) | 15000 (13500–16500) | 0.13 | **met** |",
		"| server CPU µs per delivery ≤ 1/3 of Node's at 100000 offered deliveries/s | 3 (2.70–3.30) | 7.50 (6.75–8.25) | 0.40 | **not met** |",
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	for _, name := range []string{"memory.svg", "latency.svg", "cpu.svg"} {
		b, err := os.ReadFile(filepath.Join(plots, name))
		if err != nil {
			t.Fatal(err)
		}
		d := xml.NewDecoder(bytes.NewReader(b))
		for {
			_, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s is not well-formed XML: %v", name, err)
			}
		}
	}
}

func TestReportRejectsBadResults(t *testing.T) {
	dir := t.TempDir()
	res := filepath.Join(dir, "r.jsonl")
	if err := os.WriteFile(res, []byte("{\"scenario\":\"idle\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Main(context.Background(), []string{"report", "--results", res, "--out", filepath.Join(dir, "x.md")}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "r.jsonl:1") {
		t.Fatalf("err = %v, want the bad line named", err)
	}
}

func TestMainUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"nope"},
		{"fanout", "--rate", "0"},
		{"fanout", "--addr", "10.0.0.1:80"},
		{"idle", "--n", "0"},
		{"echo", "--clients", "0"},
		{"churn", "--bogus"},
		{"idle", "extra-arg"},
		{"idle", "--nodes", "127.0.0.1:1"},
		{"idle", "--nodes", "127.0.0.1:1=x"},
		{"idle", "--nodes", "10.0.0.1:80=1"},
		{"floor", "--n", "0"},
		{"floor", "--rounds", "5000"},
	} {
		err := Main(context.Background(), args, io.Discard, io.Discard)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("%q: err = %v, want ErrUsage", args, err)
		}
	}
}

func TestProcFigures(t *testing.T) {
	if rss, err := procRSS(0); err != nil || rss <= 0 {
		t.Fatalf("own RSS = %d, %v", rss, err)
	}
	if _, err := procCPU(0); err != nil {
		t.Fatal(err)
	}
	if _, err := procRSS(1 << 30); err == nil {
		t.Fatal("no error for a missing process")
	}
}

func TestSelfCommand(t *testing.T) {
	old := os.Args
	defer func() { os.Args = old }()
	os.Args = []string{"banter", "bench", "idle", "--n", "5"}
	got, err := selfCommand([]string{"--n", "5"})
	if err != nil || len(got) != 2 || got[1] != "bench" {
		t.Fatalf("selfCommand = %q, %v", got, err)
	}
	if _, err := selfCommand([]string{"--other"}); err == nil {
		t.Fatal("args not from os.Args accepted")
	}
}

func TestParseNodes(t *testing.T) {
	c := common{addr: "127.0.0.1:3000"}
	addrs, pids, err := parseNodes("", &c)
	if err != nil || len(addrs) != 1 || addrs[0] != "127.0.0.1:3000" || len(pids) != 0 {
		t.Fatalf("no --nodes: %v %v %v", addrs, pids, err)
	}
	self := os.Getpid()
	spec := fmt.Sprintf("127.0.0.1:3001=%d, 127.0.0.1:3002=%d", self, self)
	addrs, pids, err = parseNodes(spec, &c)
	if err != nil || len(addrs) != 2 || addrs[1] != "127.0.0.1:3002" || len(pids) != 2 || pids[0] != self {
		t.Fatalf("--nodes %q: %v %v %v", spec, addrs, pids, err)
	}
	if c.addr != "127.0.0.1:3001" || c.serverPID != self {
		t.Fatalf("the first node is not the common one: %+v", c)
	}
	one, err := sumRSS(pids[:1])
	if err != nil {
		t.Fatal(err)
	}
	if two, err := sumRSS(pids); err != nil || two < 2*one-(1<<20) {
		t.Fatalf("sum of two = %d (one: %d), %v", two, one, err)
	}
}
