#!/usr/bin/env bash
# Push throughput and latency at 1, 16 and 64 keep-alive connections on SQLite and on
# PostgreSQL, next to the same server's /healthz and the store's raw insert rate
# (docs/benchmarks.md). PostgreSQL: PUSHDETECT_TEST_POSTGRES, default
# postgres://postgres@127.0.0.1:5432/postgres (a database is created and dropped).
# Usage: scripts/bench-push.sh [REQUESTS_PER_RUN] [sqlite|postgres|both] [store|forward]
# (`store`: only the store's ceilings through group commit, for profiling; `forward`: only
# pushes with no forwarding destination and with one down, in turns.)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p pushdetect --example push_bench
"${CARGO_TARGET_DIR:-target}"/release/examples/push_bench "${1:-5000}" "${2:-both}" ${3:+"$3"}
