#!/usr/bin/env bash
# Prints Spindle's throughput figures next to a raw Kestrel baseline measured in the same run (wrk on loopback).
# Not a test: figures depend on the machine; compare them only within one run.
#   bash bench/run.sh [seconds per target, default 10] [target...]
# SPINDLE_BENCH_ROUNDS=n (default 1) repeats the whole list n times, interleaving the targets, and summarises each
# target by its median req/s: the machine is shared and noisy, and ratios from one short sample swing by ±20%.
# Targets: raw-kestrel wat-hello js-hello wat-1mib js-1mib js-sleep-1000 wagi-hello (default: all, about 3 minutes).
# SPINDLE_BENCH_ENV="NAME=value ..." is put in the environment of every Spindle server (engine tuning knobs).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
secs=${1:-10}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(raw-kestrel wat-hello js-hello wat-1mib js-1mib js-sleep-1000 wagi-hello)
command -v wrk >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || { echo "install wrk: apt-get install wrk" >&2; exit 1; }
fx="$root/artifacts/fixtures"
[ -f "$fx/js/sleep.wasm" ] && [ -f "$fx/wat/http-big.wasm" ] || bash scripts/build-fixtures.sh >/dev/null
mkdir -p "$root/artifacts/bench"
wagi="$root/artifacts/bench/wagi-hello.wasm"
[ "$wagi" -nt bench/wagi/hello.c ] || clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -fuse-ld=/usr/bin/wasm-ld-14 -o "$wagi" bench/wagi/hello.c
[ -n "${SPINDLE_BENCH_NO_BUILD:-}" ] || dotnet build -c Release -v q -nologo src/Spindle.Cli >/dev/null
[ -n "${SPINDLE_BENCH_NO_BUILD:-}" ] || dotnet build -c Release -v q -nologo bench/RawKestrel >/dev/null
spindle=(dotnet "$root/src/Spindle.Cli/bin/Release/net10.0/spindle.dll")
raw=(dotnet "$root/bench/RawKestrel/bin/Release/net10.0/RawKestrel.dll")
port=${SPINDLE_BENCH_PORT:-3900}
log=/tmp/spindle-bench-server.log
results=$(mktemp -d)

pid=""
sampler=""
cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$results"
}
trap cleanup EXIT

start() { # command... ; waits until the port answers
  port=$((port + 1))
  env ${SPINDLE_BENCH_ENV:-} "$@" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0; sleep 0.1; done
  echo "server did not start: $*" >&2; cat "$log" >&2; exit 1
}
stop() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; pid=""; }

# Samples the server's thread count while wrk runs (the figure that matters is the peak under load).
sample_threads() {
  local max=0 n
  while kill -0 "$pid" 2>/dev/null; do
    n=$(awk '/^Threads/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "${n:-0}" -gt "$max" ] && { max=$n; echo "$max" > "$results/threads"; }
    sleep 0.2
  done
}

measure() { # name connections
  local name=$1 conns=$2 out
  # Warm-up: tiered JIT needs a few seconds of load on 2 busy cores before the code is final (measured: a 3 s
  # warm-up left 12% of the samples in the JIT and halved WAT hello's throughput).
  wrk -t2 -c"$conns" -d"${SPINDLE_BENCH_WARMUP:-5}s" "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
  echo 0 > "$results/threads"
  sample_threads & sampler=$!
  out=$(wrk -t2 -c"$conns" -d"${secs}s" --timeout 10s --latency "http://127.0.0.1:$port/")
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true; sampler=""
  local rps p50 p99 mbs errs non2xx rss
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  mbs=$(awk '/Transfer\/sec/ {print $2}' <<<"$out")
  errs=$(awk '/Socket errors/ {sub(/.*Socket errors: /, ""); print}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  rss=$(awk '/VmHWM/ {printf "%.0f MB", $2/1024}' "/proc/$pid/status")
  printf '%-16s %10s req/s  p50 %8s  p99 %8s  %10s/s  peak RSS %7s  peak threads %4s%s%s\n' \
    "$name" "$rps" "$p50" "$p99" "$mbs" "$rss" "$(cat "$results/threads")" \
    "${non2xx:+  non-2xx $non2xx}" "${errs:+  socket errors: $errs}"
  echo "$rps" >> "$results/$name.rps"
}

cat > "$results/wagi.toml" <<TOML
spin_manifest_version = 2
[application]
name = "bench"
[[trigger.http]]
route = "/..."
component = "hello"
executor = { type = "wagi" }
[component.hello]
source = "$wagi"
TOML

echo "Spindle benchmark, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), ${secs}s per target, $(date -u '+%F %H:%M') UTC${SPINDLE_BENCH_ENV:+, env: $SPINDLE_BENCH_ENV}"
rounds=${SPINDLE_BENCH_ROUNDS:-1}
for round in $(seq 1 "$rounds"); do
[ "$rounds" -gt 1 ] && echo "# round $round of $rounds"
for t in "${targets[@]}"; do
  case $t in
    raw-kestrel)   start "${raw[@]}" --urls "http://127.0.0.1:$((port + 1))"; measure "$t" 64 ;;
    wat-hello)     start "${spindle[@]}" serve "$fx/wat/http-hello.wasm" --listen "127.0.0.1:$((port + 1))"; measure "$t" 64 ;;
    js-hello)      start "${spindle[@]}" serve "$fx/js/hello.wasm" --listen "127.0.0.1:$((port + 1))"; measure "$t" 64 ;;
    wat-1mib)      start "${spindle[@]}" serve "$fx/wat/http-big.wasm" --listen "127.0.0.1:$((port + 1))"; measure "$t" 16 ;;
    js-1mib)       start "${spindle[@]}" serve "$fx/js/big.wasm" --listen "127.0.0.1:$((port + 1))"; measure "$t" 16 ;;
    js-sleep-1000) start "${spindle[@]}" serve "$fx/js/sleep.wasm" --listen "127.0.0.1:$((port + 1))"; measure "$t" 1000 ;;
    wagi-hello)    start "${spindle[@]}" up -f "$results/wagi.toml" --listen "127.0.0.1:$((port + 1))" --quiet; measure "$t" 64 ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
  stop
done
done
median() { sort -g "$1" | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
if [ "$rounds" -gt 1 ]; then
  echo "# median of $rounds rounds"
  for t in "${targets[@]}"; do
    [ -f "$results/$t.rps" ] && printf '%-16s %10.2f req/s  (rounds: %s)\n' "$t" "$(median "$results/$t.rps")" "$(tr '\n' ' ' < "$results/$t.rps")"
  done
fi
# Each round's ratio compares two servers measured a minute apart; the summary is the median of those ratios.
if [ -f "$results/raw-kestrel.rps" ]; then
  for n in wat-hello js-hello wagi-hello; do
    [ -f "$results/$n.rps" ] || continue
    paste "$results/raw-kestrel.rps" "$results/$n.rps" | awk '{printf "%.1f\n", 100*$2/$1}' > "$results/$n.ratio"
    printf '%-12s %5.1f%% of raw Kestrel%s\n' "$n" "$(median "$results/$n.ratio")" \
      "$([ "$rounds" -gt 1 ] && echo " (median of rounds: $(tr '\n' ' ' < "$results/$n.ratio"))")"
  done
fi
