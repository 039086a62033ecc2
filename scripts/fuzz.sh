#!/usr/bin/env bash
# Coverage-guided fuzzing of one target with cargo-fuzz (needs a nightly toolchain and
# `cargo install cargo-fuzz`): ./scripts/fuzz.sh TARGET [RUNS]. TARGET is one of form,
# mail_json, mime, xml, zip (fuzz/src/lib.rs); RUNS defaults to 10 million. New inputs
# that reach new code are added to fuzz/corpus/TARGET; a failing input is saved under
# fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: ./scripts/fuzz.sh form|mail_json|mime|xml|zip [RUNS]}
runs=${2:-10000000}
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "cargo-fuzz needs a nightly toolchain: rustup toolchain install nightly" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2
    exit 1
fi
cd fuzz
exec cargo +nightly fuzz run "$target" "corpus/$target" -- -runs="$runs" -max_len=1048576
