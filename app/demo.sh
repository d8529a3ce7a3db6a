#!/usr/bin/env bash
# Start `hexcri serve` on $SOCKET with $BACKEND, run one pod through the CRI socket, stop it.
set -euo pipefail
dir=$(dirname "$SOCKET")
mkdir -p "$dir"
log="$dir/hexcri.log"
"$BIN/hexcri" serve --backend "$BACKEND" --socket "$SOCKET" >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -S "$SOCKET" ] && break; kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }; sleep 0.1; done
"$BIN/hexcri" demo --socket "$SOCKET" "$@"
