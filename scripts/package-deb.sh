#!/usr/bin/env bash
# Builds the Debian package with cargo-deb (installed here when missing): the binary, the
# systemd unit (packaging/pushdetect.service, sandboxed), /etc/pushdetect/pushdetect.toml,
# shell completions and manual pages made by the binary, and the docs.
# Usage: scripts/package-deb.sh [PROFILE]   (release by default; `dev` packages the debug
# build, as the test does to avoid a second build). Prints the .deb's path.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-release}
target=${CARGO_TARGET_DIR:-target}
if ! cargo deb --version >/dev/null 2>&1; then
    cargo install --locked cargo-deb >&2
fi
strip=()
case "$profile" in
release) cargo build --release --locked -p pushdetect >&2; dir=release ;;
dev) cargo build --locked -p pushdetect >&2; dir=debug; strip=(--no-strip --fast) ;;
*) cargo build --profile "$profile" --locked -p pushdetect >&2; dir=$profile ;;
esac
bin="$target/$dir/pushdetect"
# Made by the binary, so that they say what it does; not kept in git.
generated=packaging/generated
rm -rf "$generated"
mkdir -p "$generated/completions" "$generated/man"
"$bin" completions bash >"$generated/completions/pushdetect.bash"
"$bin" completions zsh >"$generated/completions/_pushdetect"
"$bin" completions fish >"$generated/completions/pushdetect.fish"
"$bin" man --dir "$generated/man"
mkdir -p "$target/debian"
deb=$(cargo deb -p pushdetect --no-build --profile "$profile" "${strip[@]}" -o "$target/debian/" \
    2> >(grep -v "dev profile is not supported\|To enable debug symbols" >&2) | tail -1)
realpath "$deb"
