package bench

import (
	"fmt"
	"sort"
	"strings"
)

// xmppSection renders the XMPP results (scenarios xmpp-*): Banter against
// prosody, the goals beside them (issue 21).
func xmppSection(rs []Result) string {
	if len(rs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("## XMPP: Banter against prosody (issue 21)\n\n")
	b.WriteString("Banter is the product binary (`banter serve --xmpp`, anonymous mode, SQLite) and prosody Debian's 0.12 " +
		"(anonymous virtual host, MUC component with Banter's room policy: unlocked, persistent), each pinned to CPU 0 and " +
		"started fresh for every run, with the same RSA-2048 self-signed certificate; the generator (`banter bench xmpp-*`, " +
		"Go) runs on CPU 1 and logs in with SASL ANONYMOUS, binds a resource and sends initial presence. Idle: bytes per " +
		"connection = (RSS with N connections − RSS after 100 warm-up connections) / N. Logins: login, bind, presence, " +
		"stream close in a loop by 16 clients. Fan-out: 10 senders take turns at the given total rate (interleaved) in a " +
		"room of 1,000 receivers.\n\n")
	get := func(scenario string, tls float64, match func(Result) bool, metric string) stat {
		var vs []float64
		for _, r := range rs {
			if r.Scenario == scenario && r.Params["tls"] == tls && (match == nil || match(r)) {
				if v, ok := r.Metrics[metric]; ok {
					vs = append(vs, v)
				}
			}
		}
		return summarize(vs)
	}
	server := func(s string) func(Result) bool { return func(r Result) bool { return r.Server == s } }
	ratio := func(a, b stat) string {
		if !a.ok() || !b.ok() || b.med == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", a.med/b.med)
	}
	verdict := func(ok bool, a, b stat) string {
		switch {
		case !a.ok() || !b.ok():
			return "not measured"
		case ok:
			return "**met**"
		}
		return "**not met**"
	}
	// Idle.
	b.WriteString("### Idle authenticated connections\n\n| transport | banter B/conn | prosody B/conn | banter/prosody | goal |\n|---|---|---|---|---|\n")
	for _, t := range []struct {
		name string
		tls  float64
	}{{"plain TCP", 0}, {"STARTTLS", 1}} {
		bs, ps := get("xmpp-idle", t.tls, server("banter"), "bytes_per_conn"), get("xmpp-idle", t.tls, server("prosody"), "bytes_per_conn")
		goal := "≤ 4 KB: " + verdict(bs.ok() && bs.med <= 4096, bs, bs)
		if t.tls == 1 {
			goal = "≤ 1/4 of prosody's: " + verdict(bs.ok() && ps.ok() && bs.med <= ps.med/4, bs, ps)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", t.name, bs, ps, ratio(bs, ps), goal)
	}
	b.WriteString("\n### Logins\n\n| transport | banter logins/s | prosody logins/s | banter/prosody | banter CPU µs/login | prosody CPU µs/login | goal |\n|---|---|---|---|---|---|---|\n")
	for _, t := range []struct {
		name string
		tls  float64
	}{{"plain TCP", 0}, {"STARTTLS", 1}} {
		bs, ps := get("xmpp-logins", t.tls, server("banter"), "logins_per_s"), get("xmpp-logins", t.tls, server("prosody"), "logins_per_s")
		bc, pc := get("xmpp-logins", t.tls, server("banter"), "server_cpu_us_per_login"), get("xmpp-logins", t.tls, server("prosody"), "server_cpu_us_per_login")
		goal := "–"
		if t.tls == 1 {
			goal = "≥ 4× prosody's: " + verdict(bs.ok() && ps.ok() && bs.med >= 4*ps.med, bs, ps)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", t.name, bs, ps, ratio(bs, ps), bc, pc, goal)
	}
	// Fan-out, by step (receivers, rate).
	type step struct{ receivers, rate float64 }
	seen := map[step]bool{}
	var steps []step
	for _, r := range rs {
		if r.Scenario == "xmpp-fanout" {
			s := step{r.Params["receivers"], r.Params["rate"]}
			if !seen[s] {
				seen[s] = true
				steps = append(steps, s)
			}
		}
	}
	sort.Slice(steps, func(i, j int) bool {
		if steps[i].receivers != steps[j].receivers {
			return steps[i].receivers < steps[j].receivers
		}
		return steps[i].rate < steps[j].rate
	})
	if len(steps) > 0 {
		b.WriteString("\n### MUC fan-out\n\n| receivers × msgs/s | metric | banter | prosody | banter/prosody |\n|---|---|---|---|---|\n")
		var best stat
		var bestP stat
		for _, s := range steps {
			at := func(srv string) func(Result) bool {
				return func(r Result) bool {
					return r.Server == srv && r.Params["receivers"] == s.receivers && r.Params["rate"] == s.rate
				}
			}
			for i, m := range []struct{ title, key string }{
				{"deliveries/s", "deliveries_per_s"}, {"deliveries per server CPU-second", "deliveries_per_cpu_s"},
				{"server CPU µs/delivery", "server_cpu_us_per_delivery"}, {"p50 ms", "p50_ms"}, {"p99 ms", "p99_ms"}, {"lost", "lost"},
			} {
				bs, ps := get("xmpp-fanout", 0, at("banter"), m.key), get("xmpp-fanout", 0, at("prosody"), m.key)
				label := ""
				if i == 0 {
					label = fmt.Sprintf("%s × %s", fmtNum(s.receivers), fmtNum(s.rate))
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", label, m.title, bs, ps, ratio(bs, ps))
				if m.key == "deliveries_per_cpu_s" && bs.ok() && ps.ok() && (!best.ok() || bs.med/ps.med < best.med/bestP.med) {
					best, bestP = bs, ps // the least favourable step decides the goal
				}
			}
		}
		fmt.Fprintf(&b, "\nGoal: deliveries per server CPU-second ≥ 3× prosody's at every step: %s (least favourable step %s).\n",
			verdict(best.ok() && bestP.ok() && best.med >= 3*bestP.med, best, bestP), ratio(best, bestP))
	}
	b.WriteString("\n")
	return b.String()
}
