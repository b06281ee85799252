#!/usr/bin/env bash
# Runs the benchmark ladder against Banter and the Node.js Socket.IO reference
# server, interleaved, and regenerates docs/benchmarks.md.
#
#   scripts/bench.sh           full ladder, 3 runs per step (~20 minutes)
#   scripts/bench.sh --quick   1 run per step, fewer and shorter steps (~2 minutes)
#   --xmpp-only                only the XMPP steps (Banter against prosody)
#
# Each server runs pinned to CPU 0, the load generator to CPU 1. Results (JSON
# lines) go to bench/results/ (git-ignored) and are copied to
# bench/results/summary/results.jsonl with the plots (committed). Only the
# processes this script starts are stopped, by PID. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
RUNS=3
XMPP_ONLY=0
for a in "$@"; do
	case "$a" in
	--quick) QUICK=1; RUNS=1 ;;
	--xmpp-only) XMPP_ONLY=1 ;;
	-h|--help) sed -n '2,12p' "$0"; exit 0 ;;
	*) echo "bench.sh: unknown argument $a (want --quick, --xmpp-only)" >&2; exit 2 ;;
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

# --- XMPP: the product binary (banter serve --xmpp) against prosody ---------
# Both pinned to CPU 0 like the other servers, fresh for every run, with the
# same RSA-2048 certificate (generated once per ladder). Needs Debian's
# prosody (scripts/deps.sh installs it); skipped with a note without it.
XMPP_DIR="$PWD/$LOGS/xmpp" # absolute: prosody reads paths relative to its config file
xmpp_setup() {
	mkdir -p "$XMPP_DIR"
	go build -o bin/banter ./cmd/banter
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$XMPP_DIR/key.pem" -out "$XMPP_DIR/cert.pem" -days 2 \
		-subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,DNS:rooms.localhost" 2>/dev/null
}

# free_port: a TCP port nobody listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_xmpp banter|prosody tls|plain: sets SERVER_PID and XMPP_PORT.
# Banter gets the certificate only for TLS steps (with one, STARTTLS is
# required); prosody has it always and does not require it.
start_xmpp() {
	local which=$1 dir="$XMPP_DIR/$1-$RANDOM" cert=()
	mkdir -p "$dir/data" "$dir/certs"
	XMPP_PORT=$(free_port)
	[ "$2" = tls ] && cert=(--tls-cert "$XMPP_DIR/cert.pem" --tls-key "$XMPP_DIR/key.pem")
	case "$which" in
	banter)
		taskset -c 0 bin/banter serve --addr 127.0.0.1:0 --db "$dir/banter.db" --xmpp "127.0.0.1:$XMPP_PORT" \
			--xmpp-domain localhost "${cert[@]}" --rate-per-second 1000 --rate-burst 1000 --log-level warn >"$dir/log" 2>&1 &
		;;
	prosody)
		cat >"$dir/prosody.cfg.lua" <<CFG
run_as_root = true
daemonize = false
pidfile = "$dir/prosody.pid"
data_path = "$dir/data"
certificates = "$dir/certs"
log = { warn = "$dir/log" }
interfaces = { "127.0.0.1" }
c2s_ports = { $XMPP_PORT }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
admin_socket = "$dir/admin.sock"
modules_enabled = { "roster", "saslauth", "tls", "disco", "ping", "posix", "smacks", "carbons" }
modules_disabled = { "s2s" }
c2s_require_encryption = false
authentication = "anonymous"
storage = "memory"
ssl = { certificate = "$XMPP_DIR/cert.pem"; key = "$XMPP_DIR/key.pem" }
VirtualHost "localhost"
Component "rooms.localhost" "muc"
  muc_room_locking = false
  muc_room_default_persistent = true
CFG
		taskset -c 0 prosody --config "$dir/prosody.cfg.lua" >>"$dir/log" 2>&1 &
		;;
	esac
	SERVER_PID=$!
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$XMPP_PORT") 2>/dev/null && break
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			echo "bench.sh: $which (XMPP) died:" >&2; cat "$dir/log" >&2; exit 1
		fi
		sleep 0.1
	done
	sleep 1
}

# xmpp_step SCENARIO ARGS...: RUNS runs against banter and prosody,
# interleaved like step.
xmpp_step() {
	local scenario=$1; shift
	local run order tls=plain
	[[ " $* " == *" --tls "* ]] && tls=tls
	for run in $(seq 1 "$RUNS"); do
		if [ $((run % 2)) -eq 1 ]; then order="banter prosody"; else order="prosody banter"; fi
		for srv in $order; do
			start_xmpp "$srv" "$tls"
			echo "== $scenario $* against $srv, run $run" >&2
			if ! timeout 300 taskset -c 1 "$BENCH" "$scenario" --addr "127.0.0.1:$XMPP_PORT" --server-pid "$SERVER_PID" \
				--label "$srv" --run "$run" --out "$RESULTS" "$@" >"$LOGS/$scenario-$srv-$run-$RANDOM.txt"; then
				echo "bench.sh: $scenario $* against $srv failed (see $LOGS)" >&2
			fi
			tail -n 1 "$RESULTS" >&2 || true
			stop_server
		done
	done
}

xmpp_ladder() {
	if ! command -v prosody >/dev/null || ! command -v openssl >/dev/null; then
		echo "bench.sh: prosody or openssl missing (scripts/deps.sh): XMPP steps skipped" >&2
		return
	fi
	xmpp_setup
	if [ "$QUICK" = 1 ]; then
		for t in "" --tls; do xmpp_step xmpp-idle --n 1000 $t; done
		for t in "" --tls; do xmpp_step xmpp-logins --duration 3s $t; done
		xmpp_step xmpp-fanout --receivers 300 --rate 50 --duration 3s
	else
		for t in "" --tls; do xmpp_step xmpp-idle --n 2000 $t; done
		for t in "" --tls; do xmpp_step xmpp-logins --duration 10s $t; done
		for r in 30 100; do xmpp_step xmpp-fanout --receivers 1000 --rate "$r" --duration 10s; done
	fi
}

T0=$(date +%s)
if [ "$XMPP_ONLY" = 1 ]; then
	: # the XMPP steps below only
elif [ "$QUICK" = 1 ]; then
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
xmpp_ladder
echo "bench.sh: ladder done in $(( $(date +%s) - T0 )) s" >&2
if [ "$XMPP_ONLY" = 1 ]; then
	# A partial ladder does not replace the published one.
	cp "$RESULTS" bench/results/xmpp-latest.jsonl
	echo "bench.sh: XMPP results in $RESULTS (docs/benchmarks.md is regenerated by full runs only)" >&2
	exit 0
fi

cp "$RESULTS" bench/results/latest.jsonl
cp "$RESULTS" bench/results/summary/results.jsonl
"$BENCH" report --results bench/results/summary/results.jsonl --out docs/benchmarks.md \
	--plots bench/results/summary --plots-link ../bench/results/summary --notes bench/analysis.md \
	--command "scripts/bench.sh$([ "$QUICK" = 1 ] && echo ' --quick')"
