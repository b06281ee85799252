package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/bench"
)

func result(scenario, server, shape, dialect string, run int, params, metrics map[string]float64) string {
	b, _ := json.Marshal(bench.Result{Scenario: scenario, Server: server, Shape: shape, Dialect: dialect, Run: run,
		Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Params: params, Metrics: metrics, Load1: 1})
	return string(b)
}

func TestReportTargetsTablesAndPlots(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	od := func(v float64) map[string]float64 {
		return map[string]float64{"offered_deliveries_s": v, "receivers": 1000}
	}
	for run, f := range []float64{0.9, 1, 1.1} {
		lines = append(lines,
			result("idle", "engine", "", "", run+1, map[string]float64{"connections": 15000}, map[string]float64{"bytes_per_conn": 2000 * f, "rss_after_mb": 50}),
			result("idle", "banter", "", "", run+1, map[string]float64{"connections": 15000}, map[string]float64{"bytes_per_conn": 2400 * f, "rss_after_mb": 60}),
			result("idle", "node", "", "", run+1, map[string]float64{"connections": 15000}, map[string]float64{"bytes_per_conn": 15000 * f, "rss_after_mb": 300}),
			result("fanout", "banter", "poisson", "chat-message", run+1, od(100000), map[string]float64{"cpu_us_per_delivery": 3 * f, "deliveries_s": 1e5, "latency_p99_ms": 45}),
			result("fanout", "node", "poisson", "chat-message", run+1, od(100000), map[string]float64{"cpu_us_per_delivery": 10 * f, "deliveries_s": 6e4, "latency_p99_ms": 3000}),
			result("fanout", "engine", "burst", "chat-message", run+1, od(100000), map[string]float64{"cpu_us_per_delivery": 2.3 * f, "deliveries_s": 1e5, "latency_p99_ms": 30}),
			result("joinstorm", "banter", "", "sio", run+1, map[string]float64{"users": 10000, "room": 1}, map[string]float64{"joined_s": 3 * f, "presence_events": 1000}),
			result("joinstorm", "banter", "", "sio", run+1, map[string]float64{"users": 10000, "room": 0}, map[string]float64{"joined_s": 2.5 * f}),
		)
	}
	res := filepath.Join(dir, "r.jsonl")
	if err := os.WriteFile(res, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "b.md")
	plots := filepath.Join(dir, "plots")
	if err := run(context.Background(), []string{"--results", res, "--out", out, "--plots", plots, "--notes", ""}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(out)
	for _, want := range []string{
		"| poisson senders, 100k deliveries/s to 1,000: banter CPU µs per delivery ≤ 1/2 of Node's, with p99 ≤ 50 ms (p99: 45) | 3 (2.70–3.30) | node 10 (9–11) | 0.30 | **met** |",
		"| RSS per idle connection at 15000: the shipped banter ≤ 1.1× its engine's | 2400 (2160–2640) | engine 2000 (1800–2200) | 1.20 | **not met** |",
		"| 10000 users into one room over sio ≤ 1.5× as long as into none",
		"| 3 (2.70–3.30) s | no room 2.50 (2.25–2.75) s | 1.20 | **met** |",
		"synchronized senders, 100000 deliveries/s: engine no worse than on 2026-11-26",
		"## Fan-out, senders independent (Poisson arrivals)",
		"| offered deliveries/s | metric | banter | node | banter/node |",
		"| sio | 10000 | 3 (2.70–3.30) | 2.50 (2.25–2.75) | 1.20 |",
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

func TestReportRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	res := filepath.Join(dir, "r.jsonl")
	if err := os.WriteFile(res, []byte("{\"scenario\":\"idle\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"--results", res, "--out", filepath.Join(dir, "x.md")}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "r.jsonl:1") {
		t.Fatalf("err = %v, want the bad line named", err)
	}
	if err := run(context.Background(), []string{"stray"}, io.Discard, io.Discard); !errors.Is(err, errUsage) {
		t.Fatalf("stray argument: %v", err)
	}
}

// The cluster block: one column per deployment in a fixed order, ratios to
// the single node, the per-node table and the latency target.
func TestReportCluster(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	p := map[string]float64{"offered_deliveries_s": 100000, "receivers": 1000}
	for run, f := range []float64{0.9, 1, 1.1} {
		pg := map[string]float64{"nodes": 1}
		c3 := map[string]float64{"nodes": 3}
		for k, v := range p {
			pg[k], c3[k] = v, v
		}
		lines = append(lines,
			result("cluster", "cluster-3", "poisson", "v1", run+1, c3, map[string]float64{"latency_p99_ms": 50 * f, "remote_latency_p99_ms": 52 * f, "cpu_us_per_delivery": 4 * f,
				"node1_cpu_us_per_delivery": 8 * f, "node1_deliveries_s": 2e4, "node2_cpu_us_per_delivery": 3, "node3_cpu_us_per_delivery": 3.5, "bus_lag_p50_ms": 1}),
			result("cluster", "banter-pg", "poisson", "v1", run+1, pg, map[string]float64{"latency_p99_ms": 44 * f, "cpu_us_per_delivery": 2.5 * f}),
			result("cluster", "banter", "poisson", "v1", run+1, pg, map[string]float64{"latency_p99_ms": 40 * f, "cpu_us_per_delivery": 2 * f}),
		)
	}
	res := filepath.Join(dir, "r.jsonl")
	if err := os.WriteFile(res, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "b.md")
	if err := run(context.Background(), []string{"--results", res, "--out", out, "--plots", filepath.Join(dir, "plots"), "--notes", ""}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(out)
	for _, want := range []string{
		"## Cluster: one room across nodes",
		"| offered deliveries/s | metric | banter | banter-pg | cluster-3 | banter-pg/banter | cluster-3/banter |",
		"| 100000 | deliveries/s |",
		"|  | latency p99 ms | 40 (36–44) | 44 (39.60–48.40) | 50 (45–55.00) | 1.10 | 1.25 |",
		"| 100000 | 1 | 20000 | – | 8 (7.20–8.80) |",
		"|  | 3 | – | – | 3.50 |",
		"| 100000 deliveries/s to 1,000 in one room: banter-pg p99 ≤ 1.2× the single node's (ms) | 44 (39.60–48.40) | banter 40 (36–44) | 1.10 | **met** |",
		"| 100000 deliveries/s to 1,000 in one room: cluster-3 p99 ≤ 1.2× the single node's (ms) | 50 (45–55.00) | banter 40 (36–44) | 1.25 | **not met** |",
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
}

func TestReportXMPP(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for run, f := range []float64{0.9, 1, 1.1} {
		for _, s := range []struct {
			server           string
			plain, tls, rate float64
		}{{"banter", 3000, 5000, 800}, {"prosody", 34000, 47000, 200}} {
			lines = append(lines,
				result("xmpp-idle", s.server, "", "", run+1, map[string]float64{"connections": 2000, "tls": 0}, map[string]float64{"bytes_per_conn": s.plain * f}),
				result("xmpp-idle", s.server, "", "", run+1, map[string]float64{"connections": 2000, "tls": 1}, map[string]float64{"bytes_per_conn": s.tls * f}),
				result("xmpp-logins", s.server, "", "", run+1, map[string]float64{"concurrency": 16, "tls": 1}, map[string]float64{"logins_per_s": s.rate * f, "server_cpu_us_per_login": 1e6 / s.rate}),
				result("xmpp-logins", s.server, "", "", run+1, map[string]float64{"concurrency": 16, "tls": 1, "ecdsa": 1}, map[string]float64{"logins_per_s": 2 * s.rate * f}),
				result("xmpp-fanout", s.server, "", "", run+1, map[string]float64{"rate": 100, "receivers": 1000}, map[string]float64{"deliveries_per_cpu_s": 1e6 / s.rate * f}),
				result("xmpp-logins", s.server, "", "", run+1, map[string]float64{"concurrency": 16, "tls": 1, "resume": 1}, map[string]float64{"logins_per_s": 3 * s.rate, "logins": 100, "tls_resumed": 100 * (s.rate - 200) / 600}),
			)
		}
	}
	res := filepath.Join(dir, "r.jsonl")
	if err := os.WriteFile(res, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "b.md")
	if err := run(context.Background(), []string{"--results", res, "--out", out, "--plots", filepath.Join(dir, "p"), "--notes", ""}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(out)
	for _, want := range []string{
		"| XMPP, 2000 idle authenticated connections over plain TCP: RSS per connection ≤ 4 KB | 3000 (2700–3300) | prosody 34000 (30600–37400) | 0.09 | **met** |",
		"| XMPP, 2000 idle authenticated connections over STARTTLS, RSA-2048: RSS per connection ≤ 1/4 of prosody's | 5000 (4500–5500) | prosody 47000 (42300–51700) | 0.11 | **met** |",
		"| XMPP logins/s over STARTTLS, RSA-2048 (16 clients) ≥ 4× prosody's (server CPU µs per login: banter 1250, prosody 5000: 4.00× the logins per server CPU-second) | 800 (720–880) | prosody 200 (180–220) | 4.00 | **met** |",
		"| XMPP logins/s over STARTTLS, ECDSA P-256 (16 clients) ≥ 4× prosody's",
		"| XMPP MUC fan-out: deliveries per server CPU-second ≥ 3× prosody's at every step (least favourable: 100 msgs/s) |",
		"## XMPP: banter against prosody",
		"| STARTTLS, ECDSA P-256 | 16 | 1600 (1440–1760) | 400 (360–440) | 4.00 |",
		"### XMPP: MUC fan-out",
		"| STARTTLS, RSA-2048, TLS session resumed | 16 | 2400 | 600 | 4.00 | – | – | – | – | – | 100%, 0% |",
		"|  | deliveries per server CPU-second | 1250 (1125–1375) | 5000 (4500–5500) | 0.25 |",
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(string(page), "TLS session resumed (16 clients) ≥ 4×") {
		t.Error("resumed logins judged against the goal, which is stated for full handshakes")
	}
}
