#!/usr/bin/env bash
# Builds every Wagi fixture (tests/fixtures/wagi/*.c) into artifacts/fixtures/wagi/<name>.wasm.
# Idempotent: a module newer than its source is left alone.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/tests/fixtures/wagi"
out="$root/artifacts/fixtures/wagi"

if ! command -v clang-14 >/dev/null 2>&1 || [ ! -x /usr/bin/wasm-ld-14 ]; then
    echo "error: clang-14 and wasm-ld-14 are needed to build the Wagi fixtures." >&2
    echo "  sudo apt-get install -y clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32" >&2
    exit 1
fi

mkdir -p "$out"
for c in "$src"/*.c; do
    name="$(basename "$c" .c)"
    wasm="$out/$name.wasm"
    if [ -f "$wasm" ] && [ "$wasm" -nt "$c" ]; then
        continue
    fi
    echo "wagi fixture: $name.wasm"
    clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -fuse-ld=/usr/bin/wasm-ld-14 -o "$wasm.tmp" "$c"
    mv "$wasm.tmp" "$wasm"
done
