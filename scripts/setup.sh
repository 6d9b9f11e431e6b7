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
