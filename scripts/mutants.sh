#!/usr/bin/env bash
# Mutation testing with cargo-mutants (docs/testing.md gives the figures and the
# mutants judged equivalent).
#
#   ./scripts/mutants.sh changed    the model's mutants in the last commit's changes to
#                                   crates/model/src (what CI runs; a minute or two)
#   ./scripts/mutants.sh PACKAGE    every mutant of one package, e.g. pushdetect-model
#                                   (minutes), pushdetect-analysis (about an hour),
#                                   pushdetect-store (PostgreSQL up; about half an hour)
#   ./scripts/mutants.sh server [K/N]
#                                   the server's PAPI and Analyst API modules, tested by
#                                   its unit tests and the HTTP suite in
#                                   crates/cli/tests/api; K/N runs every
#                                   Nth mutant from the Kth (0/8: about 40 minutes; all 339:
#                                   about five hours on 2 cores)
#
# Each mutant is tested with its own package's tests (the server's also with the HTTP
# suite); results go to mutants.out/. The server's run needs the environment of
# ./scripts/test.sh (PostgreSQL, PUSHDETECT_TEST_POSTGRES).
set -euo pipefail
cd "$(dirname "$0")/.."

install() {
    if ! cargo mutants --version >/dev/null 2>&1; then
        cargo install --locked cargo-mutants
    fi
}

case "${1:-changed}" in
changed)
    if ! git rev-parse --verify --quiet HEAD~1 >/dev/null; then
        echo "no previous commit: nothing to compare with" >&2
        exit 0
    fi
    diff=$(mktemp)
    trap 'rm -f "$diff"' EXIT
    git diff HEAD~1 HEAD -- crates/model/src >"$diff"
    if [ ! -s "$diff" ]; then
        echo "the last commit changes nothing in crates/model/src: no mutants to test" >&2
        exit 0
    fi
    install
    cargo mutants -p pushdetect-model --in-diff "$diff" --no-shuffle --timeout 120
    ;;
server)
    install
    shard=()
    if [ -n "${2:-}" ]; then shard=(--shard "$2" --sharding round-robin); fi
    # The server's own unit tests and the HTTP suite, minus the browser, corpus, fuzz,
    # process and throttle tests, which exercise other modules and take minutes.
    # cargo-mutants runs its unmutated baseline with the mutated package's tests only, so
    # the baseline is skipped: the same `cargo test` runs once here first instead.
    skip=(--skip console:: --skip mail_corpus:: --skip fuzz_smoke:: --skip process::
        --skip guessing:: --skip commands:: --skip mail_commands::)
    cargo test -p pushdetect -p pushdetect-server -- "${skip[@]}"
    cargo mutants -p pushdetect-server -f 'crates/server/src/papi/*.rs' \
        -f 'crates/server/src/analyst/*.rs' --test-package pushdetect \
        --test-package pushdetect-server --baseline skip --no-shuffle --timeout 60 \
        --build-timeout 600 "${shard[@]}" -- -- "${skip[@]}"
    ;;
*)
    install
    cargo mutants -p "$1" --no-shuffle --timeout 300
    ;;
esac
