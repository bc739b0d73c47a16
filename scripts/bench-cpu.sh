#!/usr/bin/env bash
# CPU cost per request of Tollgate (and of any peer), interleaved A B A B, on a pinned core.
#
#   scripts/bench-cpu.sh [-r ROUNDS] [-d SECONDS] [-c CONNS] [-p PROFILE_DIR] VARIANT...
#
# VARIANT is NAME=SPEC, where SPEC is one of
#   tollgate:DIST[:ENV=VALUE,...]   node DIST/cli/main.js start -c <bench config> (a copy of a build's
#                                  dist/ works: it resolves node_modules from where it sits)
#   cmd:COMMAND                     any proxy that follows ../shared/bench's peer contract (env PORT,
#                                  BACKENDS, ACCESS_LOG, RUN_DIR; exits on SIGTERM)
# e.g.  scripts/bench-cpu.sh -r 3 base=tollgate:.bench-out/base-dist new=tollgate:dist \
#         off=tollgate:dist:TOLLGATE_BENCH_AUDIT_OFF=1 undici=cmd:"node ../shared/bench/peers/undici-proxy.js"
#
# The Tollgate config is the shared harness's (peers/tollgate.sh): one listener, one round_robin
# pool of 3 backends, the sqlite store with the chain, a jsonl sink. The backend is one nginx
# worker on 3 ports (../shared/bench/backend/nginx.sh; BACKEND=node for a node one) pinned with
# wrk on CPU 0; the proxy runs alone on CPU 1 (taskset). Per run it reports the proxy process's
# CPU per request from /proc (utime+stime of all its threads, and split: the main (request) thread,
# the busiest other thread (the audit writer), the rest: V8 GC helpers, libuv pool), requests/s
# and peak RSS (VmHWM). The machine is shared: compare CPU µs/request between variants of one
# run, not req/s between runs. With -p, Tollgate runs under --cpu-prof (one .cpuprofile per
# thread, written at SIGTERM) into PROFILE_DIR/NAME-ROUND; summarize with
# `node --import tsx scripts/cpu-profile-top.ts FILE...`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED_BENCH:-$root/../shared/bench}
ROUNDS=2 DURATION=10 CONNS=50 PROFILE=''
WARMUP=${WARMUP:-3}
BASE_PORT=${BASE_PORT:-19200}
while getopts 'r:d:c:p:' o; do
  case $o in
    r) ROUNDS=$OPTARG ;; d) DURATION=$OPTARG ;; c) CONNS=$OPTARG ;; p) PROFILE=$(realpath -m "$OPTARG") ;;
    *) sed -n '2,12p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { sed -n '2,12p' "$0"; exit 2; }
command -v wrk >/dev/null || { echo "bench-cpu: wrk is missing (apt-get install -y wrk)" >&2; exit 1; }

run=$(mktemp -d "${TMPDIR:-/tmp}/bench-cpu.XXXXXX")
ports="$((BASE_PORT + 1)) $((BASE_PORT + 2)) $((BASE_PORT + 3))"
backends=$(printf '127.0.0.1:%s,' $ports); backends=${backends%,}
port=$((BASE_PORT + 80))
hz=$(getconf CLK_TCK)
backend_pid=''
proxy_pid=''

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 150); do port_open "$1" && return 0; sleep 0.1; done; return 1; }
stop_pid() {
  local p=$1; [ -n "$p" ] || return 0
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
cleanup() { stop_pid "$proxy_pid"; stop_pid "$backend_pid"; rm -rf "$run"; }
trap cleanup EXIT

# per thread of PID: "tid jiffies" (utime + stime)
thread_jiffies() {
  local t
  for t in /proc/"$1"/task/*/stat; do
    awk '{tid = $1; sub(/.*\) /, ""); print tid, $12 + $13}' "$t" 2>/dev/null || true
  done
}

# busy jiffies of CPU 1 (the proxy's core), all processes
cpu1_busy() { awk '/^cpu1 / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
# the machine is shared: wait (up to QUIET_WAIT s) until it idles below QUIET_PCT % of one core
busy_pct() {
  local b0 a0 b1 a1
  read -r b0 a0 < <(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat); sleep 1
  read -r b1 a1 < <(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
  echo $(( (b1 - b0) * 200 / (a1 - a0 + 1) ))
}
wait_quiet() {
  local waited=0
  while [ "$(busy_pct)" -gt "${QUIET_PCT:-25}" ] && [ $waited -lt "${QUIET_WAIT:-20}" ]; do waited=$((waited + 1)); done
}

tollgate_config() {   # $1: dir
  {
    echo "data_dir: $1/data"
    cat <<CFG
listeners:
  - name: public
    address: 127.0.0.1:$port
routes:
  - name: all
    pool: be
    owner: bench
pools:
  - name: be
    algorithm: round_robin
    backends:
CFG
    local i=0 b
    IFS=, read -ra bs <<< "$backends"
    for b in "${bs[@]}"; do i=$((i + 1)); echo "      - { name: b$i, address: $b }"; done
    echo "audit:"
    echo "  store: { type: sqlite, path: audit.db }"
    echo "  chain: { enabled: true, checkpoint_interval: 60s }"
    echo "  sinks: [ { type: jsonl, path: $1/access.jsonl } ]"
    echo "admin:"
    echo "  address: 127.0.0.1:$((port + 1))"
  } > "$1/tollgate.yaml"
}

start_proxy() {   # $1 name, $2 spec, $3 dir (sets proxy_pid)
  local name=$1 spec=$2 dir=$3
  case $spec in
    tollgate:*)
      local rest=${spec#tollgate:} dist envs='' flags=''
      dist=${rest%%:*}; [ "$rest" != "$dist" ] && envs=${rest#*:}
      tollgate_config "$dir"
      [ -n "$PROFILE" ] && { mkdir -p "$PROFILE/$name"; flags="--cpu-prof --cpu-prof-dir=$PROFILE/$name"; }
      # shellcheck disable=SC2086
      env ${envs//,/ } taskset -c 1 node $flags "$dist/cli/main.js" start -c "$dir/tollgate.yaml" \
        > "$dir/proxy.out" 2>&1 &
      ;;
    cmd:*)
      (cd "$shared" && NODE_PATH=${NODE_PATH:-$root/node_modules} PORT=$port BACKENDS=$backends WORKERS=1 ACCESS_LOG=$dir/access.log RUN_DIR=$dir \
        exec taskset -c 1 ${spec#cmd:}) > "$dir/proxy.out" 2>&1 &
      ;;
    *) echo "bench-cpu: unknown variant spec $spec" >&2; exit 2 ;;
  esac
  proxy_pid=$!
  wait_port "$port" || { echo "bench-cpu: $name did not listen on $port" >&2; cat "$dir/proxy.out" >&2; exit 1; }
}

mkdir -p "$run/backend"
if [ "${BACKEND:-nginx}" = nginx ] && command -v nginx >/dev/null; then
  PORTS=$ports RUN_DIR=$run/backend taskset -c 0 bash "$shared/backend/nginx.sh" > "$run/backend/out" 2>&1 &
else
  PORTS=$ports taskset -c 0 node "$shared/backend/node-backend.js" > "$run/backend/out" 2>&1 &
fi
backend_pid=$!
for p in $ports; do wait_port "$p" || { echo "bench-cpu: backend did not start" >&2; cat "$run/backend/out" >&2; exit 1; }; done

printf '%-12s %5s %8s %9s %9s %9s %9s %8s %8s\n' variant round req/s 'us/req' 'main' 'writer' 'other' 'hwm_MiB' 'foreign%'
results=$run/results.tsv
: > "$results"
for round in $(seq "$ROUNDS"); do
  for v in "$@"; do
    name=${v%%=*} spec=${v#*=}
    dir=$run/$name-$round; mkdir -p "$dir"
    wait_quiet
    start_proxy "$name" "$spec" "$dir"
    taskset -c 0 wrk -t1 -c"$CONNS" -d"${WARMUP}s" "http://127.0.0.1:$port/" > /dev/null
    thread_jiffies "$proxy_pid" > "$dir/j0"
    c0=$(cpu1_busy)
    taskset -c 0 wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$port/" > "$dir/wrk.out"
    thread_jiffies "$proxy_pid" > "$dir/j1"
    c1=$(cpu1_busy)
    hwm=$(awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$proxy_pid/status")
    pid=$proxy_pid
    stop_pid "$proxy_pid"; proxy_pid=''
    reqs=$(awk '/requests in/ {print $1}' "$dir/wrk.out")
    secs=$(awk '/requests in/ {sub(/s,$/, "", $4); print $4}' "$dir/wrk.out")
    bad=$(awk '/Non-2xx|Socket errors/' "$dir/wrk.out")
    [ -n "$bad" ] && echo "  $name: $bad"
    # main thread = tid == pid; writer = the busiest other thread; other = the rest
    read -r main writer other < <(awk -v pid="$pid" 'NR == FNR {a[$1] = $2; next}
      {d = $2 - a[$1]; if ($1 == pid) m = d; else {o += d; if (d > w) w = d}}
      END {print m + 0, w + 0, o - w}' "$dir/j0" "$dir/j1" 2>/dev/null || echo "0 0 0")
    awk -v n="$name" -v r="$round" -v q="$reqs" -v s="$secs" -v m="$main" -v w="$writer" -v o="$other" \
      -v hz="$hz" -v h="$hwm" -v c="$((c1 - c0))" 'BEGIN {
        u = 1e6 / hz / q; f = (c - m - w - o) * 100 / hz / s; if (f < 0) f = 0
        printf "%-12s %5d %8.0f %9.1f %9.1f %9.1f %9.1f %8s %8.0f\n", n, r, q / s, (m + w + o) * u, m * u, w * u, o * u, h, f
        printf "%s\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t%.0f\n", n, r, q / s, (m + w + o) * u, m * u, w * u, o * u, h, f > "/dev/stderr"
      }' 2>> "$results"
  done
done

# per variant: median of each column over its rounds (those with at most FOREIGN_MAX % of a core
# of foreign load on CPU 1, when there are any), then ratios to the first variant
echo
echo "medians (ratios to ${1%%=*}; rounds with > ${FOREIGN_MAX:-15}% foreign load on CPU 1 left out when possible):"
awk -F'\t' -v fmax="${FOREIGN_MAX:-15}" '{k = $1; if (!(k in seen)) {seen[k] = 1; order[++n] = k}
  all[k]++; for (i = 3; i <= 9; i++) va[k, i, all[k]] = $i
  if ($9 <= fmax) {clean[k]++; for (i = 3; i <= 9; i++) vc[k, i, clean[k]] = $i}}
  function med(k, i,   m, j, l, t, a) {
    if (clean[k] > 0) {m = clean[k]; for (j = 1; j <= m; j++) a[j] = vc[k, i, j]}
    else {m = all[k]; for (j = 1; j <= m; j++) a[j] = va[k, i, j]}
    for (j = 1; j <= m; j++) for (l = j + 1; l <= m; l++) if (a[l] < a[j]) {t = a[j]; a[j] = a[l]; a[l] = t}
    return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2}
  END {
    b = order[1]; bu = med(b, 4); br = med(b, 3)
    printf "%-12s %6s %8s %9s %9s %9s %9s %8s %8s %8s\n", "variant", "rounds", "req/s", "us/req", "main", "writer", "other", "hwm_MiB", "x_cpu", "x_rps"
    for (x = 1; x <= n; x++) {k = order[x]
      printf "%-12s %6s %8.0f %9.1f %9.1f %9.1f %9.1f %8.1f %8.3f %8.3f\n", k, (clean[k] > 0 ? clean[k] : all[k]) "/" all[k], med(k, 3), med(k, 4), med(k, 5), med(k, 6), med(k, 7), med(k, 8), med(k, 4) / bu, med(k, 3) / br}
  }' "$results"
# paired: each round's CPU/request and req/s of a variant over the first variant's in the same
# round (neighbours in time share the machine's mood), then the median and range of those ratios
echo
echo "paired ratios to ${1%%=*} (median [min, max] over rounds):"
awk -F'\t' 'NR == 1 {b = $1} {cpu[$1, $2] = $4; rps[$1, $2] = $3; if (!($1 in seen)) {seen[$1] = 1; order[++n] = $1}; if ($2 > rounds) rounds = $2}
  function stats(arr, m,   j, l, t) {for (j = 1; j <= m; j++) for (l = j + 1; l <= m; l++) if (arr[l] < arr[j]) {t = arr[j]; arr[j] = arr[l]; arr[l] = t}
    return sprintf("%.3f [%.3f, %.3f]", m % 2 ? arr[(m + 1) / 2] : (arr[m / 2] + arr[m / 2 + 1]) / 2, arr[1], arr[m])}
  END {
    printf "%-12s %-26s %-26s\n", "variant", "x_cpu", "x_rps"
    for (x = 2; x <= n; x++) {k = order[x]; m = 0; delete a; delete q
      for (r = 1; r <= rounds; r++) if (((k, r) in cpu) && ((b, r) in cpu)) {m++; a[m] = cpu[k, r] / cpu[b, r]; q[m] = rps[k, r] / rps[b, r]}
      if (m > 0) printf "%-12s %-26s %-26s\n", k, stats(a, m), stats(q, m)}
  }' "$results"
[ -n "${RESULTS_COPY:-}" ] && cp "$results" "$RESULTS_COPY"
exit 0
