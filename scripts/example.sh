#!/usr/bin/env bash
# Builds the runner, the hello worker and the hello step package, then runs the hello
# example from a fresh start: two worker servers, five steps, two rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

# cargo reuses an existing build (seconds when nothing changed); the binaries are taken
# from wherever cargo puts them (CARGO_TARGET_DIR honoured).
target=$(cargo_target_dir)
cargo build --quiet -p prometheus-wasm -p hello-worker
cargo build --quiet -p hello-steps --target wasm32-wasip2 --profile guest
cp "$target/wasm32-wasip2/guest/hello_steps.wasm" examples/hello/tests/steps.wasm
# The hello workers are found through HELLO_WORKER when the target directory is elsewhere.
export HELLO_WORKER=${HELLO_WORKER:-$target/debug/hello-worker}
exec "$target/debug/prometheus-wasm" run examples/hello/tests/steps.wasm --reset "$@"
