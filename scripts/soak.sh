#!/usr/bin/env bash
# Soak test: hold many chat connections with steady traffic and sample the
# server's RSS and goroutine count; write the samples, a summary and an SVG
# plot. The numbers go to docs/reliability.md.
#
#   scripts/soak.sh                         10,000 connections, 100 msg/s, 30 minutes
#   scripts/soak.sh --conns 2000 --for 3m   a short run
#
# Flags: --conns N  --rooms R  --rate MSG_PER_S  --for DURATION  --every SAMPLE_PERIOD
#        --out DIR (default tmp/soak-<stamp>, git-ignored)  --svg FILE (default docs/img/soak.svg)
# The server (app.New in-process) and the clients run as two processes (the
# box allows ~20,000 open files per process). Loopback only; only the
# processes started here are stopped, by PID. Exits non-zero if any client
# saw an error, a disconnect, a lost or an out-of-order message.
set -euo pipefail
cd "$(dirname "$0")/.."

CONNS=10000 ROOMS=100 RATE=100 FOR=30m EVERY=10s
OUT="tmp/soak-$(date -u +%Y%m%dT%H%M%SZ)" SVG=docs/img/soak.svg
while [ $# -gt 0 ]; do
	case "$1" in
	--conns) CONNS=$2; shift 2 ;;
	--rooms) ROOMS=$2; shift 2 ;;
	--rate) RATE=$2; shift 2 ;;
	--for) FOR=$2; shift 2 ;;
	--every) EVERY=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--svg) SVG=$2; shift 2 ;;
	-h|--help) sed -n '2,15p' "$0"; exit 0 ;;
	*) echo "soak.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

mkdir -p "$OUT" bin
go build -o bin/soak ./test/reliability/soak
ADDR=127.0.0.1:$((20000 + RANDOM % 10000))
bin/soak server -addr "$ADDR" -db "$OUT/soak.db" -every "$EVERY" >"$OUT/samples.jsonl" 2>"$OUT/server.log" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
	grep -q "listening" "$OUT/server.log" 2>/dev/null && break
	sleep 0.1
done
grep -q "listening" "$OUT/server.log" || { echo "soak.sh: server did not start" >&2; cat "$OUT/server.log" >&2; exit 1; }

echo "soak: $CONNS connections in $ROOMS rooms, $RATE msg/s, for $FOR (samples every $EVERY) -> $OUT"
set +e
bin/soak clients -url "http://$ADDR" -conns "$CONNS" -rooms "$ROOMS" -rate "$RATE" -for "$FOR" >"$OUT/summary.json"
CLIENTS=$?
set -e
kill -TERM "$SERVER"
wait "$SERVER" || true
trap - EXIT
bin/soak plot -in "$OUT/samples.jsonl" -out "$SVG" -title "Banter soak: $CONNS connections, $RATE msg/s, $FOR"
echo "summary: $(cat "$OUT/summary.json")"
echo "first and last samples: $(head -n1 "$OUT/samples.jsonl") ... $(tail -n1 "$OUT/samples.jsonl")"
echo "plot: $SVG"
python3 - "$OUT/summary.json" <<'PY' || exit 1
import json, sys
s = json.load(open(sys.argv[1]))
bad = {k: s[k] for k in ("errors", "disconnects", "lost", "outOfOrder") if s[k]}
if bad:
    print("soak: FAILED", bad, s.get("firstError", ""), file=sys.stderr); sys.exit(1)
PY
exit "$CLIENTS"
