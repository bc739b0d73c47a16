/**
 * Benchmark of the embedded audit store (not a test):
 *   node --import tsx scripts/bench-store.ts [N] [--keep DIR]
 * With --keep DIR the store stays in DIR; a later run with the same DIR skips the fill and only
 * times the queries.
 * Fills a temp store with N request rows (default 10,000,000) spread over 7 days, then times
 * (median of 5, read-only connection like the CLI) `query({clientIp: hot, since: now-24h}, 100)`
 * and `countByStatus(now-24h, now)`, plus a few other filter shapes for context. The issue's
 * targets on 10M rows: the first under 100 ms, the second under 1 s.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { QueryFilters } from '../src/store/index.js';
import { openStore } from '../src/store/index.js';
import { CLIENTS, DAY, fill, HOT, NOW } from './store-fill.js';

const args = process.argv.slice(2);
const keepAt = args.indexOf('--keep');
const keepDir = keepAt === -1 ? null : args[keepAt + 1]!;
const positional = args.filter((a, i) => !a.startsWith('--') && (keepAt === -1 || i !== keepAt + 1));
const N = Number(positional[0] ?? 10_000_000);
if (!Number.isInteger(N) || N < 1000)
  throw new Error(`N must be an integer of at least 1000, not ${positional[0]}`);

function median(fn: () => unknown, runs = 5): { ms: number; result: unknown } {
  const times: number[] = [];
  let result: unknown;
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    result = fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(runs / 2)]!, result };
}

const dir = keepDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-bench-store-'));
const file = path.join(dir, 'audit.db');
try {
  if (fs.existsSync(file)) console.log(`reusing ${file} (no fill)`);
  else {
    console.log(
      `filling ${file} with ${N.toLocaleString('en')} request rows over 7 days (${os.cpus().length} cores)`,
    );
    const writer = openStore(file);
    const { seconds, insertSeconds, bytes } = fill(writer, N);
    writer.close();
    const size =
      fs.statSync(file).size + (fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0);
    console.log(
      `fill: ${seconds.toFixed(1)} s, ${Math.round(N / seconds).toLocaleString('en')} rows/s ` +
        `(insertBatch alone: ${Math.round(N / insertSeconds).toLocaleString('en')} rows/s), ` +
        `rec ${Math.round(bytes / N)} B avg, store ${(size / 2 ** 30).toFixed(2)} GiB`,
    );
  }

  const reader = openStore(file, { readonly: true });
  const since = NOW - DAY;
  const time = (label: string, fn: () => unknown, describe: (r: unknown) => string): void => {
    const { ms, result } = median(fn);
    console.log(`${label.padEnd(66)} ${ms.toFixed(1).padStart(8)} ms  (${describe(result)})`);
  };
  const rows = (r: unknown) => `${(r as unknown[]).length} rows`;
  const q = (f: QueryFilters) => () => reader.query(f, 100);
  console.log('median of 5, read-only connection:');
  time(`query({clientIp: '${HOT[0]}', since: now-24h}, 100)`, q({ clientIp: HOT[0]!, since }), rows);
  time(
    'countByStatus(now-24h, now)',
    () => reader.countByStatus(since, NOW),
    (r) => {
      const counts = r as { status: number; count: number }[];
      return `${counts.length} statuses, ${counts.reduce((n, c) => n + c.count, 0).toLocaleString('en')} requests`;
    },
  );
  console.log('other shapes, for context:');
  time(
    `query({clientIp: '${CLIENTS[0]}' (cold), since: now-24h}, 100)`,
    q({ clientIp: CLIENTS[0]!, since }),
    rows,
  );
  time('query({clientIp: 10.1.0.0/16, since: now-24h}, 100)', q({ clientIp: '10.1.0.0/16', since }), rows);
  time(
    'query({clientIp: 2001:db8::/32, since: now-24h}, 100)',
    q({ clientIp: '2001:db8::/32', since }),
    rows,
  );
  time('query({status: 5xx, since: now-24h}, 100)', q({ status: { min: 500, max: 599 }, since }), rows);
  time('query({since: now-24h}, 100)', q({ since }), rows);
  time(
    `query({clientIp: '${HOT[0]}', status: 5xx, since: now-24h}, 100)`,
    q({ clientIp: HOT[0]!, status: { min: 500, max: 599 }, since }),
    rows,
  );
  time(
    `query({clientIp: '${CLIENTS[0]}' (cold), status: 200}, 100)`,
    q({ clientIp: CLIENTS[0]!, status: { min: 200, max: 200 } }),
    rows,
  );
  time(
    'query({route: payments, backend: payments-2, status: 502}, 100)',
    q({ route: 'payments', backend: 'payments-2', status: { min: 502, max: 502 } }),
    rows,
  );
  time('query({user: user-7, until: now-6d}, 100)', q({ user: 'user-7', until: NOW - 6 * DAY }), rows);
  time('query({user: user-7}, 100)', q({ user: 'user-7' }), rows);
  time('query({backend: payments-2, since: now-24h}, 100)', q({ backend: 'payments-2', since }), rows);
  time(
    'query({termination: upstream_response_timeout}, 100)',
    q({ termination: 'upstream_response_timeout' }),
    rows,
  );
  time(
    'query({requestId: (one that exists)}, 100)',
    q({ requestId: reader.query({}, 1)[0]!.requestId! }),
    rows,
  );
  // worst cases: no match anywhere, so every candidate is read: a seek in every key run, or
  // all of records_ts for a route, backend or termination that never occurs
  time('query({user: nobody}, 100) (a seek per run)', q({ user: 'nobody' }), rows);
  time(
    'query({clientIp: 192.0.2.99 (never seen)}, 100) (a seek per run)',
    q({ clientIp: '192.0.2.99' }),
    rows,
  );
  time(
    'query({termination: no_such_code}, 100) (all of records_ts)',
    q({ termination: 'no_such_code' }),
    rows,
  );
  reader.close();
} finally {
  if (keepDir === null) fs.rmSync(dir, { recursive: true, force: true });
}
