#!/usr/bin/env bash
# Builds every guest component in the repository (the examples' step packages and the
# test components) with the size-optimised `guest` profile.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

packages=(hello-steps audit-steps todos-steps koii-task-steps)
for dir in tests/components/*/; do
    [ -f "$dir/Cargo.toml" ] || continue
    packages+=("$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$dir/Cargo.toml" | head -n 1)")
done
args=()
for p in "${packages[@]}"; do args+=(-p "$p"); done
cargo build --quiet --target wasm32-wasip2 --profile guest "${args[@]}"
