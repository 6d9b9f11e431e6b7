#!/usr/bin/env bash
# The whole test suite: formatting, lints, every unit test and the system tests, which run
# the real binary against real worker processes and components built from source here.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# SecantusDB for the remote MongoDB tests (host/tests/mongo_behaviour.rs).
scripts/setup-venv.sh
# docker-registry and htpasswd for the OCI tests (tests/registry.rs).
scripts/setup-registry.sh
# xmllint and chromium for the report tests (tests/reports.rs).
scripts/setup-report-tools.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== build: runner, workers, components"
cargo build --workspace --bins
scripts/build-components.sh
scripts/build-polyglot.sh

echo "== cargo clippy (host and guest targets)"
cargo clippy --workspace --all-targets -- -D warnings
guest_pkgs=(-p prometheus-step -p hello-steps -p audit-steps -p todos-steps -p koii-task-steps)
cargo clippy --target wasm32-wasip2 "${guest_pkgs[@]}" -- -D warnings

echo "== cargo doc: the library's public API documents without a broken or private link"
RUSTDOCFLAGS="-D warnings" cargo doc -p prometheus-wasm --no-deps --quiet

echo "== packaging: cargo package, pip install, npm pack"
scripts/check-packaging.sh

echo "== cargo test"
cargo test --workspace
