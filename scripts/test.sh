#!/usr/bin/env bash
# The whole test suite, as CI runs it on a clean clone: install, build, lint, typecheck, test.
# Installs what the tests need with apt-get when it is missing: python3 (the connect-timeout
# black hole), curl (the dashboard test sends requests with it), openssl (test certificates),
# goaccess (reads the combined log), Prometheus and promtool (scrape /metrics), Alertmanager
# (receives alerts), chromium (the dashboard's browser tests drive Debian's chromium through
# playwright-core; no browser is downloaded), rsyslog with TLS (the syslog sink), PostgreSQL
# (the central store sink), etcd and Redis (fleet mode: shared config, fleet-wide limits).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v goaccess >/dev/null 2>&1 || need_apt+=(goaccess)
command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need_apt+=(prometheus-alertmanager)
command -v rsyslogd >/dev/null 2>&1 || need_apt+=(rsyslog)
[ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so ] || need_apt+=(rsyslog-gnutls)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need_apt+=(postgresql)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v etcd >/dev/null 2>&1 || need_apt+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need_apt+=(etcd-client)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

[ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
npm run build
npx biome check src test scripts web
npm run typecheck
# node 20's test runner does not expand globs: pass the files through the shell
export TOLLGATE_BUILT=1
files=$(find src test -name '*.test.ts' | sort)
node --import tsx --test --test-timeout=240000 --test-concurrency=2 $files
