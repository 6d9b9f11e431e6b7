#!/usr/bin/env bash
# Installs (once) the system tools the report tests use: xmllint (Debian libxml2-utils), to
# validate the JUnit report against its schema, and a headless chromium, to render the HTML
# report. Idempotent: does nothing when both are on PATH.
set -euo pipefail
missing=()
command -v xmllint >/dev/null || missing+=(libxml2-utils)
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
