#!/usr/bin/env bash
# `make bench-restore`: time `rvsadm -R` of N services with M real servers each (default
# 10,000 x 10, issue 3's figure) into a fresh control-plane rvsd, and check the table took
# all of it. Prints `name value unit` lines. Uses only a temporary socket; no packets.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-10000}
M=${M:-10}
cargo build --release -q -p rvs --bins
BIN=target/release
T=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
"$BIN/rvsd" --socket "$T/rvsd.sock" --state-dir "$T/state" --conn-capacity 65536 2>"$T/rvsd.log" &
PID=$!
for _ in $(seq 100); do [ -S "$T/rvsd.sock" ] && break; sleep 0.05; done
[ -S "$T/rvsd.sock" ] || { echo "rvsd did not start" >&2; cat "$T/rvsd.log" >&2; exit 1; }
awk -v n="$N" -v m="$M" 'BEGIN {
  for (i = 0; i < n; i++) {
    vip = sprintf("10.%d.%d.%d:80", int(i / 65536) % 256, int(i / 256) % 256, i % 256);
    printf "-A -t %s -s wlc\n", vip;
    for (j = 0; j < m; j++)
      printf "-a -t %s -r 172.16.%d.%d:%d -m -w 1\n", vip, int(i / 250) % 256, (i % 250) + 1, 8080 + j;
  }
}' >"$T/table"
export RVS_SOCKET="$T/rvsd.sock"
start=$(date +%s%N)
"$BIN/rvsadm" -R <"$T/table"
end=$(date +%s%N)
lines=$("$BIN/rvsadm" -S -n | wc -l)
want=$((N * (M + 1)))
[ "$lines" -eq "$want" ] || { echo "table has $lines lines, expected $want" >&2; exit 1; }
echo "restore_${N}_services_${M}_dests $(((end - start) / 1000000)) ms"
start=$(date +%s%N)
"$BIN/rvsadm" -S -n >/dev/null
end=$(date +%s%N)
echo "save_${N}_services_${M}_dests $(((end - start) / 1000000)) ms"
