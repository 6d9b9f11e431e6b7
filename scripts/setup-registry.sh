#!/usr/bin/env bash
# Installs what the sharing tests start, idempotently: Debian's `docker-registry` (the CNCF
# distribution registry, a real OCI registry the tests run on 127.0.0.1) and `htpasswd`
# (apache2-utils) for its bcrypt password file. Nothing is started here: the tests start
# and stop their own registries (tests/support/registry.rs).
set -euo pipefail

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1 || ! sudo -n true 2>/dev/null; then
        echo "setup-registry: install ${missing[*]} (apt-get install -y ${missing[*]}) as root" >&2
        exit 1
    fi
    sudo=(sudo -n)
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh image may have no package lists yet: update once, only when needed.
if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
    "${sudo[@]}" apt-get update
    "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
