#!/usr/bin/env bash
# Copies the official Socket.IO browser client from node_modules into
# socketio/clientdist/dist/, and the Socket.IO Admin UI dashboard into
# socketio/admin/ui/dist/, where `go build` embeds them (see
# socketio/clientdist, socketio/admin/ui). The copies are git-ignored.
# Idempotent and quiet when the files are already up to date.
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

# The Socket.IO Admin UI dashboard (npm @socket.io/admin-ui, ui/dist) into
# socketio/admin/ui/dist/, embedded by package socketio/admin/ui; the
# source maps are left out (3 MB nobody needs to run it).
src=node_modules/@socket.io/admin-ui/ui/dist
dst=socketio/admin/ui/dist
if [[ ! -f "$src/index.html" ]]; then
  echo "bundle: $src/index.html not found: is @socket.io/admin-ui installed? (run scripts/deps.sh)" >&2
  exit 1
fi
version=$(node -p 'require("./node_modules/@socket.io/admin-ui/package.json").version')
if [[ "$(cat "$dst/VERSION" 2>/dev/null)" != "$version" ]]; then
  find "$dst" -mindepth 1 ! -name README.txt -delete
fi
(cd "$src" && find . -type f ! -name '*.map') | while read -r f; do
  mkdir -p "$dst/$(dirname "$f")"
  cmp -s "$src/$f" "$dst/$f" || cp "$src/$f" "$dst/$f"
done
if [[ "$(cat "$dst/VERSION" 2>/dev/null)" != "$version" ]]; then
  echo "$version" > "$dst/VERSION"
  echo "bundle: @socket.io/admin-ui $version dashboard copied to $dst"
fi
