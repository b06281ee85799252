package main

import (
	"fmt"
	"slices"
	"strings"
)

// The cluster block of scripts/bench.sh (`banter bench cluster`): one room
// of 1,000 protocol-1 users served by a single node or by several nodes on
// PostgreSQL and Redis. Its deployments, in the order of the tables:
//
//	banter     one node, the shipped defaults (SQLite)
//	banter-pg  one node on PostgreSQL and Redis (cluster mode, alone)
//	cluster-N  N nodes on PostgreSQL and Redis, senders on node 1
var clusterOrder = []string{"banter", "banter-pg", "cluster-2", "cluster-3", "cluster-4"}

var clusterColumns = []column{
	{"deliveries_s", "deliveries/s", false},
	{"cpu_us_per_delivery", "CPU µs per delivery, all nodes", true},
	{"latency_p50_ms", "latency p50 ms", true},
	{"latency_p99_ms", "latency p99 ms", true},
	{"remote_latency_p99_ms", "p99 ms of deliveries that crossed the bus", true},
	{"append_p50_ms", "store append p50 ms (incl. group commit)", false},
	{"append_p99_ms", "store append p99 ms", false},
	{"bus_lag_p50_ms", "bus lag p50 ms (publish → other node)", false},
	{"bus_lag_p99_ms", "bus lag p99 ms", false},
	{"redis_cpu_us_per_message", "Redis CPU µs per message", false},
	{"redis_publish_us_per_call", "Redis µs executing one PUBLISH", false},
	{"store_appends_s", "store appends/s", false},
	{"postgres_cpu_us_per_append", "PostgreSQL CPU µs per append (its backends)", false},
	{"gap_fills", "gap fills (reordered or lost on the bus)", false},
	{"lost", "lost", false},
}

const clusterIntro = "`banter bench cluster`: 1,000 users of protocol 1 in one room, senders (1/2 msg/s each, independent) among them. " +
	"**banter**: one node with the shipped defaults (SQLite). **banter-pg**: one node on PostgreSQL and Redis (a cluster of one: the store commit and the PUBLISH are in the path, local delivery does not wait for Redis). " +
	"**cluster-3**: three nodes on PostgreSQL and Redis; the senders are connected to node 1, the other users to nodes 2 and 3 (400 each), so that most deliveries cross the bus: store commit on node 1, PUBLISH, Redis, the subscription of nodes 2 and 3. " +
	"Every node and the Redis of the run (a fresh `redis-server`, no persistence) are pinned to CPU 0, the generator to CPU 1; PostgreSQL is the machine's (not pinned, `synchronous_commit=on`), a fresh schema per run. " +
	"**This measures cost per delivery and the latency of the path, not a cluster's capacity**: on this 2-core machine the three nodes share one core. " +
	"Store append and bus lag come from the nodes' `/metrics` (histogram buckets, interpolated); Redis CPU from its `INFO` (all its work: the PUBLISHes, delivering them to the subscribed nodes, the roster's heartbeats)."

// clusterTable is the table of the cluster block: one column per
// deployment, ratios to the single node on SQLite.
var clusterTable = table{key: "cluster", title: "Cluster: one room across nodes (banter on PostgreSQL and Redis)",
	param: "offered_deliveries_s", stepTitle: "offered deliveries/s", base: "banter", intro: clusterIntro, cols: clusterColumns}

// clusterSection renders the cluster table and, for each multi-node
// deployment, what each node spent.
func (r *report) clusterSection() string {
	if len(r.byKey["cluster"]) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(r.tableMarkdown(clusterTable))
	for _, d := range r.servers("cluster") {
		if !strings.HasPrefix(d, "cluster-") {
			continue
		}
		steps := r.steps("cluster", "offered_deliveries_s")
		var nodes int
		for _, x := range r.byKey["cluster"] {
			if x.Server == d {
				nodes = max(nodes, int(x.Params["nodes"]))
			}
		}
		fmt.Fprintf(&b, "Per node of %s (node 1 holds the senders: it commits every message and publishes it; the others receive it from Redis):\n\n", d)
		b.WriteString("| offered deliveries/s | node | deliveries/s | CPU (cores) | CPU µs per delivery |\n|---|---|---|---|---|\n")
		for _, s := range steps {
			for i := 1; i <= nodes; i++ {
				q := sel{"cluster", d, map[string]float64{"offered_deliveries_s": s}}
				p := fmt.Sprintf("node%d_", i)
				label := ""
				if i == 1 {
					label = num(s)
				}
				fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", label, i, r.stat(q, p+"deliveries_s"), r.stat(q, p+"cpu"), r.stat(q, p+"cpu_us_per_delivery"))
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// clusterTargets: in cluster mode, the p99 at the same load ≤ 1.2× the
// single node's (median of the runs), for one node on PostgreSQL and
// Redis and for the multi-node deployments (there: all deliveries, most of
// which crossed the bus).
func (r *report) clusterTargets(t *targetTable) {
	const od = "offered_deliveries_s"
	for _, s := range r.steps("cluster", od) {
		step := map[string]float64{od: s}
		base := r.stat(sel{"cluster", "banter", step}, "latency_p99_ms")
		if !base.ok() {
			continue
		}
		for _, d := range r.servers("cluster") {
			if d == "banter" {
				continue
			}
			p := r.stat(sel{"cluster", d, step}, "latency_p99_ms")
			if !p.ok() {
				continue
			}
			t.row(fmt.Sprintf("%s deliveries/s to 1,000 in one room: %s p99 ≤ 1.2× the single node's (ms)", num(s), d),
				p.String(), "banter "+base.String(), p.med/base.med, verdict(p.med <= 1.2*base.med))
		}
	}
}

// orderServers sorts servers: those of serverOrder and clusterOrder first,
// in that order, then the others by name.
func orderServers(have []string) []string {
	var out []string
	for _, s := range append(slices.Clone(serverOrder), clusterOrder...) {
		if slices.Contains(have, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	var rest []string
	for _, s := range have {
		if !slices.Contains(out, s) {
			rest = append(rest, s)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}
