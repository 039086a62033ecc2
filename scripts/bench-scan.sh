#!/usr/bin/env bash
# Scan throughput of the analysis engine next to YARA-X's own CLI (`yr scan`) on the same
# generated corpus and the same rules (docs/benchmarks.md). Needs `yr`:
#   cargo install --locked yara-x-cli
# Usage: scripts/bench-scan.sh [FILES]   (default 2000 files, about 190 MB)
set -euo pipefail
cd "$(dirname "$0")/.."

files=${1:-2000}
runs=3
corpus=target/bench-corpus-$files
command -v yr >/dev/null || { echo "yr not found: cargo install --locked yara-x-cli" >&2; exit 1; }

cargo build --release --locked -p pushdetect-analysis --example scan_bench
bench=target/release/examples/scan_bench
[ -d "$corpus" ] || "$bench" generate "$corpus" "$files"
bytes=$(cat "$corpus"/* | wc -c)
cat "$corpus"/* >/dev/null # warm the page cache: both sides read from memory

# Best wall time of $runs runs of a command, in seconds.
best() {
    local best_s=""
    for _ in $(seq "$runs"); do
        local start end s
        start=$(date +%s.%N)
        "$@" >/dev/null
        end=$(date +%s.%N)
        s=$(echo "$end - $start" | bc -l)
        if [ -z "$best_s" ] || [ "$(echo "$s < $best_s" | bc -l)" = 1 ]; then best_s=$s; fi
    done
    echo "$best_s"
}

yr_scan() {
    yr scan --disable-console-logs --path-as-namespace --count -p "$1" \
        -d 'filename=""' -d archive_depth=0 rules/ "$corpus"
}

printf 'corpus: %s files, %s bytes; yr %s; best of %s runs; rule compilation included\n' \
    "$files" "$bytes" "$(yr --version | awk '{print $2}')" "$runs"
printf '%-34s %8s %10s %9s %9s\n' "run" "threads" "seconds" "files/s" "MB/s"
for threads in 1 2; do
    yr_s=$(best yr_scan "$threads")
    rules_s=$(best "$bench" scan "$corpus" "$threads" rules)
    full_s=$(best "$bench" scan "$corpus" "$threads" full)
    for row in "yr scan:$yr_s" "pushdetect rules only:$rules_s" "pushdetect full analysis:$full_s"; do
        name=${row%%:*}
        s=${row##*:}
        printf '%-34s %8s %10.2f %9.0f %9.1f\n' "$name" "$threads" "$s" \
            "$(echo "$files / $s" | bc -l)" "$(echo "$bytes / $s / 1000000" | bc -l)"
    done
    printf '%-34s %8s %10s\n' "ratio rules only / yr (time)" "$threads" \
        "$(printf '%.2f' "$(echo "$rules_s / $yr_s" | bc -l)")"
    printf '%-34s %8s %10s\n' "ratio full analysis / yr (time)" "$threads" \
        "$(printf '%.2f' "$(echo "$full_s / $yr_s" | bc -l)")"
done
# Both sides must agree on which files match.
yr_matched=$(yr scan --disable-console-logs --path-as-namespace --count -d 'filename=""' \
    -d archive_depth=0 rules/ "$corpus" | awk '$NF > 0' | wc -l)
echo "files matched: yr $yr_matched; pushdetect rules only: $("$bench" scan "$corpus" 2 rules | sed 's/.*bytes, //')"
