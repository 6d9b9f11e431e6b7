#!/usr/bin/env bash
# Packs an already-built prometheus-wasm binary into a release archive and its checksum:
#   prometheus-wasm-VERSION-TARGET.tar.gz          (prometheus-wasm-VERSION-TARGET/prometheus-wasm, README.md)
#   prometheus-wasm-VERSION-TARGET.tar.gz.sha256   (`sha256sum -c` format)
# It builds nothing: the release workflow (.github/workflows/release.yml) builds each
# target and calls this; the test suite packs the binary it already built (tests/dist.rs).
#
# usage: scripts/dist.sh [BINARY] [TARGET] [OUT_DIR]
#   BINARY   default: the release binary in cargo's target directory
#   TARGET   default: this machine's target triple (rustc -vV)
#   OUT_DIR  default: dist/ in cargo's target directory
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

target_dir() {
    cargo metadata --format-version 1 --no-deps \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}
binary=${1:-$(target_dir)/release/prometheus-wasm}
target=${2:-$(rustc -vV | sed -n 's/^host: //p')}
out=${3:-$(target_dir)/dist}

[ -x "$binary" ] || { echo "dist: $binary is not an executable; build it first (cargo build --release -p prometheus-wasm)" >&2; exit 2; }
# The version the binary reports is the one the archive is named for, so an archive can
# never carry another build than its name says.
version=$("$binary" --version | awk '{print $2}')
[ -n "$version" ] || { echo "dist: $binary --version printed no version" >&2; exit 2; }

name=prometheus-wasm-$version-$target
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name" "$out"
cp "$binary" "$stage/$name/prometheus-wasm"
chmod 0755 "$stage/$name/prometheus-wasm"
cp README.md "$stage/$name/README.md"
archive=$name.tar.gz
# Owner and order fixed, so the archive does not depend on who packed it.
tar -C "$stage" --owner=0 --group=0 --numeric-owner --sort=name -czf "$out/$archive" "$name" 2>/dev/null \
    || tar -C "$stage" -czf "$out/$archive" "$name"   # BSD tar (macOS) lacks the GNU options
if command -v sha256sum >/dev/null 2>&1; then
    (cd "$out" && sha256sum "$archive" > "$archive.sha256")
else
    (cd "$out" && shasum -a 256 "$archive" > "$archive.sha256")
fi
echo "$out/$archive"
