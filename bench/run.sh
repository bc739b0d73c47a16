#!/usr/bin/env bash
# Tollgate side by side with the peers of ../shared/bench (a copy, since shared/ is read-only).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED_BENCH:-$root/../shared/bench}
work=$root/.bench-out/harness
[ -d "$shared" ] || { echo "bench: $shared not found (set SHARED_BENCH)" >&2; exit 1; }
for tool in wrk haproxy nginx; do command -v "$tool" >/dev/null || { echo "bench: $tool is missing: apt-get install -y wrk haproxy nginx caddy" >&2; exit 1; }; done
[ -f "$root/dist/cli/main.js" ] || (cd "$root" && npm run build)
rm -rf "$work"; mkdir -p "$work"; cp -r "$shared/." "$work/"; cp "$root/bench/tollgate-strict.sh" "$work/peers/"
(cd "$work" && npm ci --no-audit --no-fund >/dev/null)
cd "$work"
TOLLGATE="node $root/dist/cli/main.js" \
ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-8} WORKERS_LIST=${WORKERS_LIST:-"1 2"} LOGS=${LOGS:-on} \
PEERS=${PEERS:-"haproxy nginx caddy http-proxy undici"} \
EXTRA=${EXTRA:-"tollgate=bash peers/tollgate.sh;tollgate-audit-off=env TOLLGATE_BENCH_AUDIT_OFF=1 bash peers/tollgate.sh;tollgate-strict=bash peers/tollgate-strict.sh"} \
OUT=$root/.bench-out/$(date +%Y%m%d-%H%M%S) ./run.sh
