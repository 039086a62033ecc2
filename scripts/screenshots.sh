#!/usr/bin/env bash
# Writes screenshots of the console's dashboard, events, event detail and host pages at
# 1280x800 to docs/screenshots/ (or DIR): a real server with sample events, a real
# headless Chromium. Needs chromium and chromedriver (./scripts/test.sh installs them).
# Usage: scripts/screenshots.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-docs/screenshots}
mkdir -p "$dir"
PUSHDETECT_SCREENSHOTS=$(realpath "$dir") \
    cargo test --locked -p pushdetect --test api -- --exact \
    console::the_dashboard_and_host_pages_and_their_screenshots
ls -l "$dir"
