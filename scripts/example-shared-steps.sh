#!/usr/bin/env bash
# Builds the runner, the hello worker and both step packages, then runs the shared-steps
# example's plan from a fresh start: three workers, two packages, six steps, two rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

cargo build --quiet -p prometheus-wasm -p hello-worker
cargo build --quiet -p hello-steps -p audit-steps --target wasm32-wasip2 --profile guest
exec target/debug/prometheus-wasm run examples/shared-steps/tests/plan.yaml --reset "$@"
