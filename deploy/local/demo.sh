#!/usr/bin/env bash
# The README's first command: the whole product on this machine against the provider sandbox.
# Starts PostgreSQL and RabbitMQ if needed (deploy/local/services.sh), then `docsync demo` from a
# debug build, which shares its build cache with `cargo test`. Extra arguments go to the demo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

bash deploy/local/services.sh

if ! command -v cargo >/dev/null 2>&1; then
    # rustup installs into ~/.cargo/bin, which a fresh shell may not have on PATH yet.
    if [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]]; then
        export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
    else
        echo "demo.sh: error: cargo not found. Install Rust with rustup (https://rustup.rs), open a new shell, and run this again." >&2
        exit 1
    fi
fi

exec cargo run --quiet -p docsync -- demo "$@"
