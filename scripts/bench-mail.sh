#!/usr/bin/env bash
# Mail benchmarks of docs/benchmarks.md.
#
# 1. Extraction: `analyse-mail --extract-only` over the real messages that mail-parser
#    ships and CPython's email test messages (Debian's libpython3.11-testsuite), copied
#    REPEAT times, next to Python's standard email package extracting the same fields
#    (scripts/bench-mail-extract.py) and a bare mail-parser + linkify loop
#    (crates/client/examples/mail_baseline.rs). Pinned to one core with taskset; best of
#    three runs; the files are read from the page cache by all three.
# 2. End to end: `analyse-mail --dry-run --json` against a local server (release build,
#    embedded database, fresh data dir) over MESSAGES generated phishing-like messages,
#    each with its own attachment and eight URLs of its own plus two shared ones, so that
#    almost nothing is reused: about nine analyses per message.
#
# Usage: scripts/bench-mail.sh [REPEAT] [MESSAGES]   (defaults 50 and 1000)
set -euo pipefail
cd "$(dirname "$0")/.."

repeat=${1:-50}
messages=${2:-1000}
work=target/bench-mail
data=/usr/lib/python3.11/test/test_email/data
[ -d "$data" ] || { echo "install libpython3.11-testsuite first (./scripts/test.sh does)" >&2; exit 1; }
command -v taskset >/dev/null || { echo "taskset (util-linux) is needed" >&2; exit 1; }

cargo build --release --locked -p pushdetect
cargo build --release --locked -p pushdetect-client --example mail_baseline
bin=target/release/pushdetect
baseline=target/release/examples/mail_baseline
resources=$(cargo metadata --format-version 1 --locked |
    python3 -c 'import json,sys,os; m=json.load(sys.stdin); print(os.path.dirname(next(p["manifest_path"] for p in m["packages"] if p["name"]=="mail-parser")))')/resources

# The corpus, REPEAT times over.
rm -rf "$work" && mkdir -p "$work/corpus"
mapfile -t originals < <( (find "$resources/eml" -name '*.eml'; find "$data" -name 'msg_*') | sort)
for r in $(seq -w 1 "$repeat"); do
    mkdir -p "$work/corpus/$r"
    i=0
    for f in "${originals[@]}"; do
        i=$((i + 1))
        cp "$f" "$work/corpus/$r/$i-$(basename "$f")"
    done
done
mapfile -t files < <(find "$work/corpus" -type f | sort)
cat "${files[@]}" >/dev/null
bytes=$(cat "${files[@]}" | wc -c)

# Best wall time of three runs of a command, in seconds (its exit status is ignored: the
# corpus holds messages that are refused).
best() {
    local best_s=""
    for _ in 1 2 3; do
        local start end s
        start=$(date +%s.%N)
        "$@" >/dev/null 2>&1 || true
        end=$(date +%s.%N)
        s=$(echo "$end - $start" | bc -l)
        if [ -z "$best_s" ] || [ "$(echo "$s < $best_s" | bc -l)" = 1 ]; then best_s=$s; fi
    done
    echo "$best_s"
}

n=${#files[@]}
printf 'extraction: %s files (%s originals x %s), %s bytes; one core (taskset -c 0)\n' \
    "$n" "${#originals[@]}" "$repeat" "$bytes"
python_s=$(best taskset -c 0 python3 scripts/bench-mail-extract.py "${files[@]}")
baseline_s=$(best taskset -c 0 "$baseline" "${files[@]}")
ours_s=$(best taskset -c 0 "$bin" analyse-mail --extract-only --concurrency 1 "$work/corpus")
ours2_s=$(best "$bin" analyse-mail --extract-only --concurrency 2 "$work/corpus")
printf '%-52s %9s %11s\n' "run" "seconds" "messages/s"
for row in "Python $(python3 -c 'import sys; print(sys.version.split()[0])') email package (policy.default):$python_s" \
    "mail-parser + linkify loop:$baseline_s" \
    "pushdetect analyse-mail --extract-only:$ours_s" \
    "pushdetect analyse-mail --extract-only, 2 cores:$ours2_s"; do
    name=${row%:*}
    s=${row##*:}
    printf '%-52s %9.3f %11.0f\n' "$name" "$s" "$(echo "$n / $s" | bc -l)"
done
printf 'pushdetect / Python (rate): %.1f; pushdetect / bare loop (rate): %.2f\n' \
    "$(echo "$python_s / $ours_s" | bc -l)" "$(echo "$baseline_s / $ours_s" | bc -l)"
echo "counts: python: $(python3 scripts/bench-mail-extract.py "${files[@]}")"
echo "        bare loop: $("$baseline" "${files[@]}")"
echo "        pushdetect: $("$bin" analyse-mail --extract-only --json "$work/corpus" 2>/dev/null | tail -1)"

# End to end.
gen="$work/phish"
mkdir -p "$gen"
python3 - "$gen" "$messages" <<'PY'
import os, sys
out, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    urls = [f"https://login-{i}-{k}.account-verify.example/session?id={i}{k}&amp;r=mail" for k in range(8)]
    links = "\n".join(f'<p><a href="{u}">Verify your account</a></p>' for u in urls)
    attachment = (f"Invoice {i}\n" + "line item, amount due\n" * (40 + i % 200)).encode()
    import base64
    body = base64.encodebytes(attachment).decode()
    msg = f"""From: "Security Team" <security@account-verify.example>
To: user{i}@corp.example
Subject: Action required: verify account {i}
Date: Tue, 1 May 2018 17:24:16 -0400
Message-ID: <bench-{i}@account-verify.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/html; charset=utf-8

<html><body><p>Dear user,</p>{links}
<img src="https://cdn.account-verify.example/logo.png">
<a href="https://www.account-verify.example/help">Help</a></body></html>
--b
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="invoice-{i}.txt"
Content-Transfer-Encoding: base64

{body}
--b--
"""
    with open(os.path.join(out, f"{i:05}.eml"), "w") as f:
        f.write(msg.replace("\n", "\r\n"))
PY
dir=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
"$bin" init --data-dir "$dir" --json >"$dir/creds.json"
read -r key token sensor < <(python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(c["access_key"], c["api_token"], c["sensor_key"])' "$dir/creds.json")
cat >"$dir/papi_client.ini" <<INI
[papi]
url = http://127.0.0.1:$port/papi
auth_method = license
api_key = $key
api_token = $token
key = $sensor
INI
"$bin" serve --data-dir "$dir" --listen "127.0.0.1:$port" >"$dir/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
echo
echo "end to end: $messages generated messages, analyse-mail --dry-run against a local server"
start=$(date +%s.%N)
"$bin" analyse-mail --config "$dir/papi_client.ini" --dry-run --json "$gen" >"$dir/out.jsonl"
end=$(date +%s.%N)
s=$(echo "$end - $start" | bc -l)
tail -1 "$dir/out.jsonl"
printf 'end to end: %.2f s, %.0f messages/s\n' "$s" "$(echo "$messages / $s" | bc -l)"
