#!/usr/bin/env bash
# The README's test command: the whole workspace's tests against a real PostgreSQL and RabbitMQ
# on this machine (started if needed by deploy/local/services.sh). Each test isolates itself
# (its own database and queue prefix), so they run in parallel. Extra arguments go to
# `cargo test`, e.g. `bash deploy/local/test.sh -p docsync-e2e -- --nocapture`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

bash deploy/local/services.sh

if ! command -v cargo >/dev/null 2>&1; then
    if [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]]; then
        export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
    else
        echo "test.sh: error: cargo not found. Install Rust with rustup (https://rustup.rs), open a new shell, and run this again." >&2
        exit 1
    fi
fi

export RUST_LOG="${RUST_LOG:-warn}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
# One closing line for the whole run: cargo's own last line is that of the last test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed/) p += $(i-1); if ($(i) ~ /^failed/) f += $(i-1) } }
     END { printf "\n%d passed, %d failed\n", p, f }' "$log"
exit "$status"
