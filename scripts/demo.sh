#!/usr/bin/env bash
# `make demo`: installs what the demo needs, builds rvs, and runs rvs-demo, which replays
# the LVS/NAT how-to (a client, a director running rvsd, three nginx real servers) in
# network namespaces and removes them again at the end. Needs root.
#
#   scripts/demo.sh                  # AF_XDP data path
#   scripts/demo.sh --io afpacket    # AF_PACKET data path
#   scripts/demo.sh --requests 3000  # more requests per round
#
# CARGO_TARGET_DIR is honoured (default: target/ in the workspace).
set -euo pipefail

cd "$(dirname "$0")/.."

if ((EUID != 0)); then
    echo "demo.sh: the demo needs root (network namespaces, veths, nginx); run: sudo make demo" >&2
    exit 1
fi

scripts/deps.sh
cargo build --release -p rvs -p rvs-demo --bins
exec "${CARGO_TARGET_DIR:-target}/release/rvs-demo" "$@"
