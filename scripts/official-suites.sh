#!/usr/bin/env bash
# Runs the official Engine.IO and Socket.IO protocol test suites
# (github.com/socketio/engine.io-protocol and socket.io-protocol, folder
# test-suite) against Banter's conformance server, when they are available.
#
#   scripts/official-suites.sh [extra options for run-official-suites.sh]
#
# It builds examples/conformance, starts it on a free loopback port, runs
# run-official-suites.sh URL (from /work/shared/tools, or ../shared/tools next
# to the repository as CI lays it out, or $BANTER_OFFICIAL_RUNNER), and stops
# the server it started. The suites are read from
# ${SOCKETIO_EXT_DIR:-$HOME/socketio-suites}; their code never enters the
# repository.
#
# When the runner or the suites are missing it says so, and why, and exits 0:
# they are an extra check, not a dependency. Otherwise the exit status is the
# runner's (0 iff every test passed).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

skip() { echo "official-suites: SKIPPED: $*"; exit 0; }
die() { echo "official-suites: ERROR: $*" >&2; exit 1; }

runner=""
for cand in "${BANTER_OFFICIAL_RUNNER:-}" /work/shared/tools/run-official-suites.sh "$root/../shared/tools/run-official-suites.sh"; do
  if [[ -n $cand && -f $cand ]]; then runner=$cand; break; fi
done
[[ -n $runner ]] || skip "run-official-suites.sh not found (looked in /work/shared/tools and $root/../shared/tools; set BANTER_OFFICIAL_RUNNER)"

ext="${SOCKETIO_EXT_DIR:-$HOME/socketio-suites}"
for s in engine.io-protocol socket.io-protocol; do
  [[ -d $ext/$s/test-suite ]] || skip "$ext/$s/test-suite not found (clone github.com/socketio/$s into $ext, or set SOCKETIO_EXT_DIR)"
done
command -v node >/dev/null 2>&1 || skip "node is not installed"
command -v npm >/dev/null 2>&1 || skip "npm is not installed"

work=$(mktemp -d "${TMPDIR:-/tmp}/banter-official.XXXXXX") || die "mktemp failed"
pid=""
cleanup() {
  # Only the server this script started, by its PID.
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$work/conformance" ./examples/conformance || die "go build ./examples/conformance failed"

# -port 0: the kernel picks a free port (3000 may be taken by a developer's
# server); the program prints "LISTENING <port>".
"$work/conformance" -port 0 -mode conformance >"$work/stdout" 2>"$work/stderr" &
pid=$!
port=""
for _ in $(seq 1 300); do  # up to 30 s
  port=$(sed -n 's/^LISTENING \([0-9][0-9]*\)$/\1/p' "$work/stdout" | head -n1)
  [[ -n $port ]] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/stderr" >&2; die "the conformance server exited before listening"; }
  sleep 0.1
done
[[ -n $port ]] || die "the conformance server printed no LISTENING line within 30 s"

url="http://127.0.0.1:$port"
echo "official-suites: conformance server (pid $pid) at $url; runner $runner; suites in $ext"
"$runner" "$url" "$@"
status=$?
if [[ $status -ne 0 && -s $work/stderr ]]; then
  echo "official-suites: server stderr (last 50 lines):" >&2
  tail -n 50 "$work/stderr" >&2
fi
exit $status
