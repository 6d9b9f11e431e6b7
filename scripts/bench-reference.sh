#!/usr/bin/env bash
# End-to-end comparison with the floor (the same workers and HTTP requests, no framework)
# and the reference, prometheus-test 0.1.10 from PyPI, on 3x3x3, 10x10x10 and 3x100x3
# scenarios (stdlib-Python workers, a Mongo-seeded collection, signing): see
# scripts/bench_reference.py. Prints wall / floor for every scenario and the phases of
# our runs, then a trivial step (tests/components/trail) as a full run reports it. Results
# go in docs/performance.md. Never run by the test suite. Installs what
# it needs into target/bench-reference/venv.
#
#   scripts/bench-reference.sh                    # REPEATS=3 by default
#   REFERENCE=0 scripts/bench-reference.sh        # floor and ours only
#   SCENARIOS=3x100x3 scripts/bench-reference.sh  # some scenarios only
#   SCENARIOS=trivial scripts/bench-reference.sh   # the trivial step only
#   RUNNER=target/debug/prometheus-wasm scripts/bench-reference.sh  # another build
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

out=target/bench-reference
venv=$out/venv
mkdir -p "$out"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
pip() { "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"; }
pip pynacl==1.5.0 base58==2.1.1 secantusdb==0.7.0b3 pymongo==4.10.1
# The reference is optional: without it the floor and ours still run.
if [ "${REFERENCE:-1}" != 0 ] && ! pip prometheus-test==0.1.10; then
    echo "bench: prometheus-test 0.1.10 could not be installed; measuring the floor and ours only" >&2
    export REFERENCE=0
fi

# RUNNER=path/to/prometheus-wasm measures that binary instead (another profile, an older
# build for a before/after); the bench-task and trail components must then be built already.
runner=${RUNNER:-}
if [ -z "$runner" ]; then
    cargo build --quiet --release -p prometheus-wasm --bin prometheus-wasm
    cargo build --quiet --target wasm32-wasip2 --profile guest -p bench-task -p trail
    runner="$(pwd)/target/release/prometheus-wasm"
fi

# One MongoDB-wire server for both frameworks, in memory.
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$venv/bin/secantusd-py" --host 127.0.0.1 --port "$port" --storage-path :memory: \
    >"$out/secantusd.log" 2>&1 &
mongo_pid=$!
trap 'kill "$mongo_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    if "$venv/bin/python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
        break
    fi
    sleep 0.1
done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"$venv/bin/python" scripts/bench_reference.py \
    "mongodb://127.0.0.1:$port/?directConnection=true" \
    "$(pwd)/$venv/bin/python" "$(realpath "$runner")" "$(pwd)/$out/scenarios"
