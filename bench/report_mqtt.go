package bench

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// The MQTT part of the report: Banter's MQTT gateway next to Mosquitto
// (results of the mqtt-* scenarios, kept apart from the Socket.IO ones by
// newReport), with the targets of issue 18 evaluated on the medians.

// mqttServers orders the brokers: banter first, mosquitto second.
func mqttServers(rs []Result) []string {
	var out []string
	for _, x := range rs {
		if !slices.Contains(out, x.Server) {
			out = append(out, x.Server)
		}
	}
	rank := func(s string) int {
		switch s {
		case "banter":
			return 0
		case "mosquitto":
			return 1
		}
		return 2
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out
}

// mqttTable is one table of the section: the results of a scenario that
// match, one row group per step.
type mqttTable struct {
	title    string
	scenario string
	match    func(Result) bool
	step     string // the parameter that tells steps apart
	stepName string
	cols     []column
}

var mqttIdleCols = []column{
	{"bytes_per_client", "server RSS bytes per client", true}, {"rss_after_mb", "server RSS MiB", true},
	{"connect_seconds", "connect + subscribe all, s", true}, {"connects_per_s", "clients connected and subscribed per s", true},
	{"cpu_us_per_connect", "server CPU µs per client", true}, {"connect_p99_ms", "connect + subscribe p99 ms", false},
	{"failures", "failures", false}}

var mqttFanoutCols = []column{
	{"deliveries_s", "deliveries/s", true}, {"cpu_us_per_delivery", "server CPU µs per delivery", true},
	{"server_cpu", "server CPU (cores)", false}, {"latency_p50_ms", "latency p50 ms", false},
	{"latency_p99_ms", "latency p99 ms", true}, {"latency_max_ms", "latency max ms", false},
	{"lost", "lost", false}, {"duplicated", "duplicated", false}}

var mqttTables = []mqttTable{
	{"Idle clients, a room each (connect, subscribe at QoS 0, hold)", "mqtt-idle",
		func(x Result) bool { return x.Params["one_room"] == 0 }, "clients", "clients", mqttIdleCols},
	{"Idle clients, all in one room", "mqtt-idle",
		func(x Result) bool { return x.Params["one_room"] == 1 }, "clients", "clients", mqttIdleCols},
	{"QoS 0 fan-out to the subscribers of one room, 10 publishers interleaved", "mqtt-fanout",
		func(x Result) bool { return x.Params["qos"] == 0 }, "offered_deliveries_s", "offered deliveries/s", mqttFanoutCols},
	{"QoS 1 fan-out (persistent sessions, every message acknowledged), 10 publishers interleaved", "mqtt-fanout",
		func(x Result) bool { return x.Params["qos"] == 1 }, "offered_deliveries_s", "offered deliveries/s", mqttFanoutCols},
	{"Connect + subscribe + disconnect churn", "mqtt-churn", func(Result) bool { return true }, "rate", "offered connects/s", []column{
		{"connects_s", "connects/s", true}, {"cpu_us_per_connect", "server CPU µs per connect", true},
		{"failures", "failures", false}, {"connect_p99_ms", "connect p99 ms", false},
		{"rss_before_mb", "RSS before MiB", false}, {"rss_after_mb", "RSS after MiB", false}, {"rss_after_ratio", "RSS after/before", false}}},
}

// mqttSelect returns the results of t (of server, at step; server "" and
// step NaN: any).
func (r *report) mqttSelect(t *mqttTable, server string, step float64) []Result {
	var out []Result
	for _, x := range r.mqtt {
		if x.Scenario == t.scenario && t.match(x) && (server == "" || x.Server == server) &&
			(math.IsNaN(step) || x.Params[t.step] == step) {
			out = append(out, x)
		}
	}
	return out
}

func (r *report) mqttStat(t *mqttTable, server string, step float64, metric string) stat {
	var vs []float64
	for _, x := range r.mqttSelect(t, server, step) {
		if v, ok := x.Metrics[metric]; ok && !math.IsNaN(v) {
			vs = append(vs, v)
		}
	}
	return summarize(vs)
}

func (r *report) mqttSteps(t *mqttTable) []float64 {
	var out []float64
	for _, x := range r.mqttSelect(t, "", math.NaN()) {
		if v := x.Params[t.step]; !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	sort.Float64s(out)
	return out
}

// mqttSection renders the MQTT part of the page ("" without MQTT results).
func (r *report) mqttSection(plots string) string {
	if len(r.mqtt) == 0 {
		return ""
	}
	servers := mqttServers(r.mqtt)
	var b strings.Builder
	b.WriteString("## MQTT: Banter against Mosquitto\n\n")
	b.WriteString("- The shipped `banter` (`--mqtt`, its SQLite store, `--rate-per-second 1000 --rate-burst 1000`: the default 5 messages per second per user would refuse the publishers) and Debian's `mosquitto` (persistence off, anonymous), each started fresh for every run on CPU 0 (`taskset -c 0`), the load generator (`banter bench mqtt-*`, MQTT 3.1.1) on CPU 1; runs interleaved. Medians, min–max in brackets.\n")
	b.WriteString("- Idle: N clients connect (clean session, keepalive 60 s) and subscribe at QoS 0, each to a room of its own or all to one room; RSS is read after a hold. Bytes per client = (RSS with the clients − RSS before) / N.\n")
	b.WriteString("- Fan-out: 1,000 subscribers of `banter/rooms/fanout`; 10 publishers send R messages per second in all, each on its own schedule, evenly interleaved (one message every 1/R s), never in synchronized bursts. Latency is from the publisher's write to the subscriber's read; CPU µs per delivery = broker CPU / messages delivered in the window.\n\n")

	b.WriteString("### MQTT targets (issue 18)\n\n")
	b.WriteString(r.mqttTargets(servers))

	for i := range mqttTables {
		t := &mqttTables[i]
		steps := r.mqttSteps(t)
		if len(steps) == 0 {
			continue
		}
		fmt.Fprintf(&b, "### %s\n\n| %s | metric |", t.title, t.stepName)
		for _, s := range servers {
			fmt.Fprintf(&b, " %s |", s)
		}
		ratio := len(servers) >= 2
		if ratio {
			fmt.Fprintf(&b, " %s/%s |", servers[0], servers[1])
		}
		b.WriteString("\n|---|---|" + strings.Repeat("---|", len(servers)))
		if ratio {
			b.WriteString("---|")
		}
		b.WriteString("\n")
		for _, step := range steps {
			for ci, c := range t.cols {
				label := ""
				if ci == 0 {
					label = fmtNum(step)
				}
				fmt.Fprintf(&b, "| %s | %s |", label, c.title)
				var meds []stat
				for _, s := range servers {
					st := r.mqttStat(t, s, step, c.metric)
					meds = append(meds, st)
					mark := ""
					if ci == 0 {
						if n := countBound(r.mqttSelect(t, s, step)); n > 0 {
							mark = fmt.Sprintf(" †%d", n)
						}
					}
					fmt.Fprintf(&b, " %s%s |", st, mark)
				}
				if ratio {
					if c.ratio && meds[0].ok() && meds[1].ok() && meds[1].med != 0 {
						fmt.Fprintf(&b, " %.2f |", meds[0].med/meds[1].med)
					} else {
						b.WriteString(" |")
					}
				}
				b.WriteString("\n")
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "![MQTT fan-out latency vs load](%s/mqtt-latency.svg)\n\n![MQTT CPU per delivery vs load](%s/mqtt-cpu.svg)\n\n![MQTT RSS with N idle clients](%s/mqtt-memory.svg)\n\n", plots, plots, plots)
	return b.String()
}

func countBound(rs []Result) int {
	n := 0
	for _, x := range rs {
		if x.GeneratorBound {
			n++
		}
	}
	return n
}

// mqttTargets evaluates issue 18's goals on the medians.
func (r *report) mqttTargets(servers []string) string {
	if len(servers) < 2 || servers[0] != "banter" || servers[1] != "mosquitto" {
		return "(needs results of both banter and mosquitto)\n\n"
	}
	var b strings.Builder
	b.WriteString("| target | Banter | Mosquitto | ratio | met? |\n|---|---|---|---|---|\n")
	row := func(name string, bv, mv stat, ratio float64, met string) {
		rs := "–"
		if !math.IsNaN(ratio) {
			rs = fmt.Sprintf("%.2f", ratio)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", name, bv, mv, rs, met)
	}
	yes := func(ok bool) string {
		if ok {
			return "**met**"
		}
		return "**not met**"
	}
	idleEach, idleOne, q0, q1 := &mqttTables[0], &mqttTables[1], &mqttTables[2], &mqttTables[3]
	// Memory per idle client at the largest step, a room each.
	if st := r.mqttSteps(idleEach); len(st) > 0 {
		n := st[len(st)-1]
		bv, mv := r.mqttStat(idleEach, "banter", n, "bytes_per_client"), r.mqttStat(idleEach, "mosquitto", n, "bytes_per_client")
		if bv.ok() && mv.ok() {
			row(fmt.Sprintf("RSS per idle client at %s (a room each) ≤ 2× Mosquitto's", fmtNum(n)), bv, mv, bv.med/mv.med, yes(bv.med <= 2*mv.med))
		}
	}
	// Connect + subscribe rate, both room layouts.
	for _, t := range []*mqttTable{idleEach, idleOne} {
		for _, n := range r.mqttSteps(t) {
			bv, mv := r.mqttStat(t, "banter", n, "connects_per_s"), r.mqttStat(t, "mosquitto", n, "connects_per_s")
			if bv.ok() && mv.ok() {
				where := "a room each"
				if t == idleOne {
					where = "one room"
				}
				row(fmt.Sprintf("connect + subscribe rate, %s clients into %s, ≥ Mosquitto's (clients/s)", fmtNum(n), where), bv, mv, bv.med/mv.med, yes(bv.med >= mv.med))
			}
		}
	}
	// QoS 0 fan-out at 30,000 offered deliveries/s: CPU and p99.
	for _, step := range r.mqttSteps(q0) {
		if step != 30000 {
			continue
		}
		bc, mc := r.mqttStat(q0, "banter", step, "cpu_us_per_delivery"), r.mqttStat(q0, "mosquitto", step, "cpu_us_per_delivery")
		bp, mp := r.mqttStat(q0, "banter", step, "latency_p99_ms"), r.mqttStat(q0, "mosquitto", step, "latency_p99_ms")
		if bc.ok() && mc.ok() {
			row("QoS 0 fan-out at 30,000 deliveries/s: server CPU µs per delivery ≤ 2/3 of Mosquitto's", bc, mc, bc.med/mc.med, yes(bc.med <= mc.med*2/3))
		}
		if bp.ok() && mp.ok() {
			row("… with latency p99 ≤ 2× Mosquitto's (ms)", bp, mp, bp.med/mp.med, yes(bp.med <= 2*mp.med))
		}
	}
	// Saturation: Banter's best deliveries/s with p99 ≤ 100 ms against
	// Mosquitto's best at any latency, provided Mosquitto saturated.
	var bb, msat stat
	msatStep := 0.0
	for _, step := range r.mqttSteps(q0) {
		d, p := r.mqttStat(q0, "banter", step, "deliveries_s"), r.mqttStat(q0, "banter", step, "latency_p99_ms")
		if d.ok() && p.ok() && p.med <= 100 && d.med > bb.med {
			bb = d
		}
		if m := r.mqttStat(q0, "mosquitto", step, "deliveries_s"); m.ok() && m.med > msat.med {
			msat, msatStep = m, step
		}
	}
	if msat.ok() {
		met := yes(bb.ok() && bb.med >= 2*msat.med)
		switch {
		case msat.med >= 0.95*msatStep:
			met = "**not measurable here**: Mosquitto was not saturated by the highest step"
		case !bb.ok():
			met = "**not met**: no step with p99 ≤ 100 ms"
		}
		ratio := math.NaN()
		if bb.ok() && msat.med > 0 {
			ratio = bb.med / msat.med
		}
		row("QoS 0 fan-out: Banter's deliveries/s with p99 ≤ 100 ms ≥ 2× Mosquitto's saturation deliveries/s (any latency)", bb, msat, ratio, met)
	}
	// QoS 1: nothing lost.
	for _, step := range r.mqttSteps(q1) {
		bl, ml := r.mqttStat(q1, "banter", step, "lost"), r.mqttStat(q1, "mosquitto", step, "lost")
		if bl.ok() {
			row(fmt.Sprintf("QoS 1 fan-out at %s deliveries/s: nothing lost", fmtNum(step)), bl, ml, math.NaN(), yes(bl.hi == 0))
		}
	}
	n, bound := 0, 0
	for _, x := range r.mqtt {
		n++
		if x.GeneratorBound {
			bound++
		}
	}
	fmt.Fprintf(&b, "| load generator not the bottleneck | flagged in %d of %d runs | | | %s |\n\n", bound, n,
		map[bool]string{true: "**met** (it reports its CPU)", false: "**not always**: see † below"}[bound == 0])
	return b.String()
}

// mqttCharts are the MQTT plots.
func (r *report) mqttCharts() map[string]*chart {
	if len(r.mqtt) == 0 {
		return nil
	}
	servers := mqttServers(r.mqtt)
	line := func(t *mqttTable, metric, suffix string, dashed bool) []series {
		var out []series
		for i, srv := range servers {
			s := series{name: srv + suffix, color: colors[i%len(colors)], dashed: dashed}
			for _, step := range r.mqttSteps(t) {
				st := r.mqttStat(t, srv, step, metric)
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
	q0, idle := &mqttTables[2], &mqttTables[0]
	return map[string]*chart{
		"mqtt-latency.svg": {title: "MQTT QoS 0 fan-out latency vs offered load, 1,000 subscribers", xlabel: "offered deliveries/s",
			ylabel: "latency (ms, log)", logY: true,
			series: append(line(q0, "latency_p99_ms", " p99", false), line(q0, "latency_p50_ms", " p50", true)...)},
		"mqtt-cpu.svg": {title: "MQTT broker CPU per delivery vs offered load", xlabel: "offered deliveries/s",
			ylabel: "broker CPU µs per delivery", series: line(q0, "cpu_us_per_delivery", "", false)},
		"mqtt-memory.svg": {title: "Broker RSS with N idle MQTT clients, a room each", xlabel: "idle clients",
			ylabel: "RSS (MiB)", series: line(idle, "rss_after_mb", "", false)},
	}
}
