/**
 * Soak test (issue 9.5; not in CI). Starts a loopback backend and Tollgate as its own process
 * (dist/, so run `npm run build` first), measures the maximum request rate with a closed loop,
 * then holds a fraction of it (default 80%) with an open loop for the given duration, and reports:
 * errors, records stored versus requests sent (they must be equal), `tollgate verify`, the RSS
 * slope of the Tollgate process over the hold, and its open file descriptors at the end (6 s after
 * the load, once idle keep-alive connections have closed: a leak shows as more than at the start).
 *
 *   node --import tsx scripts/soak.ts [--duration 10m] [--probe 15s] [--load 0.8] [--connections 32] [--workers 1]
 * With --workers N (> 1) RSS and fds are summed over the primary and its workers; the summary adds
 * the peak RSS of the largest single process.
 *
 * Exits 1 when records and requests differ, verify fails, or any request failed.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { Pool } from 'undici';
import { parseDuration } from '../src/core/index.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const MAIN = path.join(ROOT, 'dist/cli/main.js');

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10m' },
    probe: { type: 'string', default: '15s' },
    load: { type: 'string', default: '0.8' },
    connections: { type: 'string', default: '32' },
    workers: { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
  },
});
const HOLD_MS = parseDuration(flags.duration);
const PROBE_MS = parseDuration(flags.probe);
const LOAD = Number(flags.load);
const CONNECTIONS = Number(flags.connections);
const WORKERS = Number(flags.workers);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function waitForPort(port: number, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port}`);
    await sleep(50);
  }
}

/** The backend: a separate node process answering every request with a small body. */
async function startBackend(): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      '-e',
      `require('node:http').createServer((req, res) => { req.resume(); req.on('end', () => res.end('{"ok":true,"soak":"tollgate"}')); }).listen(${port}, '127.0.0.1')`,
    ],
    { stdio: 'ignore' },
  );
  await waitForPort(port, child, 'the backend');
  return { port, child };
}

/** Tollgate and (`--workers` > 1) its worker processes: pids from /proc's children lists. */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i]!;
    for (const t of fs.readdirSync(`/proc/${p}/task`)) {
      const kids = fs.readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim();
      if (kids !== '') out.push(...kids.split(/\s+/).map(Number));
    }
  }
  return out;
}

/** Peak RSS per process seen so far (the primary first), in MB. */
const peakByPid = new Map<number, number>();

/** RSS and open fds summed over the process tree, and the RSS of its largest process. */
function procStatus(pid: number): { rssMb: number; maxRssMb: number; fds: number; processes: number } {
  let rss = 0;
  let max = 0;
  let fds = 0;
  const pids = processTree(pid);
  for (const p of pids) {
    try {
      const status = fs.readFileSync(`/proc/${p}/status`, 'utf8');
      const mb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
      rss += mb;
      max = Math.max(max, mb);
      peakByPid.set(p, Math.max(peakByPid.get(p) ?? 0, mb));
      fds += fs.readdirSync(`/proc/${p}/fd`).length;
    } catch {
      // a process that just exited
    }
  }
  return { rssMb: rss, maxRssMb: max, fds, processes: pids.length };
}

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

class Counts {
  sent = 0;
  ok = 0;
  httpErrors = 0;
  failures = 0;
  readonly errors = new Map<string, number>();
  readonly latencies: number[] = [];
  note(error: string): void {
    this.errors.set(error, (this.errors.get(error) ?? 0) + 1);
  }
}

async function one(pool: Pool, counts: Counts, n: number, keepLatency: boolean): Promise<void> {
  counts.sent++;
  const t0 = performance.now();
  try {
    const res = await pool.request({ path: `/soak/${n % 1000}?i=${n}`, method: 'GET' });
    await res.body.dump();
    if (res.statusCode === 200) counts.ok++;
    else {
      counts.httpErrors++;
      counts.note(`HTTP ${res.statusCode}`);
    }
  } catch (err) {
    counts.failures++;
    counts.note((err as { code?: string }).code ?? (err as Error).message);
  }
  if (keepLatency && (n & 7) === 0) counts.latencies.push(performance.now() - t0);
}

/** As fast as `CONNECTIONS` closed-loop clients go, for `ms`: the requests per second. */
async function closedLoop(pool: Pool, counts: Counts, ms: number): Promise<number> {
  const end = performance.now() + ms;
  const before = counts.sent;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) await one(pool, counts, counts.sent, false);
    }),
  );
  return ((counts.sent - before) / (performance.now() - t0)) * 1000;
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function main(): Promise<void> {
  if (!fs.existsSync(MAIN)) throw new Error('dist/cli/main.js is missing: run `npm run build` first');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-soak-'));
  const dataDir = path.join(dir, 'data');
  const backend = await startBackend();
  const port = await freePort();
  const configPath = path.join(dir, 'tollgate.yaml');
  fs.writeFileSync(
    configPath,
    `data_dir: ${dataDir}
workers: ${WORKERS}
listeners:
  - { name: public, address: 127.0.0.1:${port}, limits: { max_connections_per_ip: 4096 } }
routes: [{ name: soak, pool: p, owner: team-soak }]
pools:
  - name: p
    backends: [{ name: b1, address: 127.0.0.1:${backend.port} }]
    max_connections: 4096
`,
  );
  const tg = spawn(process.execPath, [MAIN, 'start', '-c', configPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  tg.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-200_000);
  });
  const cleanup = () => {
    tg.kill('SIGKILL');
    backend.child.kill('SIGKILL');
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    await waitForPort(port, tg, 'tollgate');
    const pid = tg.pid!;
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONNECTIONS, pipelining: 1 });
    const counts = new Counts();
    const start = procStatus(pid);
    log(`tollgate pid ${pid}: RSS ${start.rssMb.toFixed(1)} MB, ${start.fds} fds; data in ${dataDir}`);

    await closedLoop(pool, counts, 3000);
    const max = await closedLoop(pool, counts, PROBE_MS);
    const target = max * LOAD;
    log(
      `maximum: ${max.toFixed(0)} req/s with ${CONNECTIONS} connections; holding ${(LOAD * 100).toFixed(0)}% = ${target.toFixed(0)} req/s for ${flags.duration}`,
    );

    const samples: [number, number][] = [];
    let peakProcessMb = 0;
    const holdStart = performance.now();
    const holdSentBefore = counts.sent;
    const holdErrorsBefore = counts.httpErrors + counts.failures;
    let issued = 0;
    let inflight = 0;
    let behind = 0;
    let lastReport = holdStart;
    const sampler = setInterval(() => {
      const s = procStatus(pid);
      samples.push([(performance.now() - holdStart) / 60_000, s.rssMb]);
      peakProcessMb = Math.max(peakProcessMb, s.maxRssMb);
    }, 2000);
    while (performance.now() - holdStart < HOLD_MS) {
      const due = Math.floor(((performance.now() - holdStart) / 1000) * target);
      while (issued < due) {
        if (inflight >= CONNECTIONS * 8) {
          behind += due - issued; // the client could not keep up: skip rather than queue without bound
          issued = due;
          break;
        }
        issued++;
        inflight++;
        void one(pool, counts, counts.sent, true).finally(() => inflight--);
      }
      const now = performance.now();
      if (now - lastReport >= 30_000) {
        lastReport = now;
        const s = procStatus(pid);
        const done = counts.sent - holdSentBefore;
        log(
          `  ${((now - holdStart) / 1000).toFixed(0)} s: ${done} sent (${((done / (now - holdStart)) * 1000).toFixed(0)} req/s), errors ${counts.httpErrors + counts.failures - holdErrorsBefore}, RSS ${s.rssMb.toFixed(1)} MB, ${s.fds} fds`,
        );
      }
      await sleep(5);
    }
    while (inflight > 0) await sleep(10);
    clearInterval(sampler);
    const holdSeconds = (performance.now() - holdStart) / 1000;
    const holdSent = counts.sent - holdSentBefore;
    await pool.close();
    await sleep(1000); // last group commit done
    const fdsIdle1s = procStatus(pid).fds;
    await sleep(5000); // past the 4 s idle keep-alive of the upstream pool: only Tollgate's own fds are left
    const end = procStatus(pid);

    tg.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => tg.once('exit', (c) => r(c)));
    const db = new Database(path.join(dataDir, 'audit.db'), { readonly: true });
    const records = (
      db.prepare(`SELECT count(*) AS n FROM records WHERE kind = 'request'`).get() as { n: number }
    ).n;
    const bad = (
      db
        .prepare(
          `SELECT termination, count(*) AS n FROM records WHERE kind = 'request' AND termination <> 'ok' GROUP BY 1`,
        )
        .all() as { termination: string; n: number }[]
    ).map((r) => `${r.termination}: ${r.n}`);
    db.close();
    const verify = spawnSync(process.execPath, [MAIN, 'verify', '--data', dataDir, '--quiet'], {
      encoding: 'utf8',
    });
    // the slope over the hold, after its first 10% (warm-up of caches and pools)
    const steady = samples.filter(([m]) => m >= (HOLD_MS / 60_000) * 0.1);
    const errors = counts.httpErrors + counts.failures;
    const summary = {
      max_rps: Math.round(max),
      target_rps: Math.round(target),
      hold_seconds: Math.round(holdSeconds),
      hold_achieved_rps: Math.round(holdSent / holdSeconds),
      hold_skipped_by_client: behind,
      requests_sent: counts.sent,
      responses_200: counts.ok,
      errors,
      error_kinds: Object.fromEntries(counts.errors),
      records_written: records,
      records_equal_requests: records === counts.sent,
      records_not_ok: bad,
      verify: verify.status === 0 ? verify.stdout.trim() : `FAILED: ${verify.stdout}${verify.stderr}`,
      latency_ms_p50: Number(percentile(counts.latencies, 0.5).toFixed(2)),
      latency_ms_p99: Number(percentile(counts.latencies, 0.99).toFixed(2)),
      latency_ms_max: Number(counts.latencies.reduce((m, v) => Math.max(m, v), 0).toFixed(2)),
      rss_mb_start: Number(start.rssMb.toFixed(1)),
      rss_mb_end: Number(end.rssMb.toFixed(1)),
      rss_slope_mb_per_min: Number(slope(steady).toFixed(3)),
      processes: end.processes,
      rss_mb_peak_largest_process: Number(peakProcessMb.toFixed(1)),
      rss_mb_peak_per_process: [...peakByPid.values()].map((mb) => Number(mb.toFixed(1))),
      fds_start: start.fds,
      fds_1s_after_load: fdsIdle1s,
      fds_end: end.fds,
      tollgate_exit_code: code,
    };
    log('summary:');
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    const failed = !summary.records_equal_requests || verify.status !== 0 || errors > 0 || code !== 0;
    if (failed) {
      log(`FAILED; tollgate's last log lines:\n${stderr.split('\n').slice(-10).join('\n')}`);
      process.exitCode = 1;
    }
  } finally {
    cleanup();
    if (!flags.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
