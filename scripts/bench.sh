#!/usr/bin/env bash
# Runs the benchmark ladder against Banter and the Node.js Socket.IO reference
# server, interleaved, and regenerates docs/benchmarks.md.
#
#   scripts/bench.sh           full ladder, 3 runs per step (~20 minutes)
#   scripts/bench.sh --quick   1 run per step, fewer and shorter steps (~2 minutes)
#
# Each server runs pinned to CPU 0, the load generator to CPU 1. Results (JSON
# lines) go to bench/results/ (git-ignored) and are copied to
# bench/results/summary/results.jsonl with the plots (committed). Only the
# processes this script starts are stopped, by PID. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
RUNS=3
for a in "$@"; do
	case "$a" in
	--quick) QUICK=1; RUNS=1 ;;
	-h|--help) sed -n '2,12p' "$0"; exit 0 ;;
	*) echo "bench.sh: unknown argument $a (want --quick)" >&2; exit 2 ;;
	esac
done

for tool in go node taskset; do
	command -v "$tool" >/dev/null || { echo "bench.sh: $tool is required" >&2; exit 1; }
done
if [ "$(nproc)" -lt 2 ]; then
	echo "bench.sh: needs 2 CPUs (server on CPU 0, generator on CPU 1)" >&2
	exit 1
fi
if [ ! -f node_modules/socket.io/package.json ]; then
	echo "bench.sh: installing the npm packages (socket.io 4.8)" >&2
	npm ci --no-audit --no-fund >&2
fi

mkdir -p bin bench/results/summary
go build -o bin/banter-bench ./cmd/banter-bench
BENCH=bin/banter-bench
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=bench/results/run-$STAMP.jsonl
LOGS=bench/results/logs-$STAMP
mkdir -p "$LOGS"
: >"$RESULTS"

SERVER_PID=""
cleanup() {
	if [ -n "$SERVER_PID" ]; then
		kill -KILL "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server banter|node: sets SERVER_PID and SERVER_PORT.
start_server() {
	local which=$1 out="$LOGS/server-$1-$RANDOM.log"
	: >"$out" # exists before the server's shell opens it: polled below
	case "$which" in
	banter) taskset -c 0 "$BENCH" serve --addr 127.0.0.1:0 >"$out" 2>&1 & ;;
	node) taskset -c 0 node bench/node/server.js 0 127.0.0.1 >"$out" 2>&1 & ;;
	esac
	SERVER_PID=$!
	SERVER_PORT=""
	for _ in $(seq 1 300); do
		SERVER_PORT=$(awk '/^LISTENING /{print $2; exit}' "$out" || true)
		[ -n "$SERVER_PORT" ] && break
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			echo "bench.sh: $which server died:" >&2; cat "$out" >&2; exit 1
		fi
		sleep 0.1
	done
	if [ -z "$SERVER_PORT" ]; then
		echo "bench.sh: $which server did not listen within 30 s" >&2; exit 1
	fi
	# Let the runtime finish starting before the RSS baseline is read.
	sleep 1
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
}

# step SCENARIO ARGS...: RUNS runs against each server, interleaved (the
# order alternates so neither server always goes first).
step() {
	local scenario=$1; shift
	local run order
	for run in $(seq 1 "$RUNS"); do
		if [ $((run % 2)) -eq 1 ]; then order="banter node"; else order="node banter"; fi
		for srv in $order; do
			start_server "$srv"
			echo "== $scenario $* against $srv, run $run" >&2
			if ! timeout 300 taskset -c 1 "$BENCH" "$scenario" --addr "127.0.0.1:$SERVER_PORT" --server-pid "$SERVER_PID" \
				--label "$srv" --run "$run" --out "$RESULTS" "$@" >"$LOGS/$scenario-$srv-$run-$RANDOM.txt"; then
				echo "bench.sh: $scenario $* against $srv failed (see $LOGS)" >&2
			fi
			tail -n 1 "$RESULTS" >&2 || true
			stop_server
		done
	done
}

# floor ARGS...: the platform floor (bench floor-serve on CPU 0, bench floor
# on CPU 1), RUNS runs; results go with the others (the report shows them in
# a section of their own).
floor() {
	local run out port pid
	for run in $(seq 1 "$RUNS"); do
		out="$LOGS/floor-serve-$RANDOM.log"
		: >"$out"
		taskset -c 0 "$BENCH" floor-serve --addr 127.0.0.1:0 >"$out" 2>&1 &
		SERVER_PID=$!
		port=""
		for _ in $(seq 1 100); do
			port=$(awk '/^LISTENING /{print $2; exit}' "$out" || true)
			[ -n "$port" ] && break
			sleep 0.1
		done
		echo "== floor $* run $run" >&2
		if [ -z "$port" ] || ! timeout 120 taskset -c 1 "$BENCH" floor --addr "127.0.0.1:$port" --server-pid "$SERVER_PID" \
			--label floor --run "$run" --out "$RESULTS" "$@" >"$LOGS/floor-$run-$RANDOM.txt"; then
			echo "bench.sh: floor $* failed (see $LOGS)" >&2
		fi
		stop_server
	done
}

# --- MQTT: the shipped banter (--mqtt, its SQLite store) next to Debian's
# Mosquitto (persistence off), each started fresh for every run on CPU 0 with
# a port of its own, the load generator on CPU 1, runs interleaved. Banter
# gets --rate-per-second/--rate-burst 1000: the default 5 messages per second
# per user would refuse the publishers' load (docs/benchmarks.md, MQTT).
MQTT_DIR=""
# mqtt_start banter|mosquitto: sets SERVER_PID and MQTT_PORT.
mqtt_start() {
	local which=$1 out port i
	[ -n "$MQTT_DIR" ] || MQTT_DIR=$(mktemp -d)
	out="$LOGS/mqtt-$which-$RANDOM.log"
	: >"$out"
	MQTT_PORT=""
	for i in 1 2 3 4 5; do
		case "$which" in
		banter)
			rm -f "$MQTT_DIR"/banter.db*
			taskset -c 0 bin/banter --addr 127.0.0.1:0 --mqtt 127.0.0.1:0 --db "$MQTT_DIR/banter.db" \
				--rate-per-second 1000 --rate-burst 1000 >"$out" 2>&1 &
			SERVER_PID=$!
			for _ in $(seq 1 100); do
				port=$(sed -n 's/.*Banter MQTT on [0-9.]*:\([0-9]*\).*/\1/p' "$out" | head -n 1)
				[ -n "$port" ] && break
				kill -0 "$SERVER_PID" 2>/dev/null || break
				sleep 0.1
			done
			;;
		mosquitto)
			port=$((20000 + RANDOM % 20000))
			printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_connections -1\nlog_dest stdout\nlog_type error\nlog_type warning\nlog_type notice\n' \
				"$port" >"$MQTT_DIR/mosquitto.conf"
			taskset -c 0 mosquitto -c "$MQTT_DIR/mosquitto.conf" >"$out" 2>&1 &
			SERVER_PID=$!
			for _ in $(seq 1 50); do
				(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
				kill -0 "$SERVER_PID" 2>/dev/null || { port=""; break; }
				sleep 0.1
			done
			;;
		esac
		if [ -n "$port" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
			MQTT_PORT=$port
			sleep 1 # the runtime settles before the RSS baseline is read
			return 0
		fi
		stop_server
	done
	echo "bench.sh: $which did not start (see $out)" >&2
	exit 1
}

# mqtt_step SCENARIO ARGS...: RUNS runs against each broker, interleaved.
mqtt_step() {
	local scenario=$1; shift
	local run order srv
	for run in $(seq 1 "$RUNS"); do
		if [ $((run % 2)) -eq 1 ]; then order="banter mosquitto"; else order="mosquitto banter"; fi
		for srv in $order; do
			mqtt_start "$srv"
			echo "== $scenario $* against $srv, run $run" >&2
			if ! timeout 300 taskset -c 1 "$BENCH" "$scenario" --addr "127.0.0.1:$MQTT_PORT" --server-pid "$SERVER_PID" \
				--label "$srv" --run "$run" --out "$RESULTS" "$@" >"$LOGS/$scenario-$srv-$run-$RANDOM.txt"; then
				echo "bench.sh: $scenario $* against $srv failed (see $LOGS)" >&2
			fi
			tail -n 1 "$RESULTS" >&2 || true
			stop_server
		done
	done
}

# mqtt_ladder: the MQTT scenarios (bench/mqtt*.go), ~12 minutes (--quick: ~2).
mqtt_ladder() {
	command -v mosquitto >/dev/null || { echo "bench.sh: mosquitto is required for the MQTT ladder (scripts/deps.sh installs it)" >&2; exit 1; }
	go build -o bin/banter ./cmd/banter
	local n r
	if [ "$QUICK" = 1 ]; then
		for r in each one; do mqtt_step mqtt-idle --n 2000 --rooms "$r" --hold 5s; done
		for r in 30 100; do mqtt_step mqtt-fanout --n 1000 --rate "$r" --warmup 1s --duration 3s; done
		mqtt_step mqtt-fanout --n 1000 --rate 30 --qos 1 --persistent --warmup 1s --duration 3s
		mqtt_step mqtt-churn --rate 2000 --duration 3s --settle 5s
	else
		for n in 5000 10000; do mqtt_step mqtt-idle --n "$n" --rooms each --sources 2; done
		mqtt_step mqtt-idle --n 5000 --rooms one
		# QoS 0 fan-out, 1,000 subscribers of one room, 10 publishers
		# interleaved: 30,000 to 400,000 deliveries/s offered.
		for r in 30 100 200 300 400; do mqtt_step mqtt-fanout --n 1000 --rate "$r"; done
		for r in 30 100; do mqtt_step mqtt-fanout --n 1000 --rate "$r" --qos 1 --persistent; done
		for r in 2000 5000; do mqtt_step mqtt-churn --rate "$r" --duration 5s --settle 10s; done
	fi
	[ -n "$MQTT_DIR" ] && rm -rf "$MQTT_DIR"
}

T0=$(date +%s)
if [ "$QUICK" = 1 ]; then
	for n in 1000 5000; do step idle --n "$n" --sources 2; done
	for r in 50 150; do step fanout --n 1000 --rate "$r" --warmup 1s --duration 3s; done
	step echo --clients 10 --duration 3s
	step churn --rate 20000 --duration 3s --settle 5s
else
	for n in 1000 5000 19000; do step idle --n "$n" --sources 2; done
	for r in 50 100 200 300 400; do step fanout --n 1000 --rate "$r"; done
	# 19,000 receivers in one room at 4 and 10 msgs/s: 76,000 and 190,000
	# deliveries/s offered, above Node's saturation there.
	for r in 4 10; do step fanout --n 19000 --sources 2 --rate "$r" --warmup 2s --duration 5s; done
	# One frozen client among 1,000 (issue: slow consumers must not move
	# the others' p99): compare with the same step without it.
	for s in 0 1; do step fanout --n 1000 --rate 200 --stalled "$s" --duration 20s; done
	for c in 10 100; do step echo --clients "$c"; done
	step churn --rate 20000 --duration 5s --settle 10s
	for n in 1000 19000; do floor --n "$n" --sources 2 --rounds 10; done
fi
mqtt_ladder
echo "bench.sh: ladder done in $(( $(date +%s) - T0 )) s" >&2

cp "$RESULTS" bench/results/latest.jsonl
cp "$RESULTS" bench/results/summary/results.jsonl
"$BENCH" report --results bench/results/summary/results.jsonl --out docs/benchmarks.md \
	--plots bench/results/summary --plots-link ../bench/results/summary --notes bench/analysis.md \
	--command "scripts/bench.sh$([ "$QUICK" = 1 ] && echo ' --quick')"
