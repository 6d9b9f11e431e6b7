#!/usr/bin/env bash
# Builds the Python and JavaScript step packages of examples/hello-python and
# examples/hello-js into target/polyglot/{hello_python,hello_js}.wasm, and the parity
# packages of tests/polyglot-steps/parity-{python,js} (every helper capability, tests/parity.rs)
# into target/polyglot/{parity_python,parity_js}.wasm, and the faults packages of
# tests/polyglot-steps/faults-{python,js} (the steps-with-faults world, tests/faults.rs) into
# target/polyglot/{faults_python,faults_js}.wasm.
#
# Installs its tools idempotently and pinned: componentize-py into .venv (via
# scripts/setup-venv.sh, pinned in scripts/requirements-dev.txt) and componentize-qjs into
# guest-js/node_modules (`npm ci` from guest-js/package-lock.json, re-run only when the
# lockfile changes). A component is rebuilt only when its sources, the WIT or the tool
# changed (a stamp of their sha256 beside it): rebuilding changes the component's bytes
# and so misses the compiled-code cache.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

out=$(cargo_target_dir)/polyglot
mkdir -p "$out"

# Tools -----------------------------------------------------------------------------------
scripts/setup-venv.sh
lock_stamp=guest-js/node_modules/.package-lock.sha256
want=$(sha256sum guest-js/package-lock.json | cut -d' ' -f1)
if [ "$(cat "$lock_stamp" 2>/dev/null)" != "$want" ]; then
    (cd guest-js && npm ci --no-audit --no-fund --silent)
    echo "$want" > "$lock_stamp"
fi

# Rebuilds $1 (a .wasm under $out) with the rest of the arguments when the sha256 of the
# listed inputs ($INPUTS) differs from the stamp of the last build.
build_if_changed() {
    local wasm=$1
    shift
    local stamp=$wasm.inputs.sha256 want
    # shellcheck disable=SC2086 # INPUTS is a list of paths without spaces
    want=$(cat $INPUTS | sha256sum | cut -d' ' -f1)
    if [ -f "$wasm" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return
    fi
    echo "building $wasm"
    "$@"
    echo "$want" > "$stamp"
}

# Python: componentize-py bundles the example module, the helper module and CPython.
# (No __pycache__ beside the sources.)
export PYTHONDONTWRITEBYTECODE=1
INPUTS="wit/step.wit guest-python/prometheus_step.py examples/hello-python/steps/hello_steps.py scripts/requirements-dev.txt" \
    build_if_changed "$out/hello_python.wasm" \
    .venv/bin/componentize-py -d wit -w steps componentize hello_steps \
    -p examples/hello-python/steps -p guest-python -o "$out/hello_python.wasm"

# The Python helpers: the native module, the prometheus_test compatibility layer and its
# `requests`.
py_helpers="guest-python/prometheus_step.py $(find guest-python/prometheus_test guest-python/requests guest-python/dotenv -name '*.py' | sort | tr '\n' ' ')"
# shellcheck disable=SC2086 # py_helpers is a list of paths without spaces
INPUTS="wit/step.wit $py_helpers tests/polyglot-steps/parity-python/parity_steps.py scripts/requirements-dev.txt" \
    build_if_changed "$out/parity_python.wasm" \
    .venv/bin/componentize-py -d wit -w steps componentize parity_steps \
    -p tests/polyglot-steps/parity-python -p guest-python -o "$out/parity_python.wasm"

# The faults package: built against `steps-with-faults` (steps plus the faults import),
# with the faults helper beside the step helper.
INPUTS="wit/step.wit guest-python/prometheus_step.py guest-python/prometheus_faults.py tests/polyglot-steps/faults-python/faults_steps.py scripts/requirements-dev.txt" \
    build_if_changed "$out/faults_python.wasm" \
    .venv/bin/componentize-py -d wit -w steps-with-faults componentize faults_steps \
    -p tests/polyglot-steps/faults-python -p guest-python -o "$out/faults_python.wasm"

# JavaScript: componentize-qjs resolves `./prometheus-step.js` from --module-root, so the
# helper is staged beside the example's module, as a user keeps it beside theirs.
js_src=$out/hello-js-src
rm -rf "$js_src"
mkdir -p "$js_src"
cp guest-js/prometheus-step.js examples/hello-js/steps/hello-steps.js "$js_src/"
INPUTS="wit/step.wit guest-js/prometheus-step.js examples/hello-js/steps/hello-steps.js guest-js/package-lock.json" \
    build_if_changed "$out/hello_js.wasm" \
    guest-js/node_modules/.bin/componentize-qjs --wit wit --world steps --sync \
    --js "$js_src/hello-steps.js" --module-root "$js_src" -o "$out/hello_js.wasm"

parity_src=$out/parity-js-src
rm -rf "$parity_src"
mkdir -p "$parity_src"
cp guest-js/prometheus-step.js tests/polyglot-steps/parity-js/parity-steps.js "$parity_src/"
INPUTS="wit/step.wit guest-js/prometheus-step.js tests/polyglot-steps/parity-js/parity-steps.js guest-js/package-lock.json" \
    build_if_changed "$out/parity_js.wasm" \
    guest-js/node_modules/.bin/componentize-qjs --wit wit --world steps --sync \
    --js "$parity_src/parity-steps.js" --module-root "$parity_src" -o "$out/parity_js.wasm"

faults_src=$out/faults-js-src
rm -rf "$faults_src"
mkdir -p "$faults_src"
cp guest-js/prometheus-step.js guest-js/prometheus-faults.js \
    tests/polyglot-steps/faults-js/faults-steps.js "$faults_src/"
INPUTS="wit/step.wit guest-js/prometheus-step.js guest-js/prometheus-faults.js tests/polyglot-steps/faults-js/faults-steps.js guest-js/package-lock.json" \
    build_if_changed "$out/faults_js.wasm" \
    guest-js/node_modules/.bin/componentize-qjs --wit wit --world steps-with-faults --sync \
    --js "$faults_src/faults-steps.js" --module-root "$faults_src" -o "$out/faults_js.wasm"

# Beside each example's config, so that `prometheus-wasm run examples/hello-python/tests/steps.wasm`
# runs it (the copies are git-ignored).
cp "$out/hello_python.wasm" examples/hello-python/tests/steps.wasm
cp "$out/hello_js.wasm" examples/hello-js/tests/steps.wasm
