#!/usr/bin/env bash
# Creates (once) the Python virtualenv `.venv` that test-only tools live in and installs the
# pinned packages of scripts/requirements-dev.txt when that file changed. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
requirements=scripts/requirements-dev.txt
stamp=$venv/.requirements.sha256
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" > "$stamp"
fi
