#!/usr/bin/env bash
# Figures for docs/sharing-steps.md: wall time of a run whose package comes from an OCI
# registry, first run (pull + compile) vs cached run (package store + compiled-code cache),
# for the Rust and the Python hello packages. Needs the binaries and components built
# (scripts/test.sh builds them) and docker-registry (scripts/setup-registry.sh).
# Not part of the test suite: timings are machine-dependent.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=$root/target/debug/prometheus-wasm
tmp=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$tmp/registry.yml" <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $tmp/registry}}
http: {addr: 127.0.0.1:$port}
YAML
docker-registry serve "$tmp/registry.yml" >/dev/null 2>&1 &
registry=$!
trap 'kill $registry; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

now() { date +%s.%N; }
# bench NAME EXAMPLE PACKAGE.wasm
bench() {
    local name=$1 example=$2 wasm=$3 dir=$tmp/$1 ref=127.0.0.1:$port/bench/$1:1
    mkdir -p "$dir"
    cp examples/"$example"/tests/{config.yaml,workers.json} "$dir/"
    local sha
    sha=$("$bin" push "$wasm" "$ref" | sed -n 's/^  sha256: //p' | head -n 1)
    printf 'packages:\n  steps:\n    oci: %s\n    sha256: %s\nsteps:\n  - use: steps\n' "$ref" "$sha" > "$dir/plan.yaml"
    export PROMETHEUS_WASM_CACHE_DIR=$dir/cache HELLO_WORKER=$root/target/debug/hello-worker
    local t0 t1 t2 p0 p1
    # The pull alone, into a cache of its own: the network part of the first run.
    p0=$(now); PROMETHEUS_WASM_CACHE_DIR=$dir/pull-only "$bin" pull "$ref" >/dev/null
    p1=$(now)
    t0=$(now); "$bin" run "$dir/plan.yaml" --reset >/dev/null
    t1=$(now); "$bin" run "$dir/plan.yaml" --reset --offline >/dev/null
    t2=$(now)
    printf '| %s (%s KB) | %.2f s | %.2f s | %.2f s |\n' "$name" "$(( $(stat -c %s "$wasm") / 1024 ))" \
        "$(echo "$t1 - $t0" | bc)" "$(echo "$p1 - $p0" | bc)" "$(echo "$t2 - $t1" | bc)"
}
echo "| package | first run (pull + compile + run) | of which the pull alone | cached run (--offline) |"
echo "|---|---|---|---|"
bench rust hello target/wasm32-wasip2/guest/hello_steps.wasm
bench python hello-python target/polyglot/hello_python.wasm
