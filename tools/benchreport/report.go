package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/banter-chat/banter/bench"
)

// The servers a result may come from, in the order of the tables.
//
//	engine     `banter bench serve`: Banter's Socket.IO engine serving the
//	           benchmark workload (the same workload as Node's server)
//	banter     the shipped `banter` binary with its defaults (SQLite store)
//	node       Node.js socket.io 4.8 serving the workload (bench/node)
//	mosquitto  Debian's Mosquitto 2.0 (MQTT reference)
//	prosody    Debian's prosody (XMPP reference)
var serverOrder = []string{"engine", "banter", "node", "mosquitto", "prosody"}

type stat struct {
	med, lo, hi float64
	n           int
}

func (s stat) ok() bool { return s.n > 0 }

func (s stat) String() string {
	if s.n == 0 {
		return "–"
	}
	if s.n == 1 || s.lo == s.hi {
		return num(s.med)
	}
	return fmt.Sprintf("%s (%s–%s)", num(s.med), num(s.lo), num(s.hi))
}

func num(v float64) string { return bench.FormatNum(v) }

func summarize(vs []float64) stat {
	if len(vs) == 0 {
		return stat{}
	}
	vs = slices.Clone(vs)
	sort.Float64s(vs)
	m := vs[len(vs)/2]
	if len(vs)%2 == 0 {
		m = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
	}
	return stat{med: m, lo: vs[0], hi: vs[len(vs)-1], n: len(vs)}
}

// keyOf names the table a result belongs to.
func keyOf(r *bench.Result) string {
	if k, ok := mqttKey(r); ok {
		return k
	}
	switch r.Scenario {
	case "fanout":
		shape := r.Shape
		if shape == "" {
			shape = "burst" // results from before shapes existed: synchronized senders
		}
		switch {
		case r.Params["receivers"] >= largeFanout:
			return "fanout-large/" + shape
		case r.Dialect == "v1":
			return "fanout-v1/" + shape
		}
		return "fanout/" + shape
	case "joinstorm":
		return "joinstorm/" + r.Dialect
	case "xmpp-idle", "xmpp-logins":
		return r.Scenario + "/" + xmppVariant(r)
	}
	return r.Scenario
}

// largeFanout is the receiver count from which a fan-out goes to the
// large-room table.
const largeFanout = 10000

type report struct {
	all   []bench.Result
	byKey map[string][]bench.Result
	floor []bench.Result // the platform, not a server
}

func newReport(all []bench.Result) *report {
	r := &report{all: all, byKey: map[string][]bench.Result{}}
	for i := range all {
		x := all[i]
		if x.Scenario == "floor" {
			r.floor = append(r.floor, x)
			continue
		}
		k := keyOf(&x)
		r.byKey[k] = append(r.byKey[k], x)
	}
	return r
}

// steps returns the values of param over the results of key, ascending.
func (r *report) steps(key, param string) []float64 {
	var out []float64
	for _, x := range r.byKey[key] {
		if v := x.Params[param]; !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	sort.Float64s(out)
	return out
}

// sel selects results of a table: by server and by parameter values.
type sel struct {
	key, server string
	params      map[string]float64
}

func (r *report) runs(s sel) []bench.Result {
	var out []bench.Result
next:
	for _, x := range r.byKey[s.key] {
		if x.Server != s.server {
			continue
		}
		for k, v := range s.params {
			if x.Params[k] != v {
				continue next
			}
		}
		out = append(out, x)
	}
	return out
}

func (r *report) stat(s sel, metric string) stat {
	var vs []float64
	for _, x := range r.runs(s) {
		if v, ok := x.Metrics[metric]; ok && !math.IsNaN(v) {
			vs = append(vs, v)
		}
	}
	return summarize(vs)
}

func (r *report) genBound(s sel) int {
	n := 0
	for _, x := range r.runs(s) {
		if x.GeneratorBound {
			n++
		}
	}
	return n
}

// servers returns the servers with results for key, in serverOrder (then
// clusterOrder, then by name).
func (r *report) servers(key string) []string {
	var have []string
	for _, x := range r.byKey[key] {
		if !slices.Contains(have, x.Server) {
			have = append(have, x.Server)
		}
	}
	return orderServers(have)
}

type column struct {
	metric, title string
	ratio         bool // show the ratio to the reference server
}

// table is one section of the page: rows are the steps of param, one row
// per metric, one column per server, and ratios to base.
type table struct {
	key, title, intro string
	param, stepTitle  string
	base              string // reference server of the ratios ("": none)
	cols              []column
}

var fanoutColumns = []column{
	{"deliveries_s", "deliveries/s", true}, {"cpu_us_per_delivery", "server CPU µs per delivery", true},
	{"deliveries_per_write", "deliveries per write()", true}, {"server_cpu", "server CPU (cores)", false},
	{"latency_p50_ms", "latency p50 ms", false}, {"latency_p99_ms", "latency p99 ms", true},
	{"latency_max_ms", "latency max ms", false}, {"lost", "lost", false}, {"refused", "refused (rate limits)", false}}

const fanoutIntro = "1,000 receivers on `/`, each message from a sender goes to all of them. Engine and Node: the workload's `chat message`; banter: the same event in its classic dialect (socket.io's tutorial chat, stored in SQLite and delivered through the room of the chat domain). Senders are 1/2 msgs/s each (at least 10), so banter's per-user rate limits are not hit. `deliveries per write()` counts all the server's write system calls (file writes included)."

var tables = []table{
	{key: "idle", title: "Idle connections", param: "connections", stepTitle: "connections", base: "node",
		intro: "N Socket.IO WebSocket connections open and do nothing (they answer pings). Bytes per connection = (server RSS after − before) / N, read after the hold.",
		cols: []column{{"bytes_per_conn", "server RSS bytes per connection", true}, {"rss_after_mb", "server RSS MiB", true},
			{"connect_p99_ms", "connect p99 ms", false}, {"failures", "failures", false}, {"dropped", "dropped while held", false}}},
	{key: "fanout/poisson", title: "Fan-out, senders independent (Poisson arrivals)", param: "offered_deliveries_s", stepTitle: "offered deliveries/s", base: "node",
		intro: fanoutIntro + " Each sender sends at random instants (exponential gaps): chat users typing on their own.", cols: fanoutColumns},
	{key: "fanout/spread", title: "Fan-out, senders interleaved evenly", param: "offered_deliveries_s", stepTitle: "offered deliveries/s", base: "node",
		intro: fanoutIntro + " Each sender at a fixed rate, the senders' phases spread evenly: the sends of all of them interleave one every 1/rate.", cols: fanoutColumns},
	{key: "fanout/burst", title: "Fan-out, senders synchronized (bursts)", param: "offered_deliveries_s", stepTitle: "offered deliveries/s", base: "node",
		intro: fanoutIntro + " Every sender sends at the same instants: every receiver gets its messages in bursts, the best case for write coalescing (what earlier reports measured).", cols: fanoutColumns},
	{key: "fanout-large/poisson", title: "Fan-out to 19,000 receivers, senders independent", param: "offered_deliveries_s", stepTitle: "offered deliveries/s", base: "node",
		intro: "As above with 19,000 receivers (generator connections from two source addresses).", cols: fanoutColumns},
	{key: "fanout-v1/poisson", title: "Chat protocol 1 fan-out (banter only)", param: "offered_deliveries_s", stepTitle: "offered deliveries/s",
		intro: "1,000 users of banter's protocol 1 (`hello` into one room; senders `send` with an ack, each message stored in SQLite before it is acknowledged and delivered as a `message` event); senders independent (Poisson).", cols: fanoutColumns},
	{key: "send", title: "Acked sends, each user in a room of its own (banter only)", param: "offered_deliveries_s", stepTitle: "offered msgs/s",
		intro: "1,000 users of protocol 1, each in a room of its own, `send` with acks at independent random instants: every message is checked, stored in SQLite (group commit) and delivered to its sender. Server CPU per stored message, and latency from `send` to its `message` event.",
		cols: []column{{"deliveries_s", "stored msgs/s", false}, {"cpu_us_per_delivery", "server CPU µs per stored message", false},
			{"server_cpu", "server CPU (cores)", false}, {"latency_p50_ms", "latency p50 ms", false}, {"latency_p99_ms", "latency p99 ms", false},
			{"lost", "lost", false}, {"refused", "refused", false}}},
	{key: "fanout-stalled", title: "Fan-out with frozen receivers", param: "stalled", stepTitle: "frozen receivers", base: "node",
		intro: "1,000 receivers at 200 msgs/s, with and without a receiver that is connected and never reads.",
		cols: []column{{"deliveries_s", "deliveries/s", true}, {"latency_p50_ms", "latency p50 ms", false},
			{"latency_p99_ms", "latency p99 ms", true}, {"latency_max_ms", "latency max ms", false}, {"lost", "lost", false}}},
	{key: "echo", title: "Echo with ack, closed loop", param: "clients", stepTitle: "clients", base: "node",
		cols: []column{{"acks_s", "acks/s", true}, {"cpu_us_per_ack", "server CPU µs per ack", true}, {"server_cpu", "server CPU (cores)", false},
			{"rtt_p50_ms", "RTT p50 ms", false}, {"rtt_p99_ms", "RTT p99 ms", true}}},
	{key: "churn", title: "Connect + disconnect churn", param: "rate", stepTitle: "offered connects/s", base: "node",
		intro: "Connections opened (WebSocket, Socket.IO CONNECT) and closed as fast as offered, in two phases after a warm-up; RSS before, at the peak and after each phase.",
		cols: []column{{"handshakes_s", "handshakes/s", true}, {"cpu_us_per_handshake", "server CPU µs per handshake", true},
			{"failures", "failures", false}, {"connect_p99_ms", "connect p99 ms", false},
			{"rss_cold_mb", "RSS fresh server MiB", false}, {"rss_before_mb", "RSS after warm-up (baseline) MiB", false},
			{"rss_peak_mb", "RSS peak MiB", false}, {"rss_after_first_mb", "RSS after 1st phase MiB", false},
			{"rss_after_mb", "RSS after 2nd phase MiB", false},
			{"rss_growth_mb", "RSS growth over baseline MiB", false}, {"rss_growth_second_mb", "RSS growth in 2nd phase MiB", false}}},
}

// tableMarkdown renders t, or "" when it has no results.
func (r *report) tableMarkdown(t table) string {
	steps := r.steps(t.key, t.param)
	servers := r.servers(t.key)
	if len(steps) == 0 || len(servers) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", t.title)
	if t.intro != "" {
		b.WriteString(t.intro + "\n\n")
	}
	var ratios []string
	if t.base != "" && slices.Contains(servers, t.base) {
		for _, s := range servers {
			if s != t.base {
				ratios = append(ratios, s)
			}
		}
	}
	fmt.Fprintf(&b, "| %s | metric |", t.stepTitle)
	for _, s := range servers {
		fmt.Fprintf(&b, " %s |", s)
	}
	for _, s := range ratios {
		fmt.Fprintf(&b, " %s/%s |", s, t.base)
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---|", len(servers)+len(ratios)) + "\n")
	for _, step := range steps {
		for i, c := range t.cols {
			label := ""
			if i == 0 {
				label = num(step)
			}
			fmt.Fprintf(&b, "| %s | %s |", label, c.title)
			meds := map[string]stat{}
			for _, s := range servers {
				q := sel{t.key, s, map[string]float64{t.param: step}}
				st := r.stat(q, c.metric)
				meds[s] = st
				mark := ""
				if n := r.genBound(q); i == 0 && n > 0 {
					mark = fmt.Sprintf(" †%d", n)
				}
				fmt.Fprintf(&b, " %s%s |", st, mark)
			}
			for _, s := range ratios {
				if bs := meds[t.base]; c.ratio && meds[s].ok() && bs.ok() && bs.med != 0 {
					fmt.Fprintf(&b, " %.2f |", meds[s].med/bs.med)
				} else {
					b.WriteString(" |")
				}
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("\n")
	return b.String()
}

// joinStorm renders the join-storm results: N users saying hello into one
// room, against N users joining nothing.
func (r *report) joinStorm() string {
	var keys []string
	for _, k := range []string{"joinstorm/sio", "joinstorm/tcp", "joinstorm/mqtt"} {
		if len(r.byKey[k]) > 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("## Join storm: N users into one room at once (banter)\n\n")
	b.WriteString("`banter bench joinstorm`: N users connect and say `hello` into the room `general` with 64 hellos in flight, and stay; the baseline says hello into no room. *joined* is the time until the last hello was acknowledged; presence counts the events the clients received about the room's members (per-user `presence`, or `members` counts in large rooms) until none arrived for a second.\n\n")
	b.WriteString("| gateway | users | joined s (one room) | joined s (no room) | ratio | presence events | presence bytes | most bytes one client got | server CPU ms per join |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, k := range keys {
		gw := strings.TrimPrefix(k, "joinstorm/")
		for _, s := range r.servers(k) {
			for _, n := range r.steps(k, "users") {
				room := sel{k, s, map[string]float64{"users": n, "room": 1}}
				none := sel{k, s, map[string]float64{"users": n, "room": 0}}
				jr, jn := r.stat(room, "joined_s"), r.stat(none, "joined_s")
				ratio := "–"
				if jr.ok() && jn.ok() && jn.med > 0 {
					ratio = fmt.Sprintf("%.2f", jr.med/jn.med)
				}
				name := gw
				if s != "banter" {
					name += " (" + s + ")"
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, num(n), jr, jn, ratio,
					r.stat(room, "presence_events"), r.stat(room, "presence_bytes"), r.stat(room, "presence_bytes_max_c"), r.stat(room, "cpu_ms_per_join"))
			}
		}
	}
	b.WriteString("\n")
	return b.String()
}

// floorStat summarizes metric k over the floor runs with n receivers.
func (r *report) floorStat(n float64, k string) (stat, int) {
	var vs []float64
	runs := 0
	for _, x := range r.floor {
		if x.Params["receivers"] != n {
			continue
		}
		runs++
		if v, ok := x.Metrics[k]; ok {
			vs = append(vs, v)
		}
	}
	return summarize(vs), runs
}

// floorSection renders the platform floor runs (bench floor): what one
// goroutine writing to N plain TCP connections costs on this machine.
func (r *report) floorSection() string {
	if len(r.floor) == 0 {
		return ""
	}
	var ns []float64
	for _, x := range r.floor {
		if n := x.Params["receivers"]; !slices.Contains(ns, n) {
			ns = append(ns, n)
		}
	}
	sort.Float64s(ns)
	var b strings.Builder
	b.WriteString("## Platform floor: one writer, N plain TCP connections\n\n")
	b.WriteString("`banter bench floor-serve` (pinned like the servers) writes an 8-byte timestamp to N accepted connections in a loop from one goroutine, with no protocol at all; `banter bench floor` (pinned like the generator) reads them. Latency is from the start of the write loop to each read: the least any single-core server can achieve when one message goes to N clients on this machine, one write each.\n\n")
	b.WriteString("| receivers | latency p50 ms | latency p99 ms | latency max ms | writer CPU µs per write | runs |\n|---|---|---|---|---|---|\n")
	for _, n := range ns {
		st := func(k string) stat { v, _ := r.floorStat(n, k); return v }
		_, runs := r.floorStat(n, "latency_p50_ms")
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d |\n", num(n), st("latency_p50_ms"), st("latency_p99_ms"), st("latency_max_ms"), st("writer_cpu_us_per_delivery"), runs)
	}
	b.WriteString("\n")
	return b.String()
}

var colors = map[string]string{"engine": "#1f77b4", "banter": "#2ca02c", "node": "#d62728", "mosquitto": "#9467bd", "prosody": "#8c564b"}

// line plots metric over the steps of key, one series per server.
func (r *report) line(key, param, metric, suffix string, dashed bool) []series {
	var out []series
	for _, srv := range r.servers(key) {
		s := series{name: srv + suffix, color: colors[srv], dashed: dashed}
		for _, step := range r.steps(key, param) {
			st := r.stat(sel{key, srv, map[string]float64{param: step}}, metric)
			if !st.ok() {
				continue
			}
			s.pts = append(s.pts, [2]float64{step, st.med})
			s.lo = append(s.lo, st.lo)
			s.hi = append(s.hi, st.hi)
		}
		if len(s.pts) > 0 {
			out = append(out, s)
		}
	}
	return out
}

func (r *report) charts() map[string]*chart {
	const od = "offered_deliveries_s"
	return map[string]*chart{
		"memory.svg": {title: "Server RSS with N idle WebSocket connections (median, min–max)", xlabel: "idle connections",
			ylabel: "RSS (MiB)", series: r.line("idle", "connections", "rss_after_mb", "", false)},
		"latency.svg": {title: "Fan-out latency, 1,000 receivers, independent senders", xlabel: "offered deliveries/s",
			ylabel: "latency (ms, log)", logY: true,
			series: append(r.line("fanout/poisson", od, "latency_p99_ms", " p99", false), r.line("fanout/poisson", od, "latency_p50_ms", " p50", true)...)},
		"cpu.svg": {title: "Server CPU per delivery, independent (solid) and synchronized (dashed) senders", xlabel: "offered deliveries/s",
			ylabel: "server CPU µs per delivery",
			series: append(r.line("fanout/poisson", od, "cpu_us_per_delivery", " independent", false), r.line("fanout/burst", od, "cpu_us_per_delivery", " synchronized", true)...)},
	}
}

func (r *report) markdown(machine, plots, command, notes string) string {
	var b strings.Builder
	first, last := r.all[0].Time, r.all[0].Time
	var loads []float64
	for _, x := range r.all {
		if x.Time.Before(first) {
			first = x.Time
		}
		if x.Time.After(last) {
			last = x.Time
		}
		loads = append(loads, x.Load1)
	}
	ld := summarize(loads)
	b.WriteString("# Benchmarks: Banter against Node.js Socket.IO, Mosquitto and prosody\n\n")
	fmt.Fprintf(&b, "<!-- Generated by tools/benchreport from the results of `%s`; edit bench/analysis.md and tools/benchreport, not this file. -->\n\n", command)
	fmt.Fprintf(&b, "Measured %s to %s UTC by `%s` (%d runs, %s per step and server). Rerun with `scripts/bench.sh` (`--quick` for a short pass); `banter bench <scenario> -h` runs one step by hand.\n\n",
		first.Format("2006-01-02 15:04"), last.Format("15:04"), command, len(r.all), r.runsPerStep())
	b.WriteString("## Method\n\n")
	b.WriteString("- Servers: **engine** is `banter bench serve`, Banter's Socket.IO engine serving the benchmark workload (bench/workload); **banter** is the shipped `banter` binary with its defaults (SQLite in a fresh directory, default limits); **node** is Node.js socket.io 4.8 serving the same workload (bench/node/server.js). All on 127.0.0.1.\n")
	b.WriteString("- Each server is pinned to CPU 0 (`taskset -c 0`), the load generator (`banter bench`, Go) to CPU 1. A fresh server is started for every run; runs of the servers are interleaved (the order rotates). Tables give the median and, in brackets, the min–max.\n")
	b.WriteString("- Server CPU, RSS and write system calls come from /proc/PID of the server process (over the measured window only). CPU µs per delivery = server CPU time / messages delivered to clients in the window.\n")
	b.WriteString("- Senders send on independent schedules unless a table says otherwise: real chat traffic is not synchronized, and synchronized senders let one write carry several messages.\n")
	b.WriteString("- Fan-out latency is from the sender's write to the receiver's read (same clock); messages not received 3 s after sending stops count as lost.\n")
	fmt.Fprintf(&b, "- The generator reports its own CPU; a run where it used ≥ %.0f%% of its core is flagged as generator-bound (marked † in the tables).\n\n", 85.0)
	b.WriteString("## Machine\n\n")
	b.WriteString(machine)
	fmt.Fprintf(&b, "- 1-minute load average at the end of the runs: median %s, min–max %s–%s. ", num(ld.med), num(ld.lo), num(ld.hi))
	if ld.med > 2.2 {
		b.WriteString("**The machine was shared with other work during the run** (a load above 2 on 2 cores): absolute rates and latencies are noisy and likely pessimistic for every server; CPU µs per operation and memory are the comparable figures.\n\n")
	} else {
		b.WriteString("\n\n")
	}
	b.WriteString("## Targets\n\n")
	b.WriteString(r.targets())
	for _, t := range tables {
		b.WriteString(r.tableMarkdown(t))
		if t.key == "send" {
			b.WriteString(r.joinStorm())
		}
	}
	b.WriteString(r.clusterSection())
	b.WriteString(r.xmppSection())
	b.WriteString(r.floorSection())
	b.WriteString(r.mqttSection(plots))
	b.WriteString("## Plots\n\n")
	fmt.Fprintf(&b, "![memory vs connections](%s/memory.svg)\n\n![latency vs load](%s/latency.svg)\n\n![CPU per delivery vs load](%s/cpu.svg)\n\n", plots, plots, plots)
	if notes != "" {
		b.WriteString(strings.TrimSpace(notes))
		b.WriteString("\n")
	}
	return b.String()
}

// runsPerStep describes how many runs each step and server got.
func (r *report) runsPerStep() string {
	counts := map[string]int{}
	for _, x := range r.all {
		counts[fmt.Sprintf("%s/%s/%s/%v", keyOf(&x), x.Server, x.Dialect, x.Params)]++
	}
	lo, hi := math.MaxInt, 0
	for _, c := range counts {
		lo, hi = min(lo, c), max(hi, c)
	}
	if lo == hi {
		return fmt.Sprintf("%d", lo)
	}
	return fmt.Sprintf("%d–%d", lo, hi)
}

// machineInfo describes the machine in markdown list items.
func machineInfo(ctx context.Context) string {
	var b strings.Builder
	model := "?"
	if f, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(f), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := "?"
	if f, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(f), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf("%.0f GB", float64(kb)/(1<<20))
		}
	}
	kernel := "?"
	if f, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(f))
	}
	node := "?"
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(cctx, "node", "--version").Output(); err == nil {
		node = strings.TrimSpace(string(out))
	}
	fmt.Fprintf(&b, "- CPU: %d × %s; memory %s; Linux %s.\n", runtime.NumCPU(), model, mem, kernel)
	fmt.Fprintf(&b, "- Banter built with %s; Node.js %s with socket.io 4.8.4 (repository node_modules).\n", runtime.Version(), node)
	return b.String()
}
