#!/usr/bin/env bash
# The SDKs install away from this checkout: the Rust SDK packages as a self-contained crate
# (its WIT inside; `cargo package` builds the packaged copy), the Python helpers install
# with pip into a fresh venv, and the JavaScript helper packs with npm. Run by
# scripts/test.sh; each step works on a copy, so the checkout is left clean.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== cargo package -p prometheus-step"
cargo package --quiet -p prometheus-step --allow-dirty --target-dir "$tmp/cargo"
crate=$(ls "$tmp"/cargo/package/prometheus-step-*.crate 2>/dev/null || ls target/package/prometheus-step-*.crate)
tar -tzf "$crate" | grep -qx 'prometheus-step-[0-9.]*/wit/step.wit' \
    || { echo "the packaged crate lacks wit/step.wit" >&2; exit 1; }

echo "== pip install ./guest-python"
cp -r guest-python "$tmp/guest-python"
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet "$tmp/guest-python"
"$tmp/venv/bin/pip" show --files prometheus-step | grep -q 'prometheus_step.py' \
    || { echo "pip did not install prometheus_step.py" >&2; exit 1; }

echo "== npm pack guest-js"
(cd guest-js && npm pack --silent --pack-destination "$tmp" >/dev/null)
tar -tzf "$tmp"/prometheus-step-*.tgz | grep -qx 'package/prometheus-step.js' \
    || { echo "the npm package lacks prometheus-step.js" >&2; exit 1; }
echo "packaging: ok"
