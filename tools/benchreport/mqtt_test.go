package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMQTTReport: the MQTT tables and issue 18's targets from results of
// both brokers; the Socket.IO tables do not see them.
func TestMQTTReport(t *testing.T) {
	var lines []string
	add := func(scenario, server string, params, metrics map[string]float64) {
		for run, f := range []float64{0.95, 1, 1.05} {
			m := map[string]float64{}
			for k, v := range metrics {
				m[k] = v * f
			}
			lines = append(lines, result(scenario, server, "", "", run+1, params, m))
		}
	}
	add("idle", "banter", map[string]float64{"connections": 1000}, map[string]float64{"bytes_per_conn": 2000})
	add("idle", "node", map[string]float64{"connections": 1000}, map[string]float64{"bytes_per_conn": 15000})
	add("mqtt-idle", "banter", map[string]float64{"clients": 5000, "one_room": 0}, map[string]float64{"bytes_per_client": 1800, "connects_per_s": 9000})
	add("mqtt-idle", "mosquitto", map[string]float64{"clients": 5000, "one_room": 0}, map[string]float64{"bytes_per_client": 1000, "connects_per_s": 8000})
	add("mqtt-idle", "banter", map[string]float64{"clients": 5000, "one_room": 1}, map[string]float64{"bytes_per_client": 1900, "connects_per_s": 7000})
	add("mqtt-idle", "mosquitto", map[string]float64{"clients": 5000, "one_room": 1}, map[string]float64{"bytes_per_client": 900, "connects_per_s": 8000})
	add("mqtt-fanout", "banter", map[string]float64{"offered_deliveries_s": 30000, "qos": 0}, map[string]float64{"deliveries_s": 30000, "cpu_us_per_delivery": 6, "latency_p99_ms": 30})
	add("mqtt-fanout", "mosquitto", map[string]float64{"offered_deliveries_s": 30000, "qos": 0}, map[string]float64{"deliveries_s": 30000, "cpu_us_per_delivery": 12, "latency_p99_ms": 20})
	add("mqtt-fanout", "banter", map[string]float64{"offered_deliveries_s": 200000, "qos": 0}, map[string]float64{"deliveries_s": 199000, "latency_p99_ms": 60})
	add("mqtt-fanout", "mosquitto", map[string]float64{"offered_deliveries_s": 200000, "qos": 0}, map[string]float64{"deliveries_s": 50000, "latency_p99_ms": 4000})
	add("mqtt-fanout", "banter", map[string]float64{"offered_deliveries_s": 30000, "qos": 1}, map[string]float64{"deliveries_s": 30000, "lost": 0})
	add("mqtt-fanout", "mosquitto", map[string]float64{"offered_deliveries_s": 30000, "qos": 1}, map[string]float64{"deliveries_s": 30000, "lost": 0})
	add("mqtt-churn", "banter", map[string]float64{"rate": 2000}, map[string]float64{"connects_s": 1900})
	add("mqtt-churn", "mosquitto", map[string]float64{"rate": 2000}, map[string]float64{"connects_s": 2000})
	dir := t.TempDir()
	res := filepath.Join(dir, "r.jsonl")
	if err := os.WriteFile(res, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "b.md")
	if err := run(context.Background(), []string{"--results", res, "--out", page, "--plots", dir, "--notes", ""}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(page)
	md := string(b)
	for _, want := range []string{
		"## MQTT: Banter against Mosquitto",
		"| MQTT: RSS per idle client at 5000 (a room each) ≤ 2× Mosquitto's | 1800 (1710–1890) | mosquitto 1000 (950–1050) | 1.80 | **met** |",
		"| MQTT: connect + subscribe rate, 5000 clients into a room each, ≥ Mosquitto's (clients/s) | 9000 (8550–9450) | mosquitto 8000 (7600–8400) | 1.12 | **met** |",
		"| MQTT: connect + subscribe rate, 5000 clients into one room, ≥ Mosquitto's (clients/s) | 7000 (6650–7350) | mosquitto 8000 (7600–8400) | 0.88 | **not met** |",
		"| MQTT QoS 0 fan-out at 30,000 deliveries/s: CPU µs per delivery ≤ 2/3 of Mosquitto's (p99: 30 (28.50–31.50) ms, Mosquitto 20 (19–21)) | 6 (5.70–6.30) | mosquitto 12 (11.40–12.60) | 0.50 | **met** |",
		"| MQTT QoS 0 fan-out at 30,000 deliveries/s: latency p99 ≤ 2× Mosquitto's (ms) | 30 (28.50–31.50) | mosquitto 20 (19–21) | 1.50 | **met** |",
		"≥ 2× Mosquitto's saturation (any latency) | 199000 (189050–208950) | mosquitto 50000 (47500–52500) | 3.98 | **met** |",
		"| MQTT QoS 1 fan-out (persistent sessions) at 30000 deliveries/s: nothing lost | 0 | mosquitto 0 | – | **met** |",
		"## MQTT: idle clients, a room each",
		"| clients | metric | banter | mosquitto | banter/mosquitto |",
		"| 5000 | server RSS bytes per client | 1800 (1710–1890) | 1000 (950–1050) | 1.80 |",
		"## MQTT: idle clients, all in one room",
		"## MQTT: QoS 0 fan-out to the subscribers of one room",
		"## MQTT: QoS 1 fan-out, persistent sessions",
		"## MQTT: connect + subscribe + disconnect churn",
		"mqtt-latency.svg",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The Socket.IO tables list banter and node only.
	if i := strings.Index(md, "## Idle connections"); i < 0 || strings.Contains(md[i:i+400], "mosquitto") {
		t.Errorf("Socket.IO idle table missing or mentions mosquitto")
	}
	for _, f := range []string{"mqtt-latency.svg", "mqtt-cpu.svg", "mqtt-memory.svg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("plot %s: %v", f, err)
		}
	}
}

// TestMQTTReportAbsent: without MQTT results the page has no MQTT section
// and no MQTT plots.
func TestMQTTReportAbsent(t *testing.T) {
	dir := t.TempDir()
	res := filepath.Join(dir, "r.jsonl")
	line := result("idle", "banter", "", "", 1, map[string]float64{"connections": 1000}, map[string]float64{"bytes_per_conn": 2000})
	if err := os.WriteFile(res, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "b.md")
	if err := run(context.Background(), []string{"--results", res, "--out", page, "--plots", dir, "--notes", ""}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(page)
	if strings.Contains(string(b), "MQTT") {
		t.Errorf("page without MQTT results mentions MQTT:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "mqtt-cpu.svg")); err == nil {
		t.Errorf("MQTT plot written without MQTT results")
	}
}
