#!/usr/bin/env bash
# Installs what building prometheus-wasm needs, idempotently: the wasm32-wasip2 target and
# the rustfmt/clippy components. Sourced by the other scripts.
set -euo pipefail

if command -v rustup >/dev/null 2>&1; then
    installed=$(rustup target list --installed)
    if ! grep -qx wasm32-wasip2 <<<"$installed"; then
        rustup target add wasm32-wasip2
    fi
    components=$(rustup component list --installed)
    for c in rustfmt clippy; do
        if ! grep -q "^$c" <<<"$components"; then
            rustup component add "$c"
        fi
    done
else
    echo "setup: rustup not found; make sure the wasm32-wasip2 target is installed" >&2
fi

# Where cargo puts what it builds: CARGO_TARGET_DIR or a config's build.target-dir when set
# (a common CI cache setting), else target/. Scripts ask this instead of assuming target/.
cargo_target_dir() {
    cargo metadata --format-version 1 --no-deps \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}
