#!/usr/bin/env bash
# Mutation testing with cargo-mutants (docs/testing.md gives the figures and the
# mutants judged equivalent).
#
#   ./scripts/mutants.sh changed    the model's mutants in the last commit's changes to
#                                   crates/model/src (what CI runs; a minute or two)
#   ./scripts/mutants.sh PACKAGE    every mutant of one package, e.g. pushdetect-model
#                                   (minutes), pushdetect-analysis (about an hour),
#                                   pushdetect-store (hours on 2 cores)
#
# Each mutant is tested with its own package's tests; results go to mutants.out/.
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
*)
    install
    cargo mutants -p "$1" --no-shuffle --timeout 300
    ;;
esac
