#!/usr/bin/env bash
# Runs the whole test suite: unit tests and the integration tests, which start real
# servers on random loopback ports over real SQLite databases, and drive the console in a
# real headless Chromium (installed here from Debian's packages when missing) and send
# syslog to a real rsyslog (likewise installed here); the store's
# conformance suite runs against SQLite and PostgreSQL (started here when none answers on
# 127.0.0.1:5432); the mail tests read CPython's email test data (Debian's
# libpython3.11-testsuite, installed here when missing); the OpenAPI document is checked
# by openapi-spec-validator and schemathesis (from PyPI, into a virtual environment under
# target/).
# Everything the tests need is built here; nothing else must be running.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install Rust from https://rustup.rs first" >&2
    exit 1
fi

# The console's end-to-end tests drive Debian's Chromium through chromedriver.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    echo "installing chromium and chromium-driver for the console tests" >&2
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi
export CHROMEDRIVER=${CHROMEDRIVER:-$(command -v chromedriver)}

# The forwarding tests send syslog to Debian's rsyslog (TLS through its GnuTLS driver).
if [ ! -x /usr/sbin/rsyslogd ] || [ -z "$(find /usr/lib -name lmnsd_gtls.so 2>/dev/null)" ]; then
    echo "installing rsyslog and rsyslog-gnutls for the forwarding tests" >&2
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq rsyslog rsyslog-gnutls >/dev/null
fi

# The mail corpus tests read CPython's email test messages where Debian installs them.
if [ ! -d /usr/lib/python3.11/test/test_email/data ]; then
    echo "installing libpython3.11-testsuite for the mail corpus tests" >&2
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libpython3.11-testsuite >/dev/null
fi

# The PostgreSQL backup test runs the documented pg_dump / pg_restore recipe.
if ! command -v pg_dump >/dev/null 2>&1 || ! command -v pg_restore >/dev/null 2>&1; then
    echo "installing postgresql-client for the PostgreSQL backup test" >&2
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql-client >/dev/null
fi

# The PostgreSQL tests create and drop databases of their own on this server.
pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
if [ -z "${PUSHDETECT_TEST_POSTGRES:-}" ] && ! pg_up; then
    echo "starting PostgreSQL for the store tests" >&2
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    fi
    version=$(ls /etc/postgresql | sort -V | tail -1)
    $sudo pg_ctlcluster "$version" main start || true
    for _ in $(seq 30); do pg_up && break; sleep 1; done
    # Debian asks TCP clients for a password: give the postgres role one for the tests.
    (cd / && $sudo runuser -u postgres -- psql -qc "ALTER USER postgres PASSWORD 'postgres'")
    export PUSHDETECT_TEST_POSTGRES=postgres://postgres:postgres@127.0.0.1:5432/postgres
fi
export PUSHDETECT_TEST_POSTGRES=${PUSHDETECT_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}
export CHROMIUM=${CHROMIUM:-$(command -v chromium)}

# The OpenAPI test checks the served document with openapi-spec-validator (PyPI), kept in
# a virtual environment beside the build.
venv="$(pwd)/${CARGO_TARGET_DIR:-target}/openapi-venv"
case "${CARGO_TARGET_DIR:-}" in /*) venv="$CARGO_TARGET_DIR/openapi-venv" ;; esac
if [ -z "${PUSHDETECT_OPENAPI_VALIDATOR:-}" ] && [ ! -x "$venv/bin/schemathesis" ]; then
    echo "installing openapi-spec-validator and schemathesis for the OpenAPI tests" >&2
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        sudo=""
        if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3 python3-venv >/dev/null
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q openapi-spec-validator==0.9.0 schemathesis==4.32.5
fi
export PUSHDETECT_OPENAPI_VALIDATOR=${PUSHDETECT_OPENAPI_VALIDATOR:-$venv/bin/openapi-spec-validator}
export PUSHDETECT_SCHEMATHESIS=${PUSHDETECT_SCHEMATHESIS:-$venv/bin/schemathesis}

# The package test installs the Debian package (built here from the debug binary, with
# cargo-deb, installed here when missing) and checks the service it sets up.
cargo build --locked -p pushdetect
deb=$(./scripts/package-deb.sh dev)
export PUSHDETECT_TEST_DEB="$deb"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?

# One closing line for the whole run: cargo prints a result line per test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
