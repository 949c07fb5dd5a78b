#!/usr/bin/env bash
# Builds the example application (examples/hello) from source and serves it with `spindle up`.
#   bash scripts/run-example.sh [extra spindle up flags, e.g. --listen 127.0.0.1:3001]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
app="$root/examples/hello"
bash "$root/scripts/build-fixtures.sh" >/dev/null   # installs the guest toolchains (cached)
mkdir -p "$app/target"
node "$root/tests/fixtures/js/build.mjs" "$root/artifacts/tools" "$app/target" "$app/src"
[ "$app/target/greet.wasm" -nt "$app/src/greet.c" ] ||
  clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -fuse-ld=/usr/bin/wasm-ld-14 -o "$app/target/greet.wasm" "$app/src/greet.c"
exec dotnet run --project "$root/src/Spindle.Cli" -c Release -- up -f "$app/spin.toml" "$@"
