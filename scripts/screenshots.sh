#!/usr/bin/env bash
# Writes screenshots of the console's dashboard, events, event detail, host, incident list
# and incident history pages at 1280x800 to docs/screenshots/ (or DIR): a real server
# with sample events, a real headless Chromium. Needs chromium and chromedriver
# (./scripts/test.sh installs them).
# Usage: scripts/screenshots.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-docs/screenshots}
mkdir -p "$dir"
PUSHDETECT_SCREENSHOTS=$(realpath "$dir") \
    cargo test --locked -p pushdetect --test api -- --exact \
    console::the_dashboard_and_host_pages_and_their_screenshots \
    console_workflow::two_analysts_and_a_viewer_work_an_incident_in_the_console
ls -l "$dir"
