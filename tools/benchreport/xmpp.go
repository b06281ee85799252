package main

import (
	"fmt"
	"strings"

	"github.com/banter-chat/banter/bench"
)

// The XMPP results (scenarios xmpp-*, issue 21): the shipped banter
// (`--xmpp`) against Debian's prosody.

// xmppVariants are the transports of the idle and login tables, in order:
// the key suffix keyOf gives a result, and its row title.
var xmppVariants = []struct{ key, title string }{
	{"plain", "plain TCP"},
	{"rsa", "STARTTLS, RSA-2048"},
	{"ecdsa", "STARTTLS, ECDSA P-256"},
	{"rsa-resumed", "STARTTLS, RSA-2048, TLS session resumed"},
	{"ecdsa-resumed", "STARTTLS, ECDSA P-256, TLS session resumed"},
}

// xmppVariant names the transport of an xmpp-idle or xmpp-logins result:
// plain, or the server certificate's key type (results from before the
// key type was recorded were RSA-2048), and whether the clients resumed
// their TLS sessions.
func xmppVariant(r *bench.Result) string {
	if r.Params["tls"] == 0 {
		return "plain"
	}
	v := "rsa"
	if r.Params["ecdsa"] == 1 {
		v = "ecdsa"
	}
	if r.Params["resume"] == 1 {
		v += "-resumed"
	}
	return v
}

const xmppIntro = "banter is the shipped binary with its defaults and `--xmpp` (anonymous mode, SQLite in a fresh directory); " +
	"prosody is Debian's 0.12 (anonymous virtual host, in-memory storage, MUC component with Banter's room policy: unlocked, persistent). " +
	"Both are pinned to CPU 0 and started fresh for every run, with the same certificate (generated once per ladder, RSA-2048 or ECDSA P-256); " +
	"the generator (`banter bench xmpp-*`, Go) runs on CPU 1 and logs in with SASL ANONYMOUS, binds a resource and sends initial presence."

// xmppSection renders the XMPP tables, or "" without XMPP results.
func (r *report) xmppSection() string {
	var b strings.Builder
	var idle, logins strings.Builder
	for _, v := range xmppVariants {
		for _, n := range r.steps("xmpp-idle/"+v.key, "connections") {
			q := func(s, m string) stat {
				return r.stat(sel{"xmpp-idle/" + v.key, s, map[string]float64{"connections": n}}, m)
			}
			bb, pb := q("banter", "bytes_per_conn"), q("prosody", "bytes_per_conn")
			fmt.Fprintf(&idle, "| %s | %s | %s | %s | %s | %s | %s |\n", v.title, num(n), bb, pb, ratioOf(bb, pb),
				q("banter", "rss_after_mb"), q("prosody", "rss_after_mb"))
		}
		for _, c := range r.steps("xmpp-logins/"+v.key, "concurrency") {
			q := func(s, m string) stat {
				return r.stat(sel{"xmpp-logins/" + v.key, s, map[string]float64{"concurrency": c}}, m)
			}
			bl, pl := q("banter", "logins_per_s"), q("prosody", "logins_per_s")
			bc, pc := q("banter", "server_cpu_us_per_login"), q("prosody", "server_cpu_us_per_login")
			fmt.Fprintf(&logins, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", v.title, num(c), bl, pl, ratioOf(bl, pl), bc, pc, ratioOf(bc, pc),
				q("banter", "login_p99_ms"), q("prosody", "login_p99_ms"), resumedShare(q("banter", "tls_resumed"), q("banter", "logins"), q("prosody", "tls_resumed"), q("prosody", "logins")))
		}
	}
	fanout := r.tableMarkdown(table{key: "xmpp-fanout", title: "XMPP: MUC fan-out", param: "rate", stepTitle: "msgs/s in all", base: "prosody",
		intro: "Senders (1/2 msg/s each, at least 10: within banter's per-user rate limit) take turns evenly in one MUC room of 1,000 members (300 in `--quick`), senders included, all of which receive every message. Server CPU is over the sending window only (the joins' presences delivered before it).",
		cols: []column{{"deliveries_per_s", "deliveries/s", true}, {"deliveries_per_cpu_s", "deliveries per server CPU-second", true},
			{"server_cpu_us_per_delivery", "server CPU µs per delivery", true}, {"server_cpu", "server CPU (cores)", false},
			{"p50_ms", "latency p50 ms", false}, {"p99_ms", "latency p99 ms", true}, {"lost", "lost", false}}})
	if idle.Len() == 0 && logins.Len() == 0 && fanout == "" {
		return ""
	}
	b.WriteString("## XMPP: banter against prosody\n\n" + xmppIntro + "\n\n")
	if idle.Len() > 0 {
		b.WriteString("### Idle authenticated connections\n\nBytes per connection = (server RSS with N connections − RSS after 100 warm-up connections) / N, read 5 s after the last login.\n\n")
		b.WriteString("| transport | connections | banter B/conn | prosody B/conn | banter/prosody | banter RSS MiB | prosody RSS MiB |\n|---|---|---|---|---|---|---|\n")
		b.WriteString(idle.String() + "\n")
	}
	if logins.Len() > 0 {
		b.WriteString("### Logins\n\nC clients in a loop: connect, (STARTTLS), SASL ANONYMOUS, bind, initial presence and its echo, stream close. A full TLS handshake for every login unless the row says the session was resumed (each client keeps the server's session tickets and offers them at its next login, as a returning device does; the last column says how many logins did resume: a server that issues no tickets, or refuses them, makes every login a full handshake).\n\n")
		b.WriteString("| transport | clients | banter logins/s | prosody logins/s | banter/prosody | banter CPU µs/login | prosody CPU µs/login | banter/prosody | banter login p99 ms | prosody login p99 ms | TLS sessions resumed (banter, prosody) |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
		b.WriteString(logins.String() + "\n")
	}
	if fanout != "" {
		b.WriteString("#" + fanout) // a subsection of this one
	}
	return b.String()
}

// resumedShare tells what share of the logins resumed a TLS session, for
// banter and prosody ("–" without TLS).
func resumedShare(br, bl, pr, pl stat) string {
	f := func(r, l stat) string {
		if !r.ok() || !l.ok() || l.med == 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f%%", 100*r.med/l.med)
	}
	if !br.ok() && !pr.ok() {
		return "–"
	}
	return f(br, bl) + ", " + f(pr, pl)
}

func ratioOf(a, b stat) string {
	if !a.ok() || !b.ok() || b.med == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a.med/b.med)
}
