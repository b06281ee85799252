#!/usr/bin/env bash
# Runs every `go test -fuzz` target of the decoders, one after the other.
#
#   scripts/fuzz.sh                  10 minutes per target (the issue's bar)
#   scripts/fuzz.sh --time 5s        a short pass (CI: a few seconds each)
#   scripts/fuzz.sh --save-corpus    also copy what the fuzzer found interesting
#                                    into <pkg>/testdata/fuzz/<Target>/ (to commit)
#   scripts/fuzz.sh --only FuzzChatArgs
#
# Targets are found, not listed: every func Fuzz* of every package (the
# decoders: Engine.IO v3/v4 packets and payloads, Socket.IO v4/v5 packets
# with attachments and argument arrays, chat event arguments, and whatever
# other codec adds one).
# A crash stops the script (exit 1); Go has already written the failing
# input to <pkg>/testdata/fuzz/<Target>/ so `go test ./<pkg>` replays it.
set -euo pipefail
cd "$(dirname "$0")/.."

TIME=10m SAVE=0 ONLY=""
while [ $# -gt 0 ]; do
	case "$1" in
	--time) TIME=$2; shift 2 ;;
	--save-corpus) SAVE=1; shift ;;
	--only) ONLY=$2; shift 2 ;;
	-h|--help) sed -n '2,12p' "$0"; exit 0 ;;
	*) echo "fuzz.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

PKGS=$(find . \( -path ./node_modules -o -path ./.git -o -path ./tmp \) -prune -o -name '*_test.go' -print0 |
	xargs -0 grep -l '^func Fuzz' | xargs -n1 dirname | sort -u)
MODULE=$(go list -m)
CACHE=$(go env GOCACHE)/fuzz
started=$SECONDS
n=0
for pkg in $PKGS; do
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$pkg"/*_test.go | sed 's/^func //' | sort -u); do
		[ -n "$ONLY" ] && [ "$target" != "$ONLY" ] && continue
		echo "==> $pkg $target for $TIME"
		# Go's fuzzing engine sometimes fails a run with only "context deadline
		# exceeded" when -fuzztime ends while a worker is busy (no input failed,
		# none is written). Such a run is repeated once; a real failure writes
		# "Failing input written to ..." and stops the script.
		for try in 1 2; do
			out=$(mktemp)
			if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$TIME" "$pkg" 2>&1 | tee "$out"; then
				rm -f "$out"
				break
			fi
			if [ "$try" = 1 ] && grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written' "$out"; then
				echo "    (fuzzing engine timed out at the end of the run, no failing input: running $target again)"
				rm -f "$out"
				continue
			fi
			rm -f "$out"
			exit 1
		done
		n=$((n + 1))
		if [ "$SAVE" = 1 ]; then
			src="$CACHE/$MODULE/${pkg#./}/$target"
			dst="$pkg/testdata/fuzz/$target"
			if [ -d "$src" ]; then
				mkdir -p "$dst"
				cp -n "$src"/* "$dst"/ 2>/dev/null || true
				echo "    corpus: $(ls "$dst" | wc -l) inputs in $dst"
			fi
		fi
	done
done
if [ "$n" = 0 ]; then
	echo "fuzz.sh: no target matched" >&2
	exit 1
fi
echo "fuzz.sh: $n targets, no crash, $((SECONDS - started)) s"
