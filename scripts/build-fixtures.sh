#!/usr/bin/env bash
# Builds every test fixture from its sources into artifacts/fixtures/ (git-ignored):
#   tests/fixtures/js/*.js      → js/<name>.wasm      ComponentizeJS 0.22 (wasi:http@0.2.10)
#   tests/fixtures/js-spin/*.js → js-spin/<name>.wasm ComponentizeJS 0.22, world also imports tests/fixtures/wit/*.wit (Spin interfaces)
#   tests/fixtures/spinjs/*.js  → spinjs/<name>.wasm  Spin's JS SDK build tools (ComponentizeJS 0.19.3, wasi:http@0.2.3)
#   tests/fixtures/wagi/*.c     → wagi/<name>.wasm    clang-14 + wasi-libc (WASI preview1 commands)
#   some of wagi/*.wasm         → wagi-cli/<name>.wasm  the same commands as wasi:cli/run components (jco new --wasi-command)
#   tests/fixtures/legacy/      → legacy/*.wasm       Spin SDK generation-1/-2 core modules (clang-14 + wasi-libc, jco parse)
#   tests/fixtures/wat/*.wat    → wat/<name>.wasm     jco parse
#   examples/hello/src          → examples/hello/target (the README quick-start app)
# Installs what it needs (Debian packages when run as root, pinned npm packages from tests/fixtures/tools).
# Idempotent: an output is rebuilt only when its source or the toolchain changed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$root/artifacts/fixtures"
tools="$root/artifacts/tools"
mkdir -p "$out/js" "$out/spinjs" "$out/wagi" "$out/wagi-cli" "$tools"

# 1. Debian packages: the toolchain for Wagi modules, and a Redis server for the key-value tests (started by the
#    tests themselves on a loopback port, never as a system service).
debs=(clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 redis-server)
missing=()
for p in "${debs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing Debian packages: sudo apt-get install ${missing[*]}" >&2; exit 1
  fi
fi

# 2. Pinned npm toolchain for JavaScript components (reinstalled only when the lock file changes).
command -v node >/dev/null || { echo "node and npm are needed: apt-get install nodejs npm" >&2; exit 1; }
if ! cmp -s "$root/tests/fixtures/tools/package-lock.json" "$tools/package-lock.json" || [ ! -d "$tools/node_modules" ]; then
  cp "$root/tests/fixtures/tools/package.json" "$root/tests/fixtures/tools/package-lock.json" "$tools/"
  # npm has been seen to hang for good on a stalled registry download: bound it, then retry once from its cache.
  (cd "$tools" && { timeout 600 npm ci --no-audit --no-fund --loglevel=error ||
    { echo "npm ci failed or timed out; retrying" >&2; timeout 600 npm ci --no-audit --no-fund --loglevel=error --prefer-offline; }; })
fi

# 3. JavaScript components.
node "$root/tests/fixtures/js/build.mjs" "$tools" "$out/js"
node "$root/tests/fixtures/js/build.mjs" "$tools" "$out/js-spin" "$root/tests/fixtures/js-spin" "$root/tests/fixtures/wit"

# 4. Spin JS SDK components: j2w writes helper files beside its input, so it works on a copy in the output folder.
for src in "$root"/tests/fixtures/spinjs/*.js; do
  name=$(basename "$src" .js)
  wasm="$out/spinjs/$name.wasm"
  key=$(cat "$src" "$tools/package-lock.json" | sha256sum | cut -d' ' -f1)
  [ -f "$wasm" ] && [ "$(cat "$wasm.key" 2>/dev/null)" = "$key" ] && continue
  cp "$src" "$out/spinjs/$name.src.js"
  (cd "$tools" && node node_modules/@spinframework/build-tools/dist/index.js -i "$out/spinjs/$name.src.js" -o "$wasm.tmp" >/dev/null)
  # j2w reports errors but exits 0: judge by its output file.
  [ -s "$wasm.tmp" ] || { echo "j2w failed to build $src" >&2; exit 1; }
  mv "$wasm.tmp" "$wasm" && echo "$key" > "$wasm.key" && echo "built spinjs/$name.wasm"
done

# 5. Wagi modules (WASI preview1 commands) from C.
for src in "$root"/tests/fixtures/wagi/*.c; do
  [ -e "$src" ] || continue
  name=$(basename "$src" .c)
  wasm="$out/wagi/$name.wasm"
  # Keyed on the source's content and the compiler (timestamps lie when artifacts are copied around).
  key=$( (cat "$src"; clang-14 --version) | sha256sum | cut -d' ' -f1)
  [ -f "$wasm" ] && [ "$(cat "$wasm.key" 2>/dev/null)" = "$key" ] && continue
  clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -fuse-ld=/usr/bin/wasm-ld-14 -o "$wasm" "$src"
  echo "$key" > "$wasm.key" && echo "built wagi/$name.wasm"
done

# 5b. The same Wagi programs as wasi:cli/run components (Wagi over WASI 0.2 stdio), adapted with the WASI preview1
#     command adapter jco ships; rebuilt when the module or the jco install changes.
for name in echo env redirect notfound big readfile exit1 trap spin count; do
  src="$out/wagi/$name.wasm"
  wasm="$out/wagi-cli/$name.wasm"
  [ -f "$src" ] || { echo "missing $src (Wagi module step)" >&2; exit 1; }
  key=$(cat "$src" "$tools/package-lock.json" | sha256sum | cut -d' ' -f1)
  [ -f "$wasm" ] && [ "$(cat "$wasm.key" 2>/dev/null)" = "$key" ] && continue
  rm -f "$wasm.tmp"
  "$tools/node_modules/.bin/jco" new "$src" --wasi-command -o "$wasm.tmp" >/dev/null \
    || { echo "jco new --wasi-command failed for $src" >&2; exit 1; }
  [ -s "$wasm.tmp" ] || { echo "jco new --wasi-command wrote no output for $src" >&2; exit 1; }
  mv "$wasm.tmp" "$wasm" && echo "$key" > "$wasm.key" && echo "built wagi-cli/$name.wasm"
done

# 5c. Legacy Spin SDK core modules (generation 1: Spin <= 1.3; generation 2: Spin 1.4/1.5), the same app over both
#     ABIs; generation 1 also as a command, as its Go (TinyGo) SDK built them. Keyed on the glue, the shared headers
#     and the compiler.
legacy="$root/tests/fixtures/legacy"
mkdir -p "$out/legacy"
for spec in "spin-v1 spin-v1.c -mexec-model=reactor" "spin-v1-command spin-v1.c -DLEGACY_COMMAND" \
            "spin-v2 spin-v2.c -mexec-model=reactor"; do
  read -r name src flags <<<"$spec"
  wasm="$out/legacy/$name.wasm"
  key=$( (echo "$flags"; cat "$legacy/$src" "$legacy"/*.h; clang-14 --version) | sha256sum | cut -d' ' -f1)
  [ -f "$wasm" ] && [ "$(cat "$wasm.key" 2>/dev/null)" = "$key" ] && continue
  # shellcheck disable=SC2086 # flags is one word or none
  clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -fuse-ld=/usr/bin/wasm-ld-14 $flags -o "$wasm" "$legacy/$src"
  echo "$key" > "$wasm.key" && echo "built legacy/$name.wasm"
done
for src in "$legacy"/*.wat; do
  name=$(basename "$src" .wat)
  wasm="$out/legacy/$name.wasm"
  key=$(cat "$src" "$tools/package-lock.json" | sha256sum | cut -d' ' -f1)
  [ -f "$wasm" ] && [ "$(cat "$wasm.key" 2>/dev/null)" = "$key" ] && continue
  "$tools/node_modules/.bin/jco" parse "$src" -o "$wasm" >/dev/null
  echo "$key" > "$wasm.key" && echo "built legacy/$name.wasm"
done

# 6. Hand-written components in WAT (tests also compile WAT in-process; these files serve the benchmark too).
mkdir -p "$out/wat"
for src in "$root"/tests/fixtures/wat/*.wat; do
  [ -e "$src" ] || continue
  name=$(basename "$src" .wat)
  wasm="$out/wat/$name.wasm"
  [ -f "$wasm" ] && [ "$wasm" -nt "$src" ] && continue
  "$tools/node_modules/.bin/jco" parse "$src" -o "$wasm" >/dev/null
  echo "built wat/$name.wasm"
done

# 7. The README quick-start example (examples/hello): built in place, so its spin.toml is served as written.
app="$root/examples/hello"
mkdir -p "$app/target"
node "$root/tests/fixtures/js/build.mjs" "$tools" "$app/target" "$app/src"
if [ ! -f "$app/target/greet.wasm" ] || [ "$app/src/greet.c" -nt "$app/target/greet.wasm" ]; then
  clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -fuse-ld=/usr/bin/wasm-ld-14 -o "$app/target/greet.wasm" "$app/src/greet.c"
  echo "built examples/hello/target/greet.wasm"
fi
