#!/usr/bin/env bash
# `make bench-e2e`: rvs (AF_XDP, AF_PACKET) side by side with nftables DNAT, HAProxy and
# the direct path, in one network-namespace topology. Needs root. Arguments go to the
# bench binary (--duration SECS, --only afxdp,afpacket,nft,haproxy,direct, --rounds N,
# --json PATH; --help). A quick check of the bench itself, not a measurement:
# --duration 1 --rounds 1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# The bench starts rvsd, rvsadm and rvs-udp from the directory it runs from, so all of
# them must be release builds of the same tree.
cargo build --release --workspace --bins
TARGET=${CARGO_TARGET_DIR:-target}
exec "$TARGET/release/rvs-bench-e2e" "$@"
