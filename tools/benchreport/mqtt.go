package main

import (
	"fmt"
	"strings"

	"github.com/banter-chat/banter/bench"
)

// The MQTT part of the page: the shipped banter's MQTT gateway next to
// Debian's Mosquitto (the mqtt-* scenarios, scripts/bench.sh's mqtt block).
// Its tables are ordinary tables (tableMarkdown) with Mosquitto as the
// reference; issue 18's targets are in targets.go.

// mqttKey names the table of an mqtt-* result (false: not one).
func mqttKey(r *bench.Result) (string, bool) {
	switch r.Scenario {
	case "mqtt-idle":
		if r.Params["one_room"] == 1 {
			return "mqtt-idle/one", true
		}
		return "mqtt-idle/each", true
	case "mqtt-fanout":
		return fmt.Sprintf("mqtt-fanout/qos%d", int(r.Params["qos"])), true
	case "mqtt-churn":
		return r.Scenario, true
	}
	return "", false
}

var mqttIdleColumns = []column{
	{"bytes_per_client", "server RSS bytes per client", true}, {"rss_after_mb", "server RSS MiB", true},
	{"connect_seconds", "connect + subscribe all, s", true}, {"connects_per_s", "clients connected and subscribed per s", true},
	{"cpu_us_per_connect", "server CPU µs per client", true}, {"connect_p99_ms", "connect + subscribe p99 ms", false},
	{"failures", "failures", false}}

var mqttFanoutColumns = []column{
	{"deliveries_s", "deliveries/s", true}, {"cpu_us_per_delivery", "server CPU µs per delivery", true},
	{"deliveries_per_write", "deliveries per write()", true}, {"server_cpu", "server CPU (cores)", false},
	{"latency_p50_ms", "latency p50 ms", false}, {"latency_p99_ms", "latency p99 ms", true},
	{"latency_max_ms", "latency max ms", false}, {"lost", "lost", false}, {"duplicated", "duplicated", false}}

const mqttFanoutIntro = "1,000 subscribers of `banter/rooms/fanout`; publishers (connections of their own) send 1/2 message per second each (at least 10 publishers), their sends evenly interleaved (one every 1/R s in all), never in synchronized bursts. Latency is from the publisher's write to the subscriber's read; CPU µs per delivery = broker CPU / messages delivered in the window."

var mqttTables = []table{
	{key: "mqtt-idle/each", title: "MQTT: idle clients, a room each", param: "clients", stepTitle: "clients", base: "mosquitto",
		intro: "N MQTT 3.1.1 clients connect (clean session, keepalive 60 s) and subscribe at QoS 0 to a room of their own, then stay idle. Bytes per client = (broker RSS after the hold − before) / N.",
		cols:  mqttIdleColumns},
	{key: "mqtt-idle/one", title: "MQTT: idle clients, all in one room", param: "clients", stepTitle: "clients", base: "mosquitto",
		intro: "As above, every client subscribing to the same room.", cols: mqttIdleColumns},
	{key: "mqtt-fanout/qos0", title: "MQTT: QoS 0 fan-out to the subscribers of one room", param: "offered_deliveries_s", stepTitle: "offered deliveries/s", base: "mosquitto",
		intro: mqttFanoutIntro, cols: mqttFanoutColumns},
	{key: "mqtt-fanout/qos1", title: "MQTT: QoS 1 fan-out, persistent sessions", param: "offered_deliveries_s", stepTitle: "offered deliveries/s", base: "mosquitto",
		intro: "As above at QoS 1: subscribers with persistent sessions (clean session off) acknowledge every message; publishers publish at QoS 1.", cols: mqttFanoutColumns},
	{key: "mqtt-churn", title: "MQTT: connect + subscribe + disconnect churn", param: "rate", stepTitle: "offered connects/s", base: "mosquitto",
		intro: "Clients connect, subscribe, disconnect, as fast as offered; RSS before and after.",
		cols: []column{{"connects_s", "connects/s", true}, {"cpu_us_per_connect", "server CPU µs per connect", true},
			{"failures", "failures", false}, {"connect_p99_ms", "connect p99 ms", false},
			{"rss_before_mb", "RSS before MiB", false}, {"rss_after_mb", "RSS after MiB", false}, {"rss_after_ratio", "RSS after/before", false}}},
}

// mqttSection renders the MQTT part of the page ("" without MQTT results).
func (r *report) mqttSection(plots string) string {
	var tables strings.Builder
	for _, t := range mqttTables {
		tables.WriteString(r.tableMarkdown(t))
	}
	if tables.Len() == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("## MQTT: Banter against Mosquitto\n\n")
	b.WriteString("- **banter** is the shipped `banter` with its defaults and `--mqtt` (SQLite in a fresh directory); **mosquitto** is Debian's Mosquitto 2.0 (persistence off, anonymous, its config in a temp dir). Pinned, fresh for every run and interleaved as above; the load generator speaks MQTT 3.1.1 (`banter bench mqtt-*`). Its targets are in the Targets table.\n\n")
	b.WriteString(tables.String())
	fmt.Fprintf(&b, "![MQTT fan-out latency vs load](%s/mqtt-latency.svg)\n\n![MQTT CPU per delivery vs load](%s/mqtt-cpu.svg)\n\n![MQTT RSS with N idle clients](%s/mqtt-memory.svg)\n\n", plots, plots, plots)
	return b.String()
}

// mqttCharts are the MQTT plots (none without MQTT results).
func (r *report) mqttCharts() map[string]*chart {
	const od = "offered_deliveries_s"
	if len(r.byKey["mqtt-fanout/qos0"]) == 0 && len(r.byKey["mqtt-idle/each"]) == 0 {
		return nil
	}
	return map[string]*chart{
		"mqtt-latency.svg": {title: "MQTT QoS 0 fan-out latency vs offered load, 1,000 subscribers", xlabel: "offered deliveries/s",
			ylabel: "latency (ms, log)", logY: true,
			series: append(r.line("mqtt-fanout/qos0", od, "latency_p99_ms", " p99", false), r.line("mqtt-fanout/qos0", od, "latency_p50_ms", " p50", true)...)},
		"mqtt-cpu.svg": {title: "MQTT broker CPU per delivery vs offered load", xlabel: "offered deliveries/s",
			ylabel: "broker CPU µs per delivery", series: r.line("mqtt-fanout/qos0", od, "cpu_us_per_delivery", "", false)},
		"mqtt-memory.svg": {title: "Broker RSS with N idle MQTT clients, a room each", xlabel: "idle clients",
			ylabel: "RSS (MiB)", series: r.line("mqtt-idle/each", "clients", "rss_after_mb", "", false)},
	}
}
