#!/usr/bin/env bash
# Prints Spindle's throughput figures next to a raw Kestrel baseline measured in the same run (wrk on loopback).
# Not a test: figures depend on the machine; compare them only within one run.
#   bash bench/run.sh [seconds per target, default 10] [target...]
# SPINDLE_BENCH_ROUNDS=n (default 1) repeats the whole list n times, interleaving the targets, and summarises each
# target by its median req/s: the machine is shared and noisy, and ratios from one short sample swing by ±20%.
# Targets: raw-kestrel wat-hello js-hello wat-1mib js-1mib js-sleep-1000 wagi-hello hello-while-busy, outbound HTTP: aspnet-forwarder
# js-fetch wat-fetch js-fetch-wait-1000 chain self, key-value: kv-hello kv-sqlite kv-redis (default: all these, about
# 7 minutes), and chain-js self-js, kv-js-hello kv-js-sqlite kv-js-redis.
# SPINDLE_BENCH_ENV="NAME=value ..." is put in the environment of every Spindle server (engine tuning knobs).
# SPINDLE_BENCH_BASELINE=<git revision> also runs each Spindle target on that build, right before this one.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
secs=${1:-10}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(raw-kestrel wat-hello js-hello wat-1mib js-1mib js-sleep-1000 wagi-hello hello-while-busy
  aspnet-forwarder js-fetch wat-fetch js-fetch-wait-1000 chain self kv-hello kv-sqlite kv-redis)
command -v wrk >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || { echo "install wrk: apt-get install wrk" >&2; exit 1; }
fx="$root/artifacts/fixtures"
[ -f "$fx/js/sleep.wasm" ] && [ -f "$fx/wat/http-big.wasm" ] && [ -f "$fx/js/fetch-hello.wasm" ] && [ -f "$fx/wat/http-outbound.wasm" ] &&
  [ -f "$fx/js-spin/kv-bench.wasm" ] && [ -f "$fx/wat/kv-bench.wasm" ] || bash scripts/build-fixtures.sh >/dev/null
mkdir -p "$root/artifacts/bench"
wagi="$root/artifacts/bench/wagi-hello.wasm"
[ "$wagi" -nt bench/wagi/hello.c ] || clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -fuse-ld=/usr/bin/wasm-ld-14 -o "$wagi" bench/wagi/hello.c
[ -n "${SPINDLE_BENCH_NO_BUILD:-}" ] || dotnet build -c Release -v q -nologo src/Spindle.Cli >/dev/null
[ -n "${SPINDLE_BENCH_NO_BUILD:-}" ] || dotnet build -c Release -v q -nologo bench/RawKestrel >/dev/null
[ -n "${SPINDLE_BENCH_NO_BUILD:-}" ] || dotnet build -c Release -v q -nologo bench/Forwarder >/dev/null
spindle=(dotnet "$root/src/Spindle.Cli/bin/Release/net10.0/spindle.dll")
spindle_head=("${spindle[@]}")
# SPINDLE_BENCH_BASELINE=<git revision>: the same Spindle targets also run on that build (a worktree under
# artifacts/bench/baseline, built here), each right before this build's, and the summary gives this build's req/s
# as a share of the baseline's: the "against the previous build, in the same run" figure.
variants=(head)
if [ -n "${SPINDLE_BENCH_BASELINE:-}" ]; then
  baseline="$root/artifacts/bench/baseline"
  rm -rf "$baseline"; git -C "$root" worktree prune
  git -C "$root" worktree add -q --detach "$baseline" "$SPINDLE_BENCH_BASELINE"
  mkdir -p "$baseline/artifacts"; ln -s "$root/artifacts/fixtures" "$baseline/artifacts/fixtures"
  dotnet build -c Release -v q -nologo "$baseline/src/Spindle.Cli" >/dev/null
  spindle_base=(dotnet "$baseline/src/Spindle.Cli/bin/Release/net10.0/spindle.dll")
  variants=(base head)
fi
raw=(dotnet "$root/bench/RawKestrel/bin/Release/net10.0/RawKestrel.dll")
forwarder=(dotnet "$root/bench/Forwarder/bin/Release/net10.0/Forwarder.dll")
port=${SPINDLE_BENCH_PORT:-3900}
# The fetch targets' upstream: raw Kestrel's hello, plus GET /slow answering after 100 ms (js-fetch-wait-1000).
uport=${SPINDLE_BENCH_UPSTREAM_PORT:-$((port + 500))}
upstream_url="http://127.0.0.1:$uport"
log=/tmp/spindle-bench-server.log
ulog=/tmp/spindle-bench-upstream.log
results=$(mktemp -d)

pid=""
upid=""
rpid=""
sampler=""
no_warmup=""
cleanup() {
  set +e # a server that died must not stop the cleanup (kill would fail and, under set -e, end it here)
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  [ -n "$upid" ] && kill "$upid" 2>/dev/null
  [ -n "$rpid" ] && kill "$rpid" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$results"
  [ -n "${baseline:-}" ] && git -C "$root" worktree remove --force "$baseline" 2>/dev/null
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
# The upstream runs beside the server under test (its own port and log) for one target.
start_upstream() {
  "${raw[@]}" --urls "$upstream_url" --slow-ms 100 >"$ulog" 2>&1 &
  upid=$!
  for _ in $(seq 1 600); do curl -s -o /dev/null "$upstream_url/" && return 0; sleep 0.1; done
  echo "upstream did not start" >&2; cat "$ulog" >&2; exit 1
}
stop_upstream() { [ -n "$upid" ] || return 0; kill "$upid" 2>/dev/null; wait "$upid" 2>/dev/null || true; upid=""; }
# The key-value targets' Redis: a fresh in-memory redis-server for one target.
rport=$((port + 600))
start_redis() {
  command -v redis-server >/dev/null || { echo "install redis-server (scripts/build-fixtures.sh does)" >&2; exit 1; }
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no >/dev/null 2>&1 &
  rpid=$!
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null && return 0; sleep 0.1; done
  echo "redis-server did not start" >&2; exit 1
}
stop_redis() { [ -n "$rpid" ] || return 0; kill "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null || true; rpid=""; }

# Samples the server's thread count while wrk runs (the figure that matters is the peak under load).
sample_threads() {
  local max=0 n
  while kill -0 "$pid" 2>/dev/null; do
    n=$(awk '/^Threads/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "${n:-0}" -gt "$max" ] && { max=$n; echo "$max" > "$results/threads.new"; mv "$results/threads.new" "$results/threads"; }
    sleep 0.2
  done
}

measure() { # name connections [path [header...]]; no_warmup=1 skips the warm-up (the server is already warm)
  local name=$1 conns=$2 url="http://127.0.0.1:$port${3:-/}" out t=2 h hdrs=()
  shift 2; [ $# -gt 0 ] && shift
  for h in "$@"; do hdrs+=(-H "$h"); done
  [ "$conns" -lt 2 ] && t=1 # wrk wants at least one connection per thread
  # Warm-up: tiered JIT needs a few seconds of load on 2 busy cores before the code is final (measured: a 3 s
  # warm-up left 12% of the samples in the JIT and halved WAT hello's throughput).
  # A 1,000-connection JavaScript target first creates a thousand instances (about 10 s of both cores, once):
  # its warm-up is 15 s, so the figure is the server's steady state; the cold start is in bench/README.md.
  local warmup=${SPINDLE_BENCH_WARMUP:-5}
  [ "$conns" -ge 1000 ] && [ -z "${SPINDLE_BENCH_WARMUP:-}" ] && warmup=15
  [ -n "$no_warmup" ] || wrk -t$t -c"$conns" -d"${warmup}s" --timeout 10s "${hdrs[@]}" "$url" >/dev/null 2>&1 || true
  echo 0 > "$results/threads"
  sample_threads & sampler=$!
  out=$(wrk -t$t -c"$conns" -d"${secs}s" --timeout 10s --latency "${hdrs[@]}" "$url")
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
  us "$p50" >> "$results/$name.p50us"
  grep -qxF "$name" "$results/order" 2>/dev/null || echo "$name" >> "$results/order"
}
median() { sort -g "$1" | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
hop_wrk() { # seconds path [header...]: one wrk run at 1 connection; prints "req/s p50-in-us"
  local d=$1 url="http://127.0.0.1:$port$2" h hdrs=() out; shift 2
  for h in "$@"; do hdrs+=(-H "$h"); done
  out=$(wrk -t1 -c1 -d"${d}s" --timeout 10s --latency "${hdrs[@]}" "$url" || true)
  local rps p50
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  echo "${rps:-nan} $(us "${p50:-?}")" # a failed run still fills its two columns
}
hop_report() { # name column: the median req/s and p50 of one path's slices (columns column and column+1)
  local rps p50
  awk -v c="$2" '{ print $c }' "$results/slices" > "$results/column"; rps=$(median "$results/column")
  awk -v c="$(($2 + 1))" '{ print $c }' "$results/slices" > "$results/column"; p50=$(median "$results/column")
  printf '%-16s %10.2f req/s  p50 %6.0fus  (medians of %s 1 s slices, in turn with the other 1-connection paths)\n' "$1" "$rps" "$p50" "$secs"
  echo "$rps" >> "$results/$1.rps"
  echo "$p50" >> "$results/$1.p50us"
  grep -qxF "$1" "$results/order" 2>/dev/null || echo "$1" >> "$results/order"
}
us() { awk '{v=$1; if (sub(/us$/, "", v)) print v; else if (sub(/ms$/, "", v)) print v*1000; else if (sub(/s$/, "", v)) print v*1e6; else if (sub(/m$/, "", v)) print v*6e7; else print "nan"}' <<<"$1"; }

# Service chaining against self-requests (from a WAT guest, tests/fixtures/wat/http-outbound.wat, or JS fetch), and
# the backend (WAT hello at /backend) called directly, in one server: the per-request latency at 1 connection
# first (direct, then through the hop), then the throughput at 64 connections. Latency goes first because the end
# of a 64-connection run cancels up to 64 guests in flight, and on 2026-12-05 that left JavaScript warm instances
# twice as slow for good (bench/README.md, "Outbound HTTP"). name = chain | self | chain-js | self-js.
# Two more 1-connection figures isolate the hop from the front's own work: the front asked to call a host its
# allow-list denies (hop_denied: headers; it answers at once, having parsed its request and built the outgoing one,
# without any hop) and a static_response route (/static: no guest, the server's floor). The hop's own latency is
#   (via the hop - backend direct) - (front denied - static floor)
# The four are measured in 1 s slices taken in turn ($secs of each, after a warm-up of each), and the round's figure
# is the median over the slices of that difference: on a shared machine the load moves within seconds, and four
# separate runs of several seconds each made the difference swing by more than the hop itself.
measure_hop() {
  local name=$1 direct=$1-direct i; shift
  local warmup=${SPINDLE_BENCH_WARMUP:-5}
  hop_wrk "$warmup" /backend >/dev/null; hop_wrk "$warmup" "$@" >/dev/null
  hop_wrk "$warmup" /front "${hop_denied[@]}" >/dev/null; hop_wrk "$warmup" /static >/dev/null
  : > "$results/slices"
  for i in $(seq 1 "$secs"); do
    echo "$(hop_wrk 1 /backend) $(hop_wrk 1 "$@") $(hop_wrk 1 /front "${hop_denied[@]}") $(hop_wrk 1 /static)" >> "$results/slices"
  done
  hop_report "$direct-c1" 1; hop_report "$name-c1" 3; hop_report "$name-denied-c1" 5; hop_report "$name-static-c1" 7
  awk '{ printf "%.0f\n", ($4 - $2) - ($6 - $8) }' "$results/slices" > "$results/slice-hops"
  median "$results/slice-hops" >> "$results/$name.nethop"
  no_warmup=1
  measure "$direct" 64 /backend
  no_warmup=""
  measure "$name" 64 "$@"
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

cat > "$results/js-fetch.toml" <<TOML
spin_manifest_version = 2
[application]
name = "bench"
[[trigger.http]]
route = "/..."
component = "fetch"
[component.fetch]
source = "$fx/js/fetch-hello.wasm"
allowed_outbound_hosts = ["$upstream_url"]
TOML
sed "s|js/fetch-hello.wasm|wat/http-outbound.wasm|" "$results/js-fetch.toml" > "$results/wat-fetch.toml"

# The callers sit on /front (nothing answers /, the start probe: a WAT caller without headers makes a self-request
# to / and would call itself forever).
for caller in wat/http-outbound js/fetch-hello; do
  cat > "$results/hop-${caller%%/*}.toml" <<TOML
spin_manifest_version = 2
[application]
name = "bench"
[[trigger.http]]
route = "/front"
component = "front"
[[trigger.http]]
route = "/backend"
component = "backend"
[[trigger.http]]
route = "/static"
static_response = { body = "hello" }
[component.front]
source = "$fx/$caller.wasm"
allowed_outbound_hosts = ["http://backend.spin.internal", "http://self"]
[component.backend]
source = "$fx/wat/http-hello.wasm"
TOML
done

# Key-value: one component answering hello without a store (kv-hello, the baseline), or doing one get and one set
# per request on the SQLite default store (kv-sqlite, in a fresh state directory) or on Redis (kv-redis). The kv-*
# targets use the WAT component (tests/fixtures/wat/kv-bench.wat: Spindle's own cost), the kv-js-* targets the
# JavaScript one (tests/fixtures/js-spin/kv-bench.js, where the guest's own work dominates).
for kv in wat js-spin; do
cat > "$results/kv-$kv.toml" <<TOML
spin_manifest_version = 2
[application]
name = "bench"
[[trigger.http]]
route = "/..."
component = "kv"
[component.kv]
source = "$fx/$kv/kv-bench.wasm"
key_value_stores = ["default", "shared"]
TOML
done
cat > "$results/kv-runtime.toml" <<TOML
[key_value_store.shared]
type = "redis"
url = "redis://127.0.0.1:$rport"
TOML

# hello-while-busy: WAT hello's latency at 8 connections while 8 CPU-bound guests (a WAT loop that never yields on
# its own, stopped by a 2 s request timeout) keep both cores busy on another component of the same server.
cat > "$results/busy.toml" <<TOML
spin_manifest_version = 2
[application]
name = "bench"
[[trigger.http]]
route = "/"
component = "hello"
[[trigger.http]]
route = "/busy"
component = "busy"
[component.hello]
source = "$fx/wat/http-hello.wasm"
[component.busy]
source = "$fx/wat/http-loop.wasm"
TOML
busy_guests() { # keeps 8 busy requests in flight until the server stops
  local i
  for i in 1 2 3 4 5 6 7 8; do
    (while kill -0 "$pid" 2>/dev/null; do curl -s -o /dev/null -m 5 "http://127.0.0.1:$port/busy" || sleep 0.1; done) &
  done
}

quiet_denials=Logging__LogLevel__Spindle.Outbound=Error
hop_denied=()
# A hop's own latency in round $2 (see measure_hop; nothing when the hop was not measured in it).
net_hop() { # name round
  [ -f "$results/$1.nethop" ] && sed -n "${2}p" "$results/$1.nethop"
  return 0
}
hop_pairs=("" -base -js -js-base) # chain$tag against self$tag
round_hops() { # round: the chain and self hops measured in it, and their ratio
  local r=$1 tag c s
  for tag in "${hop_pairs[@]}"; do
    c=$(net_hop "chain$tag" "$r"); s=$(net_hop "self$tag" "$r")
    [ -n "$c" ] && [ -n "$s" ] || continue
    printf '# round %s: hop chain%s %s us, self%s %s us (net of the front'"'"'s own work); chain/self %s (target < 0.1)\n' \
      "$r" "$tag" "$c" "$tag" "$s" "$(awk -v c="$c" -v s="$s" 'BEGIN { if (s > 0) printf "%.2f", c / s; else print "n/a" }')"
  done
}
echo "Spindle benchmark, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), ${secs}s per target, $(date -u '+%F %H:%M') UTC${SPINDLE_BENCH_ENV:+, env: $SPINDLE_BENCH_ENV}"
rounds=${SPINDLE_BENCH_ROUNDS:-1}
for round in $(seq 1 "$rounds"); do
[ "$rounds" -gt 1 ] && echo "# round $round of $rounds"
for t in "${targets[@]}"; do
for variant in "${variants[@]}"; do
  if [ "$variant" = base ]; then
    case $t in raw-kestrel|aspnet-forwarder) continue ;; esac # baselines of their own
    spindle=("${spindle_base[@]}"); tag=-base
  else
    spindle=("${spindle_head[@]}"); tag=""
  fi
  case $t in
    raw-kestrel)   start "${raw[@]}" --urls "http://127.0.0.1:$((port + 1))"; measure "$t$tag" 64 ;;
    wat-hello)     start "${spindle[@]}" serve "$fx/wat/http-hello.wasm" --listen "127.0.0.1:$((port + 1))"; measure "$t$tag" 64 ;;
    js-hello)      start "${spindle[@]}" serve "$fx/js/hello.wasm" --listen "127.0.0.1:$((port + 1))"; measure "$t$tag" 64 ;;
    wat-1mib)      start "${spindle[@]}" serve "$fx/wat/http-big.wasm" --listen "127.0.0.1:$((port + 1))"; measure "$t$tag" 16 ;;
    js-1mib)       start "${spindle[@]}" serve "$fx/js/big.wasm" --listen "127.0.0.1:$((port + 1))"; measure "$t$tag" 16 ;;
    js-sleep-1000) start "${spindle[@]}" serve "$fx/js/sleep.wasm" --listen "127.0.0.1:$((port + 1))"; measure "$t$tag" 1000 ;;
    wagi-hello)    start "${spindle[@]}" up -f "$results/wagi.toml" --listen "127.0.0.1:$((port + 1))" --quiet; measure "$t$tag" 64 ;;
    # Outbound HTTP: each guest (and the plain ASP.NET Core forwarder) fetches the loopback raw Kestrel upstream.
    aspnet-forwarder)   start_upstream; start "${forwarder[@]}" --urls "http://127.0.0.1:$((port + 1))"
                        measure "$t$tag" 64 / "x-target: $upstream_url/" ;;
    js-fetch)           start_upstream; start "${spindle[@]}" up -f "$results/js-fetch.toml" --listen "127.0.0.1:$((port + 1))" --quiet
                        measure "$t$tag" 64 / "x-target: $upstream_url/" ;;
    wat-fetch)          start_upstream; start "${spindle[@]}" up -f "$results/wat-fetch.toml" --listen "127.0.0.1:$((port + 1))" --quiet
                        measure "$t$tag" 64 / "x-scheme: http" "x-authority: 127.0.0.1:$uport" "x-path: /" ;;
    js-fetch-wait-1000) start_upstream; start "${spindle[@]}" up -f "$results/js-fetch.toml" --listen "127.0.0.1:$((port + 1))" --quiet
                        measure "$t$tag" 1000 / "x-target: $upstream_url/slow" ;;
    # Each denied request would log a warning (its cost is not the front's): the hop servers log Spindle.Outbound
    # errors only.
    chain|self)         hop_denied=("x-scheme: http" "x-authority: denied.invalid" "x-path: /backend")
                        start env "$quiet_denials" "${spindle[@]}" up -f "$results/hop-wat.toml" --listen "127.0.0.1:$((port + 1))" --quiet
                        if [ "$t" = chain ]; then measure_hop "$t$tag" /front "x-scheme: http" "x-authority: backend.spin.internal" "x-path: /backend"
                        else measure_hop "$t$tag" /front "x-path: /backend"; fi ;;
    # The same with JavaScript fetch as the caller (its relative URLs resolve against the incoming URL, so the
    # self-request names host self.alt).
    chain-js|self-js)   hop_denied=("x-target: http://denied.invalid/backend") # fetch fails: a 502 from the guest
                        start env "$quiet_denials" "${spindle[@]}" up -f "$results/hop-js.toml" --listen "127.0.0.1:$((port + 1))" --quiet
                        if [ "$t" = chain-js ]; then measure_hop "$t$tag" /front "x-target: http://backend.spin.internal/backend"
                        else measure_hop "$t$tag" /front "x-target: http://self.alt/backend"; fi ;;
    kv-hello|kv-sqlite|kv-redis|kv-js-hello|kv-js-sqlite|kv-js-redis)
                        start_redis; rm -rf "$results/state"
                        case $t in kv-js-*) app=kv-js-spin ;; *) app=kv-wat ;; esac
                        start "${spindle[@]}" up -f "$results/$app.toml" --runtime-config-file "$results/kv-runtime.toml" \
                          --state-dir "$results/state" --listen "127.0.0.1:$((port + 1))" --quiet
                        case $t in *-hello) path=/hello ;; *-sqlite) path=/kv ;; *) path="/kv?store=shared" ;; esac
                        measure "$t$tag" 64 "$path" ;;
    hello-while-busy)   start "${spindle[@]}" up -f "$results/busy.toml" --listen "127.0.0.1:$((port + 1))" --quiet --request-timeout 2s
                        busy_guests; measure "$t$tag" 8 / ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
  stop
  stop_upstream
  stop_redis
done
done
round_hops "$round"
done
if [ "$rounds" -gt 1 ]; then
  echo "# median of $rounds rounds"
  while read -r t; do # every measurement (chain and self take six each), in the order of the first round
    [ -f "$results/$t.rps" ] && printf '%-16s %10.2f req/s  (rounds: %s)\n' "$t" "$(median "$results/$t.rps")" "$(tr '\n' ' ' < "$results/$t.rps")"
  done < "$results/order"
fi
# Each round's ratio compares two servers measured a minute apart; the summary is the median of those ratios.
ratio() { # base name label [suffix]
  local base=$1 n=$2
  [ -f "$results/$base.rps" ] && [ -f "$results/$n.rps" ] || return 0
  paste "$results/$base.rps" "$results/$n.rps" | awk '{printf "%.1f\n", ($1 > 0 ? 100*$2/$1 : 0)}' > "$results/$n.ratio"
  printf '%-12s %5.1f%% of %s%s%s\n' "$n" "$(median "$results/$n.ratio")" "$3" "${4:-}" \
    "$([ "$rounds" -gt 1 ] && echo " (median of rounds: $(tr '\n' ' ' < "$results/$n.ratio"))")"
}
for n in wat-hello js-hello wagi-hello; do ratio raw-kestrel "$n" "raw Kestrel"; done
[ -f "$results/js-fetch.rps" ] && printf '%-12s %8.0f req/s (target >= 3,000)\n' js-fetch "$(median "$results/js-fetch.rps")"
ratio aspnet-forwarder js-fetch "aspnet-forwarder"
ratio aspnet-forwarder wat-fetch "aspnet-forwarder" " (target >= 50%)"
[ -f "$results/js-fetch-wait-1000.rps" ] &&
  printf '%-12s %8.0f req/s (target >= 3,000, p99 < 1 s: see its line)\n' js-fetch-wait-1000 "$(median "$results/js-fetch-wait-1000.rps")"
ratio kv-hello kv-sqlite "kv-hello (the same component without a store)" " (target >= 50%)"
ratio kv-hello kv-redis "kv-hello (the same component without a store)"
ratio kv-js-hello kv-js-sqlite "kv-js-hello (the same component without a store)"
ratio kv-js-hello kv-js-redis "kv-js-hello (the same component without a store)"
# A hop's cost: its p50 at 1 connection minus the backend's own (per round, then the median), and its throughput
# at 64 connections against the backend called directly.
for n in chain self chain-js self-js chain-base self-base chain-js-base self-js-base; do
  d=$n-direct
  [ -f "$results/$n-c1.p50us" ] && [ -f "$results/$d-c1.p50us" ] || continue
  paste "$results/$d-c1.p50us" "$results/$n-c1.p50us" | awk '{printf "%.0f\n", $2-$1}' > "$results/$n.hop"
  printf '%-12s +%.0f us per hop (p50 at 1 connection: direct %.0f us, via the hop %.0f us)\n' "$n" "$(median "$results/$n.hop")" \
    "$(median "$results/$d-c1.p50us")" "$(median "$results/$n-c1.p50us")"
  ratio "$d" "$n" "$d" " at 64 connections"
  [ -s "$results/$n.nethop" ] &&
    printf '%-12s +%.0f us per hop net of the front'"'"'s own work (front denied %.0f us, static floor %.0f us; rounds: %s)\n' "$n" \
      "$(median "$results/$n.nethop")" "$(median "$results/$n-denied-c1.p50us")" "$(median "$results/$n-static-c1.p50us")" \
      "$(tr '\n' ' ' < "$results/$n.nethop")"
done
# Issue #14's point: the in-memory hop costs less than a tenth of the loopback one (median of the per-round ratios).
for tag in "${hop_pairs[@]}"; do
  c=$results/chain$tag.nethop s=$results/self$tag.nethop
  [ -s "$c" ] && [ -s "$s" ] || continue
  paste "$c" "$s" | awk '$2 > 0 { printf "%.3f\n", $1 / $2 }' > "$results/chain$tag.hopratio"
  [ -s "$results/chain$tag.hopratio" ] &&
    printf 'chain%s/self%s  %.2f: the chained hop against the self-request hop, both net (target < 0.1; rounds: %s)\n' "$tag" "$tag" \
      "$(median "$results/chain$tag.hopratio")" "$(tr '\n' ' ' < "$results/chain$tag.hopratio")"
done
if [ "${#variants[@]}" -gt 1 ]; then
  echo "# this build against the baseline build ($SPINDLE_BENCH_BASELINE), each measured right after it"
  while read -r t; do
    [ -f "$results/$t-base.rps" ] && ratio "$t-base" "$t" "the baseline"
  done < <(awk '!seen[$0]++' "$results/order")
fi
