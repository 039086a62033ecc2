#!/usr/bin/env bash
# Runs the whole test suite: unit tests and the integration tests, which start real
# servers on random loopback ports over real SQLite databases.
# Everything the tests need is built here; nothing else must be running.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install Rust from https://rustup.rs first" >&2
    exit 1
fi

cargo test --workspace --locked "$@"
