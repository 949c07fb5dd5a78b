#!/usr/bin/env bash
# Prints Spindle's throughput figures next to a raw Kestrel baseline measured in the same run (wrk on loopback).
# Not a test: figures depend on the machine; compare them only within one run.
#   bash bench/run.sh [seconds per target, default 10]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
secs=${1:-10}
command -v wrk >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || { echo "install wrk: apt-get install wrk" >&2; exit 1; }
bash scripts/build-fixtures.sh >/dev/null
dotnet build -c Release -v q -nologo src/Spindle.Cli >/dev/null
dotnet build -c Release -v q -nologo bench/RawKestrel >/dev/null
spindle="dotnet $root/src/Spindle.Cli/bin/Release/net10.0/spindle.dll"
raw="dotnet $root/bench/RawKestrel/bin/Release/net10.0/RawKestrel.dll"
fx="$root/artifacts/fixtures"
port=3900

pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

start() { # command... ; waits until the port answers
  port=$((port + 1))
  "$@" >/tmp/spindle-bench-server.log 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0; sleep 0.1; done
  echo "server did not start: $*" >&2; cat /tmp/spindle-bench-server.log >&2; exit 1
}
stop() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; pid=""; }
peak() { grep VmHWM "/proc/$pid/status" | awk '{printf "%.0f MB", $2/1024}'; }
threads() { grep Threads "/proc/$pid/status" | awk '{print $2}'; }

measure() { # name connections path
  local name=$1 conns=$2 out
  wrk -t2 -c"$conns" -d3s "http://127.0.0.1:$port/" >/dev/null 2>&1 || true   # warm-up (JIT, caches)
  out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/")
  local rps p50 p99 mbs
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  mbs=$(awk '/Transfer\/sec/ {print $2}' <<<"$out")
  printf '%-28s %12s req/s   p50 %8s   p99 %8s   %10s/s   peak RSS %s\n' "$name" "$rps" "$p50" "$p99" "$mbs" "$(peak)"
  echo "$rps" > "/tmp/spindle-bench-$name.rps"
}

echo "Spindle benchmark, $(nproc) cores, ${secs}s per target, $(date -u +%F)"
start $raw --urls "http://127.0.0.1:$port"; measure raw-kestrel 64; stop
start $spindle serve "$fx/wat/http-hello.wasm" --listen "127.0.0.1:$port" --quiet; measure wat-hello 64; stop
start $spindle serve "$fx/js/hello.wasm" --listen "127.0.0.1:$port" --quiet; measure js-hello 64; stop
start $spindle serve "$fx/js/big.wasm" --listen "127.0.0.1:$port" --quiet; measure js-1mib 16; stop
start $spindle serve "$fx/js/sleep.wasm" --listen "127.0.0.1:$port" --quiet
  measure js-sleep-1000-conns 1000; echo "  threads in the server after 1000 concurrent sleeping guests: $(threads)"; stop
if [ -f "$fx/wagi/hello.wasm" ]; then
  cat > /tmp/spindle-bench-wagi.toml <<TOML
spin_manifest_version = 2
[application]
name = "bench"
[[trigger.http]]
route = "/..."
component = "hello"
executor = { type = "wagi" }
[component.hello]
source = "$fx/wagi/hello.wasm"
TOML
  start $spindle up -f /tmp/spindle-bench-wagi.toml --listen "127.0.0.1:$port" --quiet; measure wagi-hello 64; stop
fi
base=$(cat /tmp/spindle-bench-raw-kestrel.rps)
for n in wat-hello js-hello wagi-hello; do
  [ -f "/tmp/spindle-bench-$n.rps" ] && awk -v a="$(cat /tmp/spindle-bench-$n.rps)" -v b="$base" -v n="$n" 'BEGIN {printf "%-12s %5.1f%% of raw Kestrel\n", n, 100*a/b}'
done
rm -f /tmp/spindle-bench-*.rps
