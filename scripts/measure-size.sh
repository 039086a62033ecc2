#!/usr/bin/env bash
# Disk use per event of the embedded database (docs/operations.md, "Sizing"): a fresh
# data dir, N IOC results on 500 hosts pushed through batch push, the server stopped
# (its journal checkpointed), and the database's bytes divided by the events.
# Usage: scripts/measure-size.sh [EVENTS]   (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-100000}
cargo build --locked -p pushdetect >/dev/null
bin=${CARGO_TARGET_DIR:-target}/debug/pushdetect
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
creds=$("$bin" init --data-dir "$dir" --json)
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$creds" "$1"; }
"$bin" serve --data-dir "$dir" --listen 127.0.0.1:0 >"$dir/out" 2>/dev/null &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$dir/out" && break; sleep 0.1; done
base=$(sed -n 's/^pushdetect listening on \([^ ]*\).*/\1/p' "$dir/out")
curl -sf -c "$dir/jar" -d "username=$(field username)" -d "password=$(field password)" \
    "$base/papi/login" >/dev/null
key=$(field sensor_key)
for start in $(seq 0 1000 $((events - 1))); do
    python3 - "$key" "$start" >"$dir/batch" <<'PY'
import json, sys
key, start = sys.argv[1], int(sys.argv[2])
for i in range(start, start + 1000):
    print(json.dumps({
        "method": "push_detection.ioc.push_result", "key": key,
        "vendor_name": "Acme", "tool_name": "IocScan",
        "ioc_uuid": "00000000-0000-4000-8000-%012d" % i, "ioc_source": "threat-feed",
        "ioc_matched": "True", "match_confidence": "85",
        "hostname": "ws-%03d.corp.example" % (i % 500), "main_ipv4": "10.0.%d.%d" % (i % 500 // 250, i % 250),
        "check_time_end": "2026-11-30 10:%02d:%02d" % (i // 60 % 60, i % 60),
    }))
PY
    curl -sf -b "$dir/jar" -H 'Content-Type: application/x-ndjson' --data-binary @"$dir/batch" \
        "$base/papi/push_detection/batch/push_events.json" >/dev/null
done
kill -TERM "$pid"
wait "$pid" || true
bytes=$(stat -c %s "$dir/pushdetect.db")
echo "$events events: $bytes bytes, $((bytes / events)) bytes per event," \
    "$((1024 * 1024 * 1024 / (bytes / events))) events per GiB"
