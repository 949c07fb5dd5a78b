#!/usr/bin/env bash
# Checks deploy/ end to end on this machine (a CI step):
#   1. deploy/check-manifests.py: the Kubernetes manifests, offline;
#   2. deploy/build-image.sh: the image (cached steps);
#   3. runs what deploy/kubernetes describes, with podman: a Redis container reachable as redis:6379 on a private
#      network and two spindle replicas with the ConfigMap's runtime config mounted where RUNTIME_CONFIG_FILE says,
#      as user 1654, read-only root, no capabilities; checks both answer the health check and the example
#      (/hello/, /wagi/), start warm (no component compiled), share key-value state (a count POSTed to one replica
#      is read from the other), and that SIGTERM (podman stop) lets a request in flight finish with 200 and the
#      replica exit 0 within the grace period; removes everything it started.
#   bash deploy/check-container.sh [--no-build]
# Exits nonzero with a message naming the failed check.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tag=${SPINDLE_IMAGE:-localhost/spindle:dev}
build=1
[ "${1:-}" = "--no-build" ] && build=0
started=$SECONDS
step() { echo "==> [$((SECONDS - started))s] $*"; }
fail() { echo "check-container: FAILED: $*" >&2; exit 1; }
work=$(mktemp -d)
name="spindle-check-$$"
net="$name"
containers=()
declare -A url
cleanup() {
  for c in "${containers[@]}"; do timeout 60 podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
  timeout 30 podman network rm -f "$net" >/dev/null 2>&1 || true
  timeout 30 podman rmi "$name-redis" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# 1. Manifests (PyYAML: the system python3's Debian package when the python3 on PATH lacks it).
py=python3
"$py" -c 'import yaml, tomllib' 2>/dev/null || py=/usr/bin/python3
if ! "$py" -c 'import yaml' 2>/dev/null && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq python3-yaml >/dev/null; py=/usr/bin/python3
fi
step "checking deploy/kubernetes"
vars=$("$py" "$root/deploy/check-manifests.py" --runtime-config "$work/runtime-config.toml") || fail "deploy/kubernetes (above)"
eval "$vars"
[ "$K8S_IMAGE" = "$tag" ] || echo "note: deployment.yaml runs $K8S_IMAGE, this check $tag"

# 2. Image.
if [ "$build" = 1 ]; then
  step "building $tag"
  bash "$root/deploy/build-image.sh" --tag "$tag" || fail "deploy/build-image.sh"
fi
podman image exists "$tag" || fail "no image $tag (run deploy/build-image.sh)"

# 3. How this host runs containers. Podman's defaults raise RLIMIT_NOFILE/NPROC (needs CAP_SYS_RESOURCE, which a
#    sandbox may lack) and use crun, which refuses a cgroup v1/v2 hybrid host; fall back to the host's own limits
#    and to runc (a Debian package) when the defaults fail. The probe runs `spindle --version` in the image.
nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ] && nofile=65536
limits=(--ulimit "nofile=$nofile:$nofile" --ulimit nproc=8192:8192)
run_flags=()
probe() { timeout 60 podman run --rm "$@" --entrypoint /opt/spindle/spindle "$tag" --version >"$work/probe" 2>&1; }
if probe; then :
elif probe "${limits[@]}"; then run_flags=("${limits[@]}")
else
  if ! command -v runc >/dev/null && [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq runc >/dev/null || true
  fi
  probe --runtime runc "${limits[@]}" || { cat "$work/probe" >&2; fail "podman cannot run a container here (last error above)"; }
  run_flags=(--runtime runc "${limits[@]}")
fi
step "podman run works with: ${run_flags[*]:-(defaults)}"

# 4. A private network with DNS, Redis as `redis` on it (the check's own image: the spindle image plus this
#    host's redis-server and the libraries it needs, since no registry is reachable for redis:7).
podman network create "$net" >/dev/null 2>"$work/net.err" || { cat "$work/net.err" >&2; false; } || fail "podman network create"
command -v redis-server >/dev/null || fail "redis-server is missing (scripts/build-fixtures.sh installs it)"
mkdir -p "$work/redis/opt/redis/lib"
cp "$(command -v redis-server)" "$work/redis/opt/redis/"
ldd "$(command -v redis-server)" | awk '/=> \// {print $3}' | grep -vE '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' \
  | xargs -r cp -L -t "$work/redis/opt/redis/lib/"
printf 'FROM %s\nCOPY opt/ /opt/\nENV LD_LIBRARY_PATH=/opt/redis/lib\nENTRYPOINT ["/opt/redis/redis-server"]\n' "$tag" > "$work/redis/Containerfile"
timeout 300 podman build --pull=never --quiet -t "$name-redis" "$work/redis" >/dev/null || fail "building the check's Redis image"
containers+=("$name-redis")
podman run -d --name "$name-redis" --network "$net" --network-alias "$K8S_REDIS_HOST" "${run_flags[@]}" "$name-redis" \
  --port "$K8S_REDIS_PORT" --save '' --appendonly no --protected-mode no >/dev/null || fail "starting Redis"

# 5. Two replicas, run as deployment.yaml runs them.
chmod 0644 "$work/runtime-config.toml"
for r in a b; do
  containers+=("$name-$r")
  t0=$SECONDS
  podman run -d --name "$name-$r" --network "$net" -p "127.0.0.1::$K8S_PORT" "${run_flags[@]}" \
    --read-only --tmpfs /tmp --tmpfs /var/lib/spindle:rw,U \
    --cap-drop ALL --security-opt no-new-privileges \
    -v "$work/runtime-config.toml:$K8S_RC_PATH:ro" -e "RUNTIME_CONFIG_FILE=$K8S_RC_PATH" \
    "$tag" >/dev/null || fail "starting replica $r"
  port=$(podman port "$name-$r" "$K8S_PORT/tcp" | head -n1 | sed 's/.*://')
  url[$r]="http://127.0.0.1:$port"
done
for r in a b; do
  u=${url[$r]}
  for _ in $(seq 1 240); do
    curl -fsS -m 2 -o /dev/null "$u$K8S_HEALTH" 2>/dev/null && break
    [ "$(podman inspect -f '{{.State.Running}}' "$name-$r")" = true ] || { podman logs "$name-$r" >&2; fail "replica $r exited during startup"; }
    sleep 0.5
  done
  curl -fsS -m 2 -o /dev/null "$u$K8S_HEALTH" || { podman logs "$name-$r" >&2; fail "replica $r: $K8S_HEALTH did not answer within 120 s"; }
  step "replica $r healthy at $u ($((SECONDS - t0))s after its start)"
done

# 6. The example answers; components came precompiled; the user is not root.
expect() { # replica path expected-substring [curl args]
  local r=$1 path=$2 want=$3; shift 3
  local u=${url[$r]}
  local got; got=$(curl -sS -m 10 "$@" "$u$path" 2>&1) || fail "replica $r: $path: $got"
  case "$got" in *"$want"*) echo "    $r $path -> $(echo "$got" | head -n1)" ;; *) fail "replica $r: $path answered '$got', expected '$want'" ;; esac
}
for r in a b; do
  expect "$r" /hello/container "Hello from JavaScript!"
  expect "$r" /wagi/container "Hello from C, container!"
  ! podman logs "$name-$r" 2>&1 | grep -q 'compiling' || { podman logs "$name-$r" 2>&1 | grep compiling >&2; fail "replica $r compiled components at startup: the image's precompiled cache was not used"; }
  [ "$(podman exec "$name-$r" /usr/bin/id -u 2>/dev/null || podman inspect -f '{{.Config.User}}' "$name-$r")" != 0 ] || fail "replica $r runs as root"
done

# 7. Shared key-value state on Redis.
expect a /visits "visits: 1" -X POST
expect a /visits "visits: 2" -X POST
expect b /visits "visits: 2"
expect b /visits "visits: 3" -X POST
expect a /visits "visits: 3"

# 8. SIGTERM drains: a request in flight on b (answers after 3 s) completes while b stops; b exits 0 within the
#    grace period. Then a stops (nothing in flight).
curl -sS -m 20 -o "$work/inflight" -w '%{http_code}' -X POST "${url[b]}/visits?delay=3000" >"$work/inflight.code" 2>"$work/inflight.err" &
inflight=$!
sleep 1
t0=$(date +%s.%N)
timeout $((K8S_GRACE + 30)) podman stop -t "$K8S_GRACE" "$name-b" >/dev/null || fail "podman stop b"
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
wait "$inflight" || true
code=$(podman inspect -f '{{.State.ExitCode}}' "$name-b")
[ "$(cat "$work/inflight.code")" = 200 ] || fail "the request in flight at SIGTERM got '$(cat "$work/inflight.code")' $(cat "$work/inflight.err")"
grep -q "visits: 4" "$work/inflight" || fail "the request in flight answered '$(cat "$work/inflight")'"
[ "$code" = 0 ] || { podman logs "$name-b" | tail -n 20 >&2; fail "replica b exited $code after SIGTERM"; }
awk -v t="$took" -v g="$K8S_GRACE" 'BEGIN {exit !(t < g)}' || fail "replica b took ${took}s to stop (grace $K8S_GRACE s)"
step "replica b stopped on SIGTERM in ${took}s, exit 0, the request in flight answered 200 '$(cat "$work/inflight")'"
t0=$(date +%s.%N)
timeout $((K8S_GRACE + 30)) podman stop -t "$K8S_GRACE" "$name-a" >/dev/null || fail "podman stop a"
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
code=$(podman inspect -f '{{.State.ExitCode}}' "$name-a")
[ "$code" = 0 ] || fail "replica a exited $code after SIGTERM"
step "replica a stopped on SIGTERM in ${took}s, exit 0"
echo "check-container: OK (${SECONDS}s)"
