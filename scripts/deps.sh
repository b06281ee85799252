#!/usr/bin/env bash
# Installs and starts what Banter's build and tests need beyond Go and Node:
# Debian packages (chromium and an emoji font for the browser tests,
# redis-server, mosquitto-clients, tmux, the mosquitto broker the MQTT
# benchmarks compare with; for the XMPP tests prosody as the reference
# server, python3-slixmpp, go-sendxmpp and profanity), the npm packages of
# package-lock.json, and running
# PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379).
#
# Idempotent and quiet when there is nothing to do. Works on a fresh Debian
# machine as root and in CI (CI=true, no stdin). Environment:
#   BANTER_SKIP_SERVICES=1  do not start or wait for PostgreSQL and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "deps: $*" >&2; }
die() { echo "deps: ERROR: $*" >&2; exit 1; }

need_cmd() { command -v "$1" >/dev/null 2>&1 || die "$1 not found: $2"; }
need_cmd go "install Go 1.26 (https://go.dev/dl) and put it on PATH"
need_cmd node "install Node.js 20 with npm (Debian: apt-get install nodejs npm)"
need_cmd npm "install npm (Debian: apt-get install npm)"

# --- Debian packages ---------------------------------------------------------
missing=()
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
for p in chromium fonts-noto-color-emoji mosquitto mosquitto-clients tmux prosody python3-slixmpp go-sendxmpp profanity; do
  pkg_installed "$p" || missing+=("$p")
done
# Any redis-server on PATH will do (it may come from elsewhere than Debian),
# if it is 7.0 or later: the Redis Cluster tests need sharded pub/sub. They
# create their cluster with redis-cli (Debian: redis-tools).
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
if ((${#missing[@]})); then
  command -v apt-get >/dev/null 2>&1 || die "missing packages ${missing[*]} and no apt-get: install them by hand"
  sudo=()
  if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "missing packages ${missing[*]}: run as root or install sudo"
    sudo=(sudo -n)
  fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq >/dev/null </dev/null
  "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null </dev/null \
    || die "apt-get install ${missing[*]} failed"
fi

# --- npm packages ------------------------------------------------------------
# npm ci when node_modules is missing or older than the lock file (npm touches
# node_modules/.package-lock.json on every install).
stamp=node_modules/.package-lock.json
if [[ ! -f $stamp || package-lock.json -nt $stamp ]]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error </dev/null >/dev/null || die "npm ci failed"
  touch "$stamp"
fi

# --- services ----------------------------------------------------------------
[[ ${BANTER_SKIP_SERVICES:-} == 1 ]] && exit 0

# port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for NAME CHECK...: bounded wait (30 s) until CHECK succeeds.
wait_for() {
  local name=$1; shift
  for _ in $(seq 1 60); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  die "$name is not answering on 127.0.0.1 after 30 s (check its log)"
}

if ! port_open 5432; then
  need_cmd pg_ctlcluster "install PostgreSQL (apt-get install postgresql)"
  clusters=(/etc/postgresql/*)
  [[ -d ${clusters[0]} ]] || die "no PostgreSQL cluster under /etc/postgresql (apt-get install postgresql creates one)"
  version=$(basename "${clusters[-1]}")
  log "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start </dev/null || die "pg_ctlcluster $version main start failed"
fi
if command -v pg_isready >/dev/null 2>&1; then
  wait_for PostgreSQL pg_isready -q -h 127.0.0.1 -p 5432
else
  wait_for PostgreSQL port_open 5432
fi

redis_major=$(redis-server --version | sed -n 's/.* v=\([0-9]*\)\..*/\1/p')
[[ ${redis_major:-0} -ge 7 ]] || die "redis-server $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p') is too old: Redis 7.0 or later is needed (sharded pub/sub)"
if ! port_open 6379; then
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no </dev/null >/dev/null \
    || die "redis-server failed to start"
fi
if command -v redis-cli >/dev/null 2>&1; then
  redis_ping() { [[ $(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null) == PONG ]]; }
  wait_for Redis redis_ping
else
  wait_for Redis port_open 6379
fi
