#!/usr/bin/env bash
# Server CPU per request, the figure that compares two builds on a noisy machine better than req/s:
#   bash bench/cpu.sh [PATH...]            (default: /hello /kv)
# starts `spindle up` on the key-value benchmark component (tests/fixtures/wat/kv-bench.wat, the `default` store in
# a fresh state directory) and, per PATH, runs wrk at 64 connections for 3 s to warm up and 6 s measured, then prints
# req/s, the server's CPU time per request (user + system, from /proc/<pid>/stat) and its context switches per
# request (voluntary and involuntary, summed over its threads).
#   SPINDLE_DLL=<spindle.dll>    the build to measure (default: this checkout's Release build, built first)
#   SPINDLE_BENCH_PORT=<port>    where it listens (default 7390)
# Compare builds by running them in turn, several times: figures are only comparable within one sitting.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || { echo "install wrk: apt-get install wrk" >&2; exit 1; }
dll=${SPINDLE_DLL:-}
if [ -z "$dll" ]; then
  dll=src/Spindle.Cli/bin/Release/net10.0/spindle.dll
  dotnet build -c Release -v q -nologo src/Spindle.Cli >/dev/null
fi
wasm=$PWD/artifacts/fixtures/wat/kv-bench.wasm
[ -f "$wasm" ] || bash scripts/build-fixtures.sh >/dev/null
port=${SPINDLE_BENCH_PORT:-7390}
paths=("$@"); [ ${#paths[@]} -gt 0 ] || paths=(/hello /kv)

dir=$(mktemp -d)
cat > "$dir/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "cpu"
[[trigger.http]]
route = "/..."
component = "kv"
[component.kv]
source = "$wasm"
key_value_stores = ["default"]
TOML
dotnet "$dll" up -f "$dir/spin.toml" --listen "127.0.0.1:$port" --state-dir "$dir/state" --quiet >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$port/hello" && break; sleep 0.1; done

cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; } # clock ticks (1/100 s)
switches() { cat /proc/$pid/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches/ {s += $2} END {print s + 0}'; }
for p in "${paths[@]}"; do
  wrk -t2 -c64 -d3s "http://127.0.0.1:$port$p" >/dev/null 2>&1
  c0=$(cpu); s0=$(switches)
  out=$(wrk -t2 -c64 -d6s "http://127.0.0.1:$port$p")
  c1=$(cpu); s1=$(switches)
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  echo "$p: $rps req/s, $(( (c1 - c0) * 10000 / n )) us CPU/request, $(( (s1 - s0) * 100 / n ))/100 context switches/request"
done
