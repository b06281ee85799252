#!/usr/bin/env bash
# Copies the official Socket.IO browser client from node_modules into
# socketio/clientdist/dist/, where `go build` embeds it (see
# socketio/clientdist). The copies are git-ignored. Idempotent and quiet when
# the files are already up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -f node_modules/socket.io-client/package.json ]]; then
  echo "bundle: node_modules missing, running npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

src=node_modules/socket.io-client/dist
dst=socketio/clientdist/dist
mkdir -p "$dst"
for f in socket.io.js socket.io.min.js socket.io.js.map socket.io.min.js.map; do
  if [[ ! -f "$src/$f" ]]; then
    echo "bundle: $src/$f not found: is socket.io-client installed? (run scripts/deps.sh)" >&2
    exit 1
  fi
  # cmp keeps the mtime (and so Go's build cache) unchanged when nothing changed.
  cmp -s "$src/$f" "$dst/$f" || cp "$src/$f" "$dst/$f"
done
version=$(node -p 'require("./node_modules/socket.io-client/package.json").version')
if [[ "$(cat "$dst/VERSION" 2>/dev/null)" != "$version" ]]; then
  echo "$version" > "$dst/VERSION"
  echo "bundle: socket.io-client $version copied to $dst"
fi
