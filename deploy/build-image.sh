#!/usr/bin/env bash
# Builds the Spindle container image (deploy/Containerfile) with podman, on a machine that reaches no container
# registry: the base is a Debian bookworm rootfs made with debootstrap from Debian's mirror and imported.
#   bash deploy/build-image.sh [--tag IMAGE] [--base IMAGE] [--context-only]
#     --tag IMAGE     the image to build (default localhost/spindle:dev, or $SPINDLE_IMAGE)
#     --base IMAGE    build FROM this image instead (e.g. mcr.microsoft.com/dotnet/runtime-deps:10.0, pulled)
#     --context-only  stage the build context (artifacts/deploy/context) and stop: build it with docker or
#                     podman yourself (deploy/README.md)
# Steps, each cached: the example's components (scripts/build-fixtures.sh) and the key-value counter
# (deploy/app/visits.js); a self-contained `dotnet publish` of the CLI; the components compiled ahead of time by
# that spindle (a warm start in the container); the base rootfs, a tarball keyed by its recipe, imported once as
# localhost/spindle-base. The counter, the compiled components and the rootfs are cached outside the clone, under
# ${XDG_CACHE_HOME:-~/.cache}/spindle/deploy, so that a fresh clone (CI) reuses them.
# Installs podman and debootstrap (Debian packages) when run as root and they are missing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tag=${SPINDLE_IMAGE:-localhost/spindle:dev}
base=""
context_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    --context-only) context_only=1; shift ;;
    *) echo "usage: $0 [--tag IMAGE] [--base IMAGE] [--context-only]" >&2; exit 2 ;;
  esac
done
out="$root/artifacts/deploy"
ctx="$out/context"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/spindle/deploy"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
started=$SECONDS
# One build at a time on a machine: the caches and the image tag are shared. (Children that may outlive the script,
# such as the .NET build servers, get the lock's descriptor closed: 9>&-.)
mkdir -p "$cache" "$out"
exec 9>"$cache/.lock"
flock -w 1800 9 || { echo "build-image: another build holds $cache/.lock" >&2; exit 1; }
step() { echo "==> [$((SECONDS - started))s] $*"; }
fail() { echo "build-image: $*" >&2; exit 1; }

# 1. Debian packages (as scripts/build-fixtures.sh installs its own).
debs=()
[ "$context_only" = 1 ] || debs+=(podman)
[ "$context_only" = 1 ] || [ -n "$base" ] || debs+=(debootstrap)
missing=()
for p in "${debs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    step "installing ${missing[*]}"
    timeout 600 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    fail "missing Debian packages: sudo apt-get install ${missing[*]}"
  fi
fi

# 2. The application: the README example (built by the fixtures script, cached) and the key-value counter.
step "components"
bash "$root/scripts/build-fixtures.sh" >/dev/null 9>&- || fail "scripts/build-fixtures.sh failed"
# Built into the cache outside the clone (build.mjs keys it on the source, the toolchain and the WIT), so a fresh
# clone on the same machine does not rebuild it.
timeout 600 node "$root/tests/fixtures/js/build.mjs" "$root/artifacts/tools" "$cache/app-target" "$root/deploy/app" "$root/tests/fixtures/wit" 9>&-

# 3. Self-contained spindle (incremental: only what changed since the last publish is rebuilt).
step "dotnet publish (self-contained, linux-x64)"
timeout 900 dotnet publish "$root/src/Spindle.Cli" -c Release -r linux-x64 --self-contained -o "$out/publish" \
  -p:SatelliteResourceLanguages=en -nologo -v quiet -clp:ErrorsOnly >/dev/null 9>&- || fail "dotnet publish failed"

# 4. Stage the build context.
step "staging $ctx"
rm -rf "$ctx"
mkdir -p "$ctx/app/target" "$ctx/state"
cp -al "$out/publish" "$ctx/spindle" 2>/dev/null || cp -a "$out/publish" "$ctx/spindle"
rm -f "$ctx"/spindle/*.pdb "$ctx"/spindle/*.xml
cp "$root/deploy/app/spin.toml" "$ctx/app/"
cp "$root/examples/hello/target/hello.wasm" "$root/examples/hello/target/greet.wasm" "$cache/app-target/visits.wasm" "$ctx/app/target/"
chmod 0700 "$ctx/state"

# 5. Compile the components ahead of time with the staged spindle (Spindle's artifact cache, keyed by the wasm and
#    the engine): kept in the cache outside the clone and redone only when a component or spindle changes.
key=$(cat "$ctx"/app/target/*.wasm "$ctx/spindle/libwasmtime.so" "$ctx"/spindle/Spindle.*.dll "$ctx/spindle/spindle.dll" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$cache/cwasm.key" 2>/dev/null)" != "$key" ]; then
  step "compiling the components ahead of time"
  rm -rf "$cache/cwasm" "$cache/cwasm.key" "$out/precompile"
  mkdir -p "$out/precompile"
  port=$((20000 + RANDOM % 30000))
  "$ctx/spindle/spindle" up --from "$ctx/app/spin.toml" --listen "127.0.0.1:$port" --find-free-port \
    --cache-dir "$cache/cwasm" --state-dir "$out/precompile/state" >"$out/precompile/log" 2>&1 9>&- &
  pid=$!
  for _ in $(seq 1 1200); do
    grep -q '^Serving ' "$out/precompile/log" && break
    kill -0 "$pid" 2>/dev/null || { cat "$out/precompile/log" >&2; fail "spindle exited while compiling"; }
    sleep 0.5
  done
  grep -q '^Serving ' "$out/precompile/log" || { kill -KILL "$pid"; fail "compiling took over 10 minutes"; }
  kill -TERM "$pid"; wait "$pid" || fail "spindle did not exit cleanly after compiling"
  echo "$key" > "$cache/cwasm.key"
fi
cp -a "$cache/cwasm" "$ctx/cache"
chmod 0700 "$ctx/cache"; chmod 0600 "$ctx"/cache/*

[ "$context_only" = 1 ] && { step "context staged: $ctx"; exit 0; }

# 6. The base image: Debian bookworm minbase plus what a self-contained .NET app needs (libssl3 for TLS,
#    ca-certificates, tzdata; ICU is not needed: Spindle runs with invariant globalization), and the user `app`
#    (1654, as in the official .NET images). Cached by the recipe's hash.
make_rootfs() { # $1: empty directory
  timeout 900 debootstrap --variant=minbase --include=ca-certificates,libssl3,tzdata bookworm "$1" "$mirror" >/dev/null
  chroot "$1" groupadd --gid 1654 app
  chroot "$1" useradd --uid 1654 --gid 1654 --create-home --home-dir /home/app --shell /usr/sbin/nologin app
  rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/* "$1"/var/log/* \
    "$1"/usr/share/man/* "$1"/usr/share/info/* "$1"/usr/share/locale/*
  find "$1/usr/share/doc" -type f ! -name copyright -delete
  : > "$1/etc/resolv.conf"; : > "$1/etc/hostname"
}
if [ -z "$base" ]; then
  recipe=$( (declare -f make_rootfs; echo "$mirror") | sha256sum | cut -c1-12)
  base="localhost/spindle-base:bookworm-$recipe"
  tarball="$cache/rootfs-$recipe.tar"
  if ! podman image exists "$base"; then
    if [ ! -f "$tarball" ]; then
      step "debootstrap bookworm (minbase) into $cache"
      mkdir -p "$cache"
      tmp=$(mktemp -d "$cache/rootfs.XXXXXX")
      trap 'rm -rf "$tmp"' EXIT
      make_rootfs "$tmp/rootfs" || fail "debootstrap failed (mirror $mirror; see $tmp/rootfs/debootstrap/debootstrap.log)"
      tar --numeric-owner -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
      mv "$tmp/rootfs.tar" "$tarball"
      rm -rf "$tmp"; trap - EXIT
      find "$cache" -maxdepth 1 -name 'rootfs-*.tar' ! -name "rootfs-$recipe.tar" -delete
    fi
    step "podman import $tarball as $base"
    timeout 300 podman import --quiet "$tarball" "$base" >/dev/null
    # Earlier recipes' bases are not needed any more.
    for old in $(podman images --format '{{.Repository}}:{{.Tag}}' localhost/spindle-base | grep -vxF "$base" || true); do
      podman rmi "$old" >/dev/null 2>&1 || true
    done
  fi
  pull=(--pull=never)
else
  pull=()
fi

# 7. The image. No RUN step in the Containerfile, so nothing is executed at build time.
step "podman build $tag FROM $base"
old=$(podman image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
timeout 900 podman build "${pull[@]}" --quiet --build-arg "BASE_IMAGE=$base" -f "$root/deploy/Containerfile" -t "$tag" "$ctx" >/dev/null \
  || fail "podman build failed"
new=$(podman image inspect --format '{{.Id}}' "$tag")
[ -n "$old" ] && [ "$old" != "$new" ] && { podman rmi "$old" >/dev/null 2>&1 || true; }
step "built $tag ($(podman image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
