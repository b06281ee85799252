#!/usr/bin/env bash
# Runs the benchmark ladder and regenerates docs/benchmarks.md:
#   engine  `banter bench serve`: Banter's Socket.IO engine with the workload
#   banter  the shipped `banter` binary with its defaults (SQLite in a temp dir)
#   node    Node.js socket.io 4.8 with the same workload (bench/node/server.js)
#   prosody Debian's prosody, the XMPP reference (block xmpp, against banter --xmpp)
# interleaved (the order rotates every run), plus the platform floor; and the
# MQTT block: the shipped banter with --mqtt next to Debian's mosquitto.
#
#   scripts/bench.sh           full ladder, 3 runs per step (about an hour)
#   scripts/bench.sh --quick   1 run per step, fewer and shorter steps (~5 minutes)
#   scripts/bench.sh --only NAME[,NAME]  only these blocks: idle fanout large
#                              product joinstorm stalled echo churn floor cluster mqtt xmpp
#
# The cluster block runs `banter` nodes on the machine's PostgreSQL
# (BANTER_BENCH_POSTGRES, default the tests' database; a fresh schema per run,
# dropped with psql) and a redis-server of its own (a fresh one per run, on a
# free port), against the single node on SQLite: CPU per delivery, the path's
# latency, store and bus costs. Every node and Redis share CPU 0: these are
# costs per delivery and latencies, not a cluster's capacity.
#
# Each server runs pinned to CPU 0, the load generator to CPU 1. Results (JSON
# lines) go to bench/results/ (git-ignored) and are copied to
# bench/results/summary/results.jsonl with the plots (committed). Only the
# processes this script starts are stopped, by PID. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
RUNS=3
ONLY=""
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1; RUNS=1 ;;
	--only) ONLY=",$2,"; shift ;;
	-h|--help) sed -n '2,26p' "$0"; exit 0 ;;
	*) echo "bench.sh: unknown argument $1 (want --quick or --only NAMES)" >&2; exit 2 ;;
	esac
	shift
done
want() { [ -z "$ONLY" ] || [[ $ONLY == *",$1,"* ]]; }

for tool in go node taskset python3; do
	command -v "$tool" >/dev/null || { echo "bench.sh: $tool is required" >&2; exit 1; }
done
if want cluster; then
	for tool in redis-server redis-cli psql; do
		command -v "$tool" >/dev/null || { echo "bench.sh: $tool is required for the cluster block (scripts/deps.sh)" >&2; exit 1; }
	done
fi
if [ "$(nproc)" -lt 2 ]; then
	echo "bench.sh: needs 2 CPUs (server on CPU 0, generator on CPU 1)" >&2
	exit 1
fi
if want mqtt && ! command -v mosquitto >/dev/null; then
	echo "bench.sh: mosquitto is required for the MQTT block (scripts/deps.sh installs it)" >&2
	exit 1
fi
if [ ! -f node_modules/socket.io/package.json ]; then
	echo "bench.sh: installing the npm packages (socket.io 4.8)" >&2
	npm ci --no-audit --no-fund >&2
fi

mkdir -p bin bench/results/summary
echo "bench.sh: building bin/banter" >&2
scripts/bundle.sh >/dev/null 2>&1 || true
go build -o bin/banter ./cmd/banter
BENCH="bin/banter bench"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=bench/results/run-$STAMP.jsonl
LOGS=bench/results/logs-$STAMP
mkdir -p "$LOGS"
: >"$RESULTS"

SERVER_PID=""
DATA_DIR=""
NODE_PIDS=()   # cluster block: banter nodes
REDIS_PID=""   # cluster block: its redis-server
SCHEMA=""      # cluster block: the run's PostgreSQL schema
# XMPP: when set, banter also serves XMPP (--xmpp) and prosody can be
# started; XMPP_CERT is the certificate's file prefix for STARTTLS steps
# (banter then requires STARTTLS; prosody always offers it).
XMPP=""
XMPP_CERT=""
cleanup() {
	if [ -n "$SERVER_PID" ]; then
		kill -KILL "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	[ -n "$DATA_DIR" ] && rm -rf "$DATA_DIR"
	stop_cluster
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# await_line FILE PATTERN: waits (30 s at most) until FILE has a line
# matching PATTERN, and prints the first match.
await_line() {
	local file=$1 pattern=$2 line=""
	for _ in $(seq 1 300); do
		line=$(grep -m1 -E "$pattern" "$file" || true)
		[ -n "$line" ] && { echo "$line"; return 0; }
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			echo "bench.sh: the server died:" >&2; cat "$file" >&2; exit 1
		fi
		sleep 0.1
	done
	echo "bench.sh: no line like /$pattern/ in $file after 30 s" >&2; cat "$file" >&2; exit 1
}

# BANTER_FLAGS: extra flags of the shipped banter (the MQTT block adds its
# MQTT listener).
BANTER_FLAGS=()

# start_server engine|banter|node|mosquitto|prosody: sets SERVER_PID and
# SERVER_PORT (and TCP_PORT for banter, MQTT_PORT for banter with --mqtt and
# mosquitto, XMPP_PORT for banter with XMPP set; prosody's SERVER_PORT is its
# XMPP port).
start_server() {
	local which=$1 out="$LOGS/server-$1-$RANDOM.log" xmpp=()
	: >"$out" # exists before the server's shell opens it: polled below
	if [ -n "$XMPP" ]; then
		xmpp=(--xmpp 127.0.0.1:0 --xmpp-domain localhost)
		[ -n "$XMPP_CERT" ] && xmpp+=(--tls-cert "$XMPP_CERT.crt" --tls-key "$XMPP_CERT.key")
	fi
	case "$which" in
	engine) taskset -c 0 bin/banter bench serve --addr 127.0.0.1:0 >"$out" 2>&1 & ;;
	node) taskset -c 0 node bench/node/server.js 0 127.0.0.1 >"$out" 2>&1 & ;;
	banter)
		DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/banter-bench.XXXXXX")
		taskset -c 0 bin/banter --addr 127.0.0.1:0 --tcp 127.0.0.1:0 --db "$DATA_DIR/banter.db" "${xmpp[@]}" "${BANTER_FLAGS[@]}" >"$out" 2>&1 &
		;;
	mosquitto)
		# Debian's broker on a free port of its own, persistence off,
		# its config in a temp dir.
		DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mosquitto-bench.XXXXXX")
		MQTT_PORT=$(free_port)
		printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_connections -1\nlog_dest stdout\nlog_type error\nlog_type warning\nlog_type notice\n' \
			"$MQTT_PORT" >"$DATA_DIR/mosquitto.conf"
		taskset -c 0 mosquitto -c "$DATA_DIR/mosquitto.conf" >"$out" 2>&1 &
		;;
	prosody)
		DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/prosody-bench.XXXXXX")
		SERVER_PORT=$(free_port)
		prosody_config "$DATA_DIR" "$SERVER_PORT" >"$DATA_DIR/prosody.cfg.lua"
		taskset -c 0 prosody --config "$DATA_DIR/prosody.cfg.lua" >"$out" 2>&1 &
		;;
	esac
	SERVER_PID=$!
	if [ "$which" = banter ]; then
		SERVER_PORT=$(await_line "$out" 'Banter listening on' | grep -oE ':[0-9]+' | tail -1 | tr -d :)
		TCP_PORT=$(await_line "$out" 'TCP line protocol on' | grep -oE ':[0-9]+' | tail -1 | tr -d :)
		if [ ${#BANTER_FLAGS[@]} -gt 0 ]; then
			MQTT_PORT=$(await_line "$out" 'Banter MQTT on' | grep -oE ':[0-9]+' | tail -1 | tr -d :)
		fi
		[ -n "$XMPP" ] && XMPP_PORT=$(await_line "$out" 'Banter XMPP on' | grep -oE 'XMPP on [^ "]+' | grep -oE '[0-9]+$')
	elif [ "$which" = mosquitto ]; then
		await_port "$MQTT_PORT" "$out"
	elif [ "$which" = prosody ]; then
		await_port "$SERVER_PORT" "$out"
	else
		SERVER_PORT=$(await_line "$out" '^LISTENING ' | awk '{print $2}')
	fi
	# Let the runtime finish starting before the RSS baseline is read.
	sleep 1
}

# free_port: a loopback TCP port nobody listens on now (prosody cannot
# listen on port 0 and say which port it got).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# await_port PORT LOG: waits (30 s at most) until the server accepts
# connections on PORT.
await_port() {
	for _ in $(seq 1 300); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			echo "bench.sh: the server died:" >&2; cat "$2" >&2; exit 1
		fi
		sleep 0.1
	done
	echo "bench.sh: nothing listens on port $1 after 30 s" >&2; cat "$2" >&2; exit 1
}

# prosody_config DIR PORT: prosody's configuration, unprivileged in DIR:
# anonymous logins on the virtual host localhost, in-memory storage, a MUC
# component on rooms.localhost with Banter's room policy (unlocked,
# persistent), the ladder's certificate offered with STARTTLS (not
# required, as banter without a certificate).
prosody_config() {
	cat <<CFG
run_as_root = true
daemonize = false
pidfile = "$1/prosody.pid"
data_path = "$1"
certificates = "$1"
log = { warn = "$1/prosody.log" }
interfaces = { "127.0.0.1" }
c2s_ports = { $2 }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
admin_socket = "$1/admin.sock"
modules_enabled = { "roster", "saslauth", "tls", "disco", "ping", "posix", "smacks", "carbons" }
modules_disabled = { "s2s" }
c2s_require_encryption = false
authentication = "anonymous"
storage = "memory"
ssl = { certificate = "${XMPP_CERT:-$XMPP_CERTS/rsa}.crt"; key = "${XMPP_CERT:-$XMPP_CERTS/rsa}.key" }
VirtualHost "localhost"
Component "rooms.localhost" "muc"
  muc_room_locking = false
  muc_room_default_persistent = true
CFG
}

stop_server() {
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=""
	if [ -n "$DATA_DIR" ]; then rm -rf "$DATA_DIR"; DATA_DIR=""; fi
}

# step "SERVERS" SCENARIO ARGS...: RUNS runs against each server, the order
# rotating every run. An argument --via-tcp (--via-mqtt) of ARGS points the
# scenario at the server's TCP (MQTT) address instead of its HTTP one; against
# banter, --via-xmpp points it at banter's XMPP address.
step() {
	local servers=($1); shift
	local scenario=$1; shift
	local run i n=${#servers[@]}
	for run in $(seq 1 "$RUNS"); do
		for i in $(seq 0 $((n - 1))); do
			local srv=${servers[$(((i + run - 1) % n))]}
			start_server "$srv"
			local addr="127.0.0.1:$SERVER_PORT" args=()
			for a in "$@"; do
				case "$a" in
				--via-tcp) addr="127.0.0.1:$TCP_PORT" ;;
				--via-mqtt) addr="127.0.0.1:$MQTT_PORT" ;;
				--via-xmpp) [ "$srv" = banter ] && addr="127.0.0.1:$XMPP_PORT" ;;
				*) args+=("$a") ;;
				esac
			done
			echo "== $scenario ${args[*]} against $srv, run $run" >&2
			if ! timeout 600 taskset -c 1 $BENCH "$scenario" --addr "$addr" --server-pid "$SERVER_PID" \
				--label "$srv" --run "$run" --out "$RESULTS" "${args[@]}" >"$LOGS/$scenario-$srv-$run-$RANDOM.txt" 2>&1; then
				echo "bench.sh: $scenario ${args[*]} against $srv failed (see $LOGS)" >&2
			fi
			tail -n 1 "$RESULTS" >&2 || true
			stop_server
		done
	done
}

# --- cluster block -----------------------------------------------------------
BENCH_PG=${BANTER_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}

# start_redis: a redis-server of this run on CPU 0, no persistence; sets
# REDIS_PID and REDIS_PORT.
start_redis() {
	local out="$LOGS/redis-$RANDOM.log"
	REDIS_PORT=$(free_port)
	taskset -c 0 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$out" 2>&1 &
	REDIS_PID=$!
	for _ in $(seq 1 100); do
		redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0
		kill -0 "$REDIS_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench.sh: redis-server did not start:" >&2; cat "$out" >&2; exit 1
}

# store_url: the run's PostgreSQL URL (its schema; its application_name
# names the nodes' backends, whose CPU bench cluster reads).
store_url() {
	local sep='?'
	[[ $BENCH_PG == *'?'* ]] && sep='&'
	echo "$BENCH_PG${sep}search_path=$SCHEMA&application_name=$SCHEMA"
}

# start_node [cluster]: one banter node on CPU 0 (SQLite in DATA_DIR, or with
# "cluster" the run's schema and Redis); appends to NODE_PIDS and NODES
# (ADDR=PID,...).
start_node() {
	local out="$LOGS/node-$RANDOM.log" args=(--addr 127.0.0.1:0 --db "$DATA_DIR/banter-$RANDOM.db")
	if [ "${1:-}" = cluster ]; then
		args+=(--store "$(store_url)" --redis "redis://127.0.0.1:$REDIS_PORT/0?prefix=bench:")
	fi
	: >"$out"
	taskset -c 0 bin/banter "${args[@]}" >"$out" 2>&1 &
	local pid=$!
	NODE_PIDS+=("$pid")
	SERVER_PID=$pid # for await_line's liveness check
	local port
	port=$(await_line "$out" 'Banter listening on' | grep -oE ':[0-9]+' | tail -1 | tr -d :)
	SERVER_PID=""
	NODES="${NODES:+$NODES,}127.0.0.1:$port=$pid"
}

stop_cluster() {
	local pid
	for pid in "${NODE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${NODE_PIDS[@]}"; do
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	NODE_PIDS=()
	if [ -n "$REDIS_PID" ]; then
		kill -TERM "$REDIS_PID" 2>/dev/null || true
		wait "$REDIS_PID" 2>/dev/null || true
		REDIS_PID=""
	fi
	if [ -n "$SCHEMA" ]; then
		psql -q "$BENCH_PG" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
		SCHEMA=""
	fi
	if [ -n "$DATA_DIR" ]; then rm -rf "$DATA_DIR"; DATA_DIR=""; fi
}

# start_deployment banter|banter-pg|cluster-N: one node on SQLite (the
# shipped defaults), one node on PostgreSQL + Redis, or N such nodes; sets
# NODES, REDIS_ARG and PG_ARG (the Redis and store URLs, empty on SQLite).
start_deployment() {
	local which=$1 i
	NODES=""
	DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/banter-bench.XXXXXX")
	case "$which" in
	banter) start_node; REDIS_ARG=""; PG_ARG="" ;;
	banter-pg | cluster-*)
		SCHEMA="banter_bench_$(date +%s)_$RANDOM"
		start_redis
		REDIS_ARG="redis://127.0.0.1:$REDIS_PORT"
		PG_ARG=$(store_url)
		local k=1
		[[ $which == cluster-* ]] && k=${which#cluster-}
		for i in $(seq 1 "$k"); do start_node cluster; done
		;;
	esac
	sleep 1 # let the runtimes finish starting
}

# cluster_step "DEPLOYMENTS" ARGS...: RUNS runs of `bench cluster` against
# each deployment, the order rotating every run.
cluster_step() {
	local deps=($1); shift
	local run i n=${#deps[@]}
	for run in $(seq 1 "$RUNS"); do
		for i in $(seq 0 $((n - 1))); do
			local d=${deps[$(((i + run - 1) % n))]}
			start_deployment "$d"
			echo "== cluster $* against $d, run $run" >&2
			if ! timeout 600 taskset -c 1 $BENCH cluster --nodes "$NODES" --redis "$REDIS_ARG" --postgres "$PG_ARG" \
				--label "$d" --run "$run" --out "$RESULTS" "$@" >"$LOGS/cluster-$d-$run-$RANDOM.txt" 2>&1; then
				echo "bench.sh: cluster $* against $d failed (see $LOGS)" >&2
			fi
			tail -n 1 "$RESULTS" >&2 || true
			stop_cluster
		done
	done
}

# floor ARGS...: the platform floor (bench floor-serve on CPU 0, bench floor
# on CPU 1), RUNS runs.
floor() {
	local run out port
	for run in $(seq 1 "$RUNS"); do
		out="$LOGS/floor-serve-$RANDOM.log"
		: >"$out"
		taskset -c 0 bin/banter bench floor-serve --addr 127.0.0.1:0 >"$out" 2>&1 &
		SERVER_PID=$!
		port=$(await_line "$out" '^LISTENING ' | awk '{print $2}')
		echo "== floor $* run $run" >&2
		if ! timeout 120 taskset -c 1 $BENCH floor --addr "127.0.0.1:$port" --server-pid "$SERVER_PID" \
			--label floor --run "$run" --out "$RESULTS" "$@" >"$LOGS/floor-$run-$RANDOM.txt"; then
			echo "bench.sh: floor $* failed (see $LOGS)" >&2
		fi
		stop_server
	done
}

# xmpp_steps: the XMPP block, banter (--xmpp) against prosody. Plain TCP
# steps run without a certificate; the STARTTLS steps once with an RSA-2048
# and once with an ECDSA P-256 certificate, the same file for both servers
# (generated once per ladder).
XMPP_CERTS="$PWD/$LOGS/xmpp-certs" # absolute: prosody reads paths from its own directory
xmpp_steps() {
	if ! command -v prosody >/dev/null || ! command -v openssl >/dev/null; then
		echo "bench.sh: prosody or openssl missing (scripts/deps.sh installs them): block xmpp skipped" >&2
		return 0
	fi
	mkdir -p "$XMPP_CERTS"
	local san="subjectAltName=DNS:localhost,DNS:rooms.localhost"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$XMPP_CERTS/rsa.key" -out "$XMPP_CERTS/rsa.crt" -days 2 \
		-subj /CN=localhost -addext "$san" 2>/dev/null
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$XMPP_CERTS/ecdsa.key" \
		-out "$XMPP_CERTS/ecdsa.crt" -days 2 -subj /CN=localhost -addext "$san" 2>/dev/null
	XMPP=1
	local n=2000 dur=10s logins=(xmpp-logins --via-xmpp --concurrency 16) rates="30 100" members=1000
	if [ "$QUICK" = 1 ]; then n=1000; dur=3s; rates=20; members=300; fi
	XMPP_CERT=""
	step "banter prosody" xmpp-idle --via-xmpp --n "$n"
	step "banter prosody" "${logins[@]}" --duration "$dur"
	for r in $rates; do
		local senders
		senders=$(senders_for "$r")
		step "banter prosody" xmpp-fanout --via-xmpp --receivers $((members - senders)) --senders "$senders" --rate "$r" --duration "$dur"
	done
	for k in rsa ecdsa; do
		XMPP_CERT="$XMPP_CERTS/$k"
		step "banter prosody" xmpp-idle --via-xmpp --n "$n" --tls
		step "banter prosody" "${logins[@]}" --duration "$dur" --tls
		# Returning clients: each keeps the session tickets of its
		# previous login (counted apart: tls_resumed, tls_full).
		step "banter prosody" "${logins[@]}" --duration "$dur" --tls --resume
	done
	XMPP="" XMPP_CERT=""
}

# The fan-out steps: rate in msgs/s with senders at 1/2 msg/s each (at least
# 10): within banter's per-user rate limits, like the users of a real room.
senders_for() { local s=$(($1 * 2)); [ "$s" -lt 10 ] && s=10; [ "$s" -gt 1000 ] && s=1000; echo "$s"; }

ALL="engine banter node"
MQTT="banter mosquitto"
T0=$(date +%s)
if [ "$QUICK" = 1 ]; then
	want idle && step "$ALL" idle --n 5000 --sources 2
	if want fanout; then
		for sh in poisson burst; do
			step "$ALL" fanout --n 1000 --rate 100 --senders "$(senders_for 100)" --shape "$sh" --warmup 1s --duration 3s
		done
	fi
	if want product; then
		step banter fanout --dialect v1 --n 1000 --rate 100 --senders "$(senders_for 100)" --warmup 1s --duration 3s
		step banter fanout --dialect v1 --rooms own --n 1000 --rate 500 --warmup 1s --duration 3s
	fi
	if want joinstorm; then
		for r in general ""; do
			step banter joinstorm --n 2000 --room "$r"
			step banter joinstorm --proto tcp --via-tcp --n 2000 --room "$r"
		done
	fi
	want churn && step "$ALL" churn --rate 20000 --duration 3s --settle 5s
	want cluster && cluster_step "banter banter-pg cluster-3" --n 1000 --rate 100 --senders "$(senders_for 100)" --warmup 1s --duration 3s
	if want mqtt; then
		BANTER_FLAGS=(--mqtt 127.0.0.1:0)
		for r in each one; do step "$MQTT" mqtt-idle --via-mqtt --n 2000 --rooms "$r" --hold 5s; done
		for r in 30 100; do
			step "$MQTT" mqtt-fanout --via-mqtt --n 1000 --rate "$r" --publishers "$(senders_for "$r")" --warmup 1s --duration 3s
		done
		step "$MQTT" mqtt-fanout --via-mqtt --n 1000 --rate 30 --publishers "$(senders_for 30)" --qos 1 --persistent --warmup 1s --duration 3s
		step "$MQTT" mqtt-churn --via-mqtt --rate 2000 --duration 3s --settle 5s
		BANTER_FLAGS=()
	fi
	want xmpp && xmpp_steps
else
	if want idle; then
		for n in 1000 5000; do step "$ALL" idle --n "$n" --sources 2; done
		# The headline: 15,000 opened at 2,000/s, read after a 30 s hold
		# (past the first heartbeat, so every connection has answered a ping).
		step "$ALL" idle --n 15000 --sources 2 --rate 2000 --settle 30s
	fi
	if want fanout; then
		for sh in poisson burst; do
			for r in 50 100 200 400; do
				step "$ALL" fanout --n 1000 --rate "$r" --senders "$(senders_for "$r")" --shape "$sh"
			done
		done
		step "$ALL" fanout --n 1000 --rate 100 --senders "$(senders_for 100)" --shape spread
	fi
	if want large; then
		# 19,000 receivers in one room at 4 and 10 msgs/s: 76,000 and 190,000
		# deliveries/s offered, above Node's saturation there.
		for r in 4 10; do step "$ALL" fanout --n 19000 --sources 2 --rate "$r" --senders 10 --warmup 2s --duration 5s; done
	fi
	if want product; then
		for r in 50 100 200; do
			step banter fanout --dialect v1 --n 1000 --rate "$r" --senders "$(senders_for "$r")"
		done
		for r in 200 1000 2000; do step banter fanout --dialect v1 --rooms own --n 1000 --rate "$r"; done
	fi
	if want joinstorm; then
		for n in 1000 10000; do
			for r in general ""; do
				step banter joinstorm --n "$n" --room "$r" --sources 2
				step banter joinstorm --proto tcp --via-tcp --n "$n" --room "$r" --sources 2
			done
		done
	fi
	if want stalled; then
		# One frozen client among 1,000: slow consumers must not move the
		# others' p99.
		for s in 0 1; do step "engine node" fanout --n 1000 --rate 200 --senders 10 --stalled "$s" --duration 20s; done
	fi
	if want echo; then
		for c in 10 100; do step "engine node" echo --clients "$c"; done
	fi
	want churn && step "$ALL" churn --rate 20000 --duration 5s --settle 10s
	want xmpp && xmpp_steps
	if want floor; then
		for n in 1000 19000; do floor --n "$n" --sources 2 --rounds 10; done
	fi
	if want cluster; then
		# 1,000 users in one room (the product's fan-out step), senders on
		# node 1, receivers on the others: one node on SQLite, one on
		# PostgreSQL + Redis, three on PostgreSQL + Redis.
		for r in 50 100 200; do
			cluster_step "banter banter-pg cluster-3" --n 1000 --rate "$r" --senders "$(senders_for "$r")"
		done
	fi
	if want mqtt; then
		# MQTT 3.1.1 clients against the shipped banter's MQTT listener and
		# Mosquitto: idle clients a room each and all in one room (connect +
		# subscribe time), QoS 0 fan-out to 1,000 subscribers of one room
		# from 30,000 to 400,000 deliveries/s offered (publishers at 1/2
		# msg/s each, interleaved), QoS 1 with persistent sessions, churn.
		BANTER_FLAGS=(--mqtt 127.0.0.1:0)
		for n in 5000 10000; do step "$MQTT" mqtt-idle --via-mqtt --n "$n" --rooms each --sources 2; done
		step "$MQTT" mqtt-idle --via-mqtt --n 5000 --rooms one
		for r in 30 100 200 300 400; do
			step "$MQTT" mqtt-fanout --via-mqtt --n 1000 --rate "$r" --publishers "$(senders_for "$r")"
		done
		for r in 30 100; do
			step "$MQTT" mqtt-fanout --via-mqtt --n 1000 --rate "$r" --publishers "$(senders_for "$r")" --qos 1 --persistent
		done
		for r in 2000 5000; do step "$MQTT" mqtt-churn --via-mqtt --rate "$r" --duration 5s --settle 10s; done
		BANTER_FLAGS=()
	fi
fi
echo "bench.sh: ladder done in $(( $(date +%s) - T0 )) s" >&2

cp "$RESULTS" bench/results/latest.jsonl
if [ -n "$ONLY" ]; then
	echo "bench.sh: --only: results in $RESULTS; the published summary and page are left alone" >&2
	exit 0
fi
cp "$RESULTS" bench/results/summary/results.jsonl
go run ./tools/benchreport --results bench/results/summary/results.jsonl --out docs/benchmarks.md \
	--plots bench/results/summary --plots-link ../bench/results/summary --notes bench/analysis.md \
	--command "scripts/bench.sh$([ "$QUICK" = 1 ] && echo ' --quick')"
