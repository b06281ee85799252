#!/bin/sh
# Prints the version stamped into banter by `make build` and `make run`
# (-ldflags "-X main.version=..."): `git describe` of the checkout (the
# nearest tag, commits since it, the commit, -dirty for local changes), or
# "unknown" outside a git checkout (banter then reads its build info).
cd "$(dirname "$0")/.." || exit 1
git describe --tags --always --dirty --abbrev=12 2>/dev/null || echo unknown
