#!/usr/bin/env bash
# The SDKs install away from this checkout: the Rust SDK packages as a self-contained crate
# (its WIT inside; `cargo package` builds the packaged copy), the Python helpers install
# with pip into a fresh venv, and the JavaScript helper packs with npm. Run by
# scripts/test.sh; each step works on a copy, so the checkout is left clean.
set -euo pipefail
# (grep without -q below: -q exits at the first match, and pipefail would then fail tar.)
cd "$(dirname "$0")/.."
source scripts/setup.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== cargo package -p prometheus-step"
# In the target directory (CARGO_TARGET_DIR honoured): the verify build reuses its earlier builds (seconds, not minutes, in CI
# once target/ is cached).
cargo package --quiet -p prometheus-step --allow-dirty
version=$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "prometheus-step"))')
crate=$(cargo_target_dir)/package/prometheus-step-$version.crate
tar -tzf "$crate" | grep -x 'prometheus-step-[0-9.]*/wit/step.wit' >/dev/null \
    || { echo "the packaged crate lacks wit/step.wit" >&2; exit 1; }

echo "== pip install ./guest-python"
# A venv of its own, not .venv: the helpers ship a `prometheus_test` package, which would
# replace the reference prometheus-test the test venv holds. The venv's own setuptools
# builds it when it has one (no download); else pip fetches the build backend.
cp -r guest-python "$tmp/guest-python"
python3 -m venv "$tmp/venv"
isolation=()
# setuptools builds wheels itself from 70.1 on; older ones need the `wheel` package.
if "$tmp/venv/bin/python" -c '
import sys, setuptools
major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
if (major, minor) < (70, 1):
    import wheel' 2>/dev/null; then
    isolation=(--no-build-isolation)
fi
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check "${isolation[@]}" "$tmp/guest-python"
rm -rf "$tmp/guest-python"
# Found from elsewhere, with the source copy gone: the installed files are what loads.
# (Found, not imported: the helpers import bindings componentize-py generates at build.)
(cd "$tmp" && "$tmp/venv/bin/python" -c '
import importlib.util
for name in ("prometheus_step", "prometheus_test"):
    print(importlib.util.find_spec(name).origin)') | grep -c "$tmp/venv/" | grep -x 2 >/dev/null \
    || { echo "pip did not install prometheus_step and prometheus_test" >&2; exit 1; }

echo "== npm pack guest-js"
(cd guest-js && npm pack --silent --pack-destination "$tmp" >/dev/null)
tar -tzf "$tmp"/prometheus-step-*.tgz | grep -x 'package/prometheus-step.js' >/dev/null \
    || { echo "the npm package lacks prometheus-step.js" >&2; exit 1; }
echo "packaging: ok"
