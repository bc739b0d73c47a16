import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { type BlockList, isIPv6 } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { isTollgateError } from '../core/index.js';
import { parseClientIp } from './client-ip.js';
import type { QueryFilters, Store, StoredRow } from './index.js';
import { openStore, SCHEMA_VERSION } from './index.js';
import { COUNT_BY_STATUS, eventWhere, requestWhere, runSql, streamSql, tailSql } from './query-sql.js';
import { RUN_ROWS } from './store.js';

const T0 = Date.UTC(2025, 0, 1);
const H = 3_600_000;
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-store-'));
  dirs.push(dir);
  return dir;
}

function request(seq: number, ts: number, f: Partial<StoredRow> = {}): StoredRow {
  return {
    seq,
    kind: 'request',
    ts,
    rec: `{"seq":${seq}}`,
    hash: seq.toString(16).padStart(64, '0'),
    requestId: `r${seq}`,
    clientIp: '10.0.0.1',
    status: 200,
    route: 'api',
    backend: 'api-1',
    termination: 'ok',
    userName: null,
    action: null,
    ...f,
  };
}

function admin(seq: number, ts: number, userName: string, action: string): StoredRow {
  return {
    ...request(seq, ts),
    kind: 'admin',
    requestId: null,
    clientIp: null,
    status: null,
    route: null,
    backend: null,
    termination: null,
    userName,
    action,
  };
}

/** Ten records: eight requests (one request id used twice) and two admin events. */
const SAMPLE: StoredRow[] = [
  request(1, T0 + 1 * H, { userName: 'alice' }),
  request(2, T0 + 2 * H, {
    clientIp: '10.0.0.2',
    status: 502,
    backend: 'api-2',
    termination: 'upstream_connect_refused',
  }),
  admin(3, T0 + 2 * H + 1, 'alice', 'config.update'),
  request(4, T0 + 3 * H, {
    clientIp: '192.168.1.5',
    status: 404,
    route: null,
    backend: null,
    termination: 'no_route',
  }),
  request(5, T0 + 4 * H, {
    clientIp: '2001:db8::5',
    status: 503,
    backend: null,
    termination: 'no_healthy_backend',
    userName: 'bob',
  }),
  request(6, T0 + 5 * H, { status: 201, route: 'web', backend: 'web-1', userName: 'bob' }),
  request(7, T0 + 6 * H, {
    clientIp: '10.0.1.9',
    status: 504,
    termination: 'upstream_response_timeout',
    userName: 'alice',
  }),
  request(8, T0 + 7 * H, { clientIp: '2001:db8:1::9', route: 'web', backend: 'web-1', requestId: 'r2' }),
  admin(9, T0 + 7 * H + 5, 'bob', 'token.create'),
  request(10, T0 + 8 * H, {
    clientIp: '172.16.0.1',
    status: 429,
    backend: null,
    termination: 'rate_limited',
    userName: 'carol',
  }),
];

function sampleStore(): Store {
  const store = openStore(path.join(tempDir(), 'data', 'audit.db'));
  store.insertBatch(SAMPLE.slice(0, 4));
  store.insertBatch(SAMPLE.slice(4));
  return store;
}

const seqs = (rows: StoredRow[]): number[] => rows.map((r) => r.seq);

function assertCode(fn: () => unknown, code: string, mentions?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isTollgateError(err), `expected a TollgateError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (mentions !== undefined) assert.ok(err.message.includes(mentions), err.message);
    return true;
  });
}

// ---- opening and migrations

test('opening a store twice applies each migration once and keeps the rows', () => {
  const file = path.join(tempDir(), 'audit.db');
  const first = openStore(file);
  first.insertBatch([request(1, T0)]);
  first.close();
  const second = openStore(file);
  assert.equal(second.count(), 1);
  second.close();
  const db = new Database(file, { readonly: true });
  const applied = db.prepare('SELECT version, name FROM schema_migrations').all();
  db.close();
  assert.deepEqual(applied, [
    { version: 1, name: 'init' },
    { version: 2, name: 'tokens' },
    { version: 3, name: 'covering time index, key runs' },
  ]);
  assert.equal(SCHEMA_VERSION, 3);
});

test('the writer creates the folder, keeps the files private and runs in WAL mode', () => {
  const file = path.join(tempDir(), 'nested', 'data', 'audit.db');
  const store = openStore(file);
  store.insertBatch([request(1, T0)]);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(fs.statSync(`${file}-wal`).mode & 0o777, 0o600);
  const db = new Database(file, { readonly: true });
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('page_size', { simple: true }), 16_384);
  db.close();
  store.close();
  store.close(); // idempotent
});

test('a reader of a missing store gets TG_ERR_STORE_MISSING naming the path', () => {
  const file = path.join(tempDir(), 'nothing-here', 'audit.db');
  assertCode(() => openStore(file, { readonly: true }), 'TG_ERR_STORE_MISSING', file);
  assert.equal(fs.existsSync(path.dirname(file)), false, 'a reader creates nothing');
});

test('a store written by a newer Tollgate is refused by writers and readers', () => {
  const file = path.join(tempDir(), 'audit.db');
  openStore(file).close();
  const db = new Database(file);
  db.prepare("INSERT INTO schema_migrations VALUES (99, 'future', 0)").run();
  db.close();
  assertCode(() => openStore(file), 'TG_ERR_STORE_SCHEMA', 'version 99');
  assertCode(() => openStore(file, { readonly: true }), 'TG_ERR_STORE_SCHEMA', 'version 99');
});

test('a file that is not a database gives TG_ERR_STORE_OPEN', () => {
  const file = path.join(tempDir(), 'audit.db');
  fs.writeFileSync(file, 'not a database, just text that is long enough to have a header'.repeat(20));
  assertCode(() => openStore(file), 'TG_ERR_STORE_OPEN', file);
});

// ---- records

test('insertBatch and rowsFrom round-trip every field, ascending', () => {
  const store = sampleStore();
  assert.deepEqual(store.rowsFrom(1, 100), SAMPLE);
  assert.deepEqual(seqs(store.rowsFrom(4, 3)), [4, 5, 6]);
  assert.deepEqual(store.rowsFrom(11, 10), []);
  assert.deepEqual(store.last(), { seq: 10, hash: SAMPLE[9]!.hash });
  assert.equal(store.count(), 10);
  assert.equal(store.firstSeq(), 1);
  store.close();
});

test('a large batch (several multi-row statements and a remainder) round-trips every row, in order', () => {
  const store = openStore(path.join(tempDir(), 'audit.db'));
  const rows = Array.from({ length: 101 }, (_, i) =>
    i % 10 === 9
      ? admin(i + 1, T0 + i, `user-${i}`, 'config.update')
      : request(i + 1, T0 + i, { userName: i % 3 === 0 ? null : `u${i}`, status: 200 + (i % 5) }),
  );
  store.insertBatch(rows);
  assert.deepEqual(store.rowsFrom(1, 1000), rows);
  assert.deepEqual(
    seqs(store.query({ status: { min: 203, max: 203 } }, 1000)),
    [99, 94, 89, 84, 79, 74, 69, 64, 59, 54, 49, 44, 39, 34, 29, 24, 19, 14, 9, 4],
  );
  store.close();
});

test('an empty store has no last record, no first seq and counts 0', () => {
  const store = openStore(path.join(tempDir(), 'audit.db'));
  assert.equal(store.last(), null);
  assert.equal(store.firstSeq(), null);
  assert.equal(store.count(), 0);
  assert.deepEqual(store.query({}, 10), []);
  store.close();
});

test('a batch the store refuses is not stored at all (TG_ERR_STORE_WRITE, not retryable)', () => {
  const store = sampleStore();
  assert.throws(
    () => store.insertBatch([request(11, T0), request(5, T0)]),
    (err: unknown) =>
      isTollgateError(err) &&
      err.code === 'TG_ERR_STORE_WRITE' &&
      err.message.includes('SQLITE_CONSTRAINT_PRIMARYKEY') &&
      err.retryable === false,
  );
  assert.equal(store.count(), 10);
  assert.equal(store.last()?.seq, 10);
  // the same inside a multi-row statement: the whole batch is refused, including the rows before
  const big = Array.from({ length: 70 }, (_, i) => request(11 + i, T0 + i));
  big[40] = request(3, T0);
  assert.throws(
    () => store.insertBatch(big),
    (err: unknown) => isTollgateError(err) && err.code === 'TG_ERR_STORE_WRITE',
  );
  assert.equal(store.count(), 10);
  store.close();
});

test('each query filter alone', () => {
  const store = sampleStore();
  const q = (f: QueryFilters) => seqs(store.query(f, 100));
  assert.deepEqual(q({}), [10, 8, 7, 6, 5, 4, 2, 1]);
  assert.deepEqual(q({ since: T0 + 5 * H }), [10, 8, 7, 6]);
  assert.deepEqual(q({ until: T0 + 3 * H }), [2, 1]);
  assert.deepEqual(q({ since: T0 + 2 * H, until: T0 + 6 * H }), [6, 5, 4, 2]);
  assert.deepEqual(q({ status: { min: 500, max: 599 } }), [7, 5, 2]);
  assert.deepEqual(q({ status: { min: 200, max: 299 } }), [8, 6, 1]);
  assert.deepEqual(q({ status: { min: 200, max: 200 } }), [8, 1]);
  assert.deepEqual(q({ status: { min: 300, max: 399 } }), []);
  assert.deepEqual(q({ clientIp: '10.0.0.1' }), [6, 1]);
  assert.deepEqual(q({ clientIp: '10.0.0.0/24' }), [6, 2, 1]);
  assert.deepEqual(q({ clientIp: '10.0.0.0/16' }), [7, 6, 2, 1]);
  assert.deepEqual(q({ clientIp: '10.0.1.0/20' }), [7, 6, 2, 1]);
  assert.deepEqual(q({ clientIp: '0.0.0.0/0' }), [10, 7, 6, 4, 2, 1]);
  assert.deepEqual(q({ clientIp: '2001:db8::/32' }), [8, 5]);
  assert.deepEqual(q({ clientIp: '2001:db8::/48' }), [5]);
  assert.deepEqual(q({ clientIp: '2001:DB8:0::5' }), [5], 'IPv6 is compared in its canonical form');
  assert.deepEqual(q({ clientIp: '::ffff:10.0.0.1' }), [6, 1], 'IPv4-mapped IPv6 is its IPv4 address');
  assert.deepEqual(q({ clientIp: '10.0.0.1/32' }), [6, 1]);
  assert.deepEqual(q({ user: 'alice' }), [7, 1], 'admin events by alice are not requests');
  assert.deepEqual(q({ route: 'api' }), [10, 7, 5, 2, 1]);
  assert.deepEqual(q({ backend: 'api-1' }), [7, 1]);
  assert.deepEqual(q({ termination: 'ok' }), [8, 6, 1]);
  assert.deepEqual(q({ termination: 'no_route' }), [4]);
  assert.deepEqual(q({ requestId: 'r2' }), [8, 2]);
  assert.deepEqual(q({ requestId: 'nope' }), []);
  store.close();
});

test('query filters combined', () => {
  const store = sampleStore();
  const q = (f: QueryFilters) => seqs(store.query(f, 100));
  assert.deepEqual(q({ route: 'api', status: { min: 500, max: 599 }, since: T0 + 3 * H }), [7, 5]);
  assert.deepEqual(q({ clientIp: '10.0.0.0/16', status: { min: 200, max: 299 } }), [6, 1]);
  assert.deepEqual(q({ clientIp: '10.0.0.0/16', until: T0 + 5 * H, termination: 'ok' }), [1]);
  assert.deepEqual(q({ user: 'bob', route: 'web' }), [6]);
  assert.deepEqual(q({ user: 'alice', backend: 'api-1', since: T0 + 2 * H }), [7]);
  assert.deepEqual(q({ clientIp: '2001:db8::/32', requestId: 'r2' }), [8]);
  assert.deepEqual(
    q({ clientIp: '10.0.0.1', status: { min: 201, max: 201 }, route: 'web', backend: 'web-1' }),
    [6],
  );
  store.close();
});

test('query returns request rows newest first, honours limit and pages with beforeSeq', () => {
  const store = sampleStore();
  assert.deepEqual(seqs(store.query({}, 3)), [10, 8, 7]);
  assert.deepEqual(seqs(store.query({ beforeSeq: 7 }, 3)), [6, 5, 4]);
  assert.deepEqual(seqs(store.query({ beforeSeq: 4 }, 3)), [2, 1]);
  assert.deepEqual(seqs(store.query({ clientIp: '10.0.0.0/8', beforeSeq: 7 }, 2)), [6, 2]);
  assert.deepEqual(seqs(store.query({ status: { min: 500, max: 599 }, beforeSeq: 7 }, 1)), [5]);
  const all = store.query({}, 100);
  assert.ok(all.every((r) => r.kind === 'request'));
  store.close();
});

test('bad filters are usage errors', () => {
  const store = sampleStore();
  assertCode(() => store.query({ clientIp: 'not-an-ip' }, 10), 'TG_ERR_USAGE', 'not-an-ip');
  assertCode(() => store.query({ clientIp: '10.0.0.0/33' }, 10), 'TG_ERR_USAGE');
  assertCode(() => store.query({ status: { min: 599, max: 500 } }, 10), 'TG_ERR_USAGE');
  assertCode(() => store.query({ since: Number.NaN }, 10), 'TG_ERR_USAGE');
  assertCode(() => store.query({}, 0), 'TG_ERR_USAGE');
  store.close();
});

test('byRequestId returns every request with that id, oldest first', () => {
  const store = sampleStore();
  assert.deepEqual(seqs(store.byRequestId('r2')), [2, 8]);
  assert.deepEqual(seqs(store.byRequestId('r7')), [7]);
  assert.deepEqual(store.byRequestId('missing'), []);
  store.close();
});

test('events returns admin rows only, newest first, by actor, action and time', () => {
  const store = sampleStore();
  assert.deepEqual(seqs(store.events({}, 10)), [9, 3]);
  assert.deepEqual(seqs(store.events({ user: 'alice' }, 10)), [3]);
  assert.deepEqual(seqs(store.events({ action: 'token.create' }, 10)), [9]);
  assert.deepEqual(seqs(store.events({ since: T0 + 3 * H }, 10)), [9]);
  assert.deepEqual(seqs(store.events({ until: T0 + 3 * H }, 10)), [3]);
  assert.deepEqual(seqs(store.events({ beforeSeq: 9 }, 10)), [3]);
  assert.deepEqual(seqs(store.events({}, 1)), [9]);
  store.close();
});

test('countByStatus counts requests per status in [since, until)', () => {
  const store = sampleStore();
  assert.deepEqual(store.countByStatus(T0, T0 + 24 * H), [
    { status: 200, count: 2 },
    { status: 201, count: 1 },
    { status: 404, count: 1 },
    { status: 429, count: 1 },
    { status: 502, count: 1 },
    { status: 503, count: 1 },
    { status: 504, count: 1 },
  ]);
  assert.deepEqual(store.countByStatus(T0 + 4 * H, T0 + 6 * H), [
    { status: 201, count: 1 },
    { status: 503, count: 1 },
  ]);
  assert.deepEqual(store.countByStatus(T0 + 100 * H, T0 + 200 * H), []);
  store.close();
});

// ---- newest first when ts and seq disagree

/** What `query` must return, computed the slow way. */
function reference(rows: StoredRow[], f: QueryFilters, limit: number): number[] {
  let cidr: BlockList | null = null;
  let exact: string | null = null;
  if (f.clientIp !== undefined) {
    const m = parseClientIp(f.clientIp);
    if (m.type === 'exact') exact = m.address;
    else cidr = m.list;
  }
  return rows
    .filter(
      (r) =>
        r.kind === 'request' &&
        (f.since === undefined || r.ts >= f.since) &&
        (f.until === undefined || r.ts < f.until) &&
        (f.status === undefined || (r.status! >= f.status.min && r.status! <= f.status.max)) &&
        (exact === null || r.clientIp === exact) &&
        (cidr === null || cidr.check(r.clientIp!, isIPv6(r.clientIp!) ? 'ipv6' : 'ipv4')) &&
        (f.route === undefined || r.route === f.route) &&
        (f.user === undefined || r.userName === f.user) &&
        (f.beforeSeq === undefined || r.seq < f.beforeSeq),
    )
    .map((r) => r.seq)
    .sort((a, b) => b - a)
    .slice(0, limit);
}

test('query is exactly newest-by-seq even when records arrive out of ts order', () => {
  let state = 42;
  const random = (): number => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const ips = ['10.0.0.1', '10.0.0.2', '10.1.2.3', '192.168.0.9', '2001:db8::1', '2001:db8:5::2'];
  const rows: StoredRow[] = [];
  for (let seq = 1; seq <= 3000; seq++) {
    // Mostly in order, some records up to 2 s late, a few 30 s late.
    const late = random() < 0.02 ? 30_000 : random() * 2000;
    const ts = T0 + seq * 100 - Math.floor(late);
    if (random() < 0.05) rows.push(admin(seq, ts, pick(['alice', 'bob']), 'config.update'));
    else {
      rows.push(
        request(seq, ts, {
          clientIp: pick(ips),
          status: pick([200, 200, 200, 204, 404, 502, 503]),
          route: pick(['api', 'web']),
          userName: pick([null, 'alice', 'bob']),
        }),
      );
    }
  }
  const store = openStore(path.join(tempDir(), 'audit.db'));
  for (let i = 0; i < rows.length; i += 250) store.insertBatch(rows.slice(i, i + 250));
  let newest = Number.NEGATIVE_INFINITY;
  let worst = 0;
  for (const r of rows) {
    worst = Math.max(worst, newest - r.ts);
    newest = Math.max(newest, r.ts);
  }
  assert.ok(worst > 29_000);
  assert.equal(Number(store.meta('store.ts_lag_ms')), worst, 'the store recorded the worst lag');
  const filterSets: QueryFilters[] = [
    {},
    { route: 'web' },
    { status: { min: 500, max: 599 } },
    { status: { min: 200, max: 299 }, route: 'api' },
    { clientIp: '10.0.0.0/8' },
    { clientIp: '2001:db8::/32', user: 'bob' },
    { clientIp: '10.0.0.2' },
    { user: 'alice', status: { min: 404, max: 404 } },
  ];
  let checked = 0;
  for (const base of filterSets) {
    for (let i = 0; i < 12; i++) {
      const f: QueryFilters = { ...base };
      if (random() < 0.5) f.since = T0 + Math.floor(random() * 300_000);
      if (random() < 0.4) f.until = T0 + Math.floor(random() * 300_000);
      if (random() < 0.3) f.beforeSeq = 1 + Math.floor(random() * 3000);
      const limit = pick([1, 5, 37, 100, 500]);
      assert.deepEqual(seqs(store.query(f, limit)), reference(rows, f, limit), JSON.stringify({ f, limit }));
      checked++;
    }
  }
  assert.equal(checked, 96);
  store.close();
});

// ---- checkpoints, cursors, meta

test('checkpoints are kept in seq order; the last one is the highest', () => {
  const store = sampleStore();
  assert.equal(store.lastCheckpoint(), null);
  const c = (seq: number, reason: string) => ({
    seq,
    hash: `h${seq}`,
    ts: T0 + seq,
    signature: `s${seq}`,
    reason,
  });
  store.addCheckpoint(c(4, 'interval'));
  store.addCheckpoint(c(9, 'interval'));
  store.addCheckpoint(c(10, 'shutdown'));
  assert.deepEqual(store.checkpoints(), [c(4, 'interval'), c(9, 'interval'), c(10, 'shutdown')]);
  assert.deepEqual(store.lastCheckpoint(), c(10, 'shutdown'));
  store.close();
});

test('cursors start at 0 and keep the last value set; meta keeps strings', () => {
  let now = 1000;
  const file = path.join(tempDir(), 'audit.db');
  const store = openStore(file, { now: () => now });
  assert.equal(store.cursor('jsonl'), 0);
  store.setCursor('jsonl', 5);
  now = 2000;
  store.setCursor('jsonl', 9);
  store.setCursor('combined', 3);
  assert.equal(store.cursor('jsonl'), 9);
  assert.equal(store.cursor('combined'), 3);
  assert.equal(store.meta('instance'), null);
  store.setMeta('instance', 'tg-1');
  store.setMeta('instance', 'tg-2');
  assert.equal(store.meta('instance'), 'tg-2');
  store.close();
  const db = new Database(file, { readonly: true });
  assert.deepEqual(db.prepare("SELECT seq, updated_at FROM cursors WHERE sink = 'jsonl'").get(), {
    seq: 9,
    updated_at: 2000,
  });
  db.close();
});

// ---- retention

test('prune deletes the oldest rows in batches and anchors the chain at the last one deleted', () => {
  const store = openStore(path.join(tempDir(), 'audit.db'));
  store.insertBatch(Array.from({ length: 25 }, (_, i) => request(i + 1, T0 + (i + 1) * 1000)));
  const signed: { seq: number; hash: string }[] = [];
  const sign = (last: { seq: number; hash: string }) => {
    signed.push(last);
    return { ts: T0 + 99, signature: `sig-${last.seq}` };
  };
  // Rows 1..17 have ts < T0 + 18000.
  assert.equal(store.prune(T0 + 18_000, 5, sign), 17);
  assert.deepEqual(
    signed.map((s) => s.seq),
    [5, 10, 15, 17],
    'one signed anchor per batch',
  );
  assert.equal(store.firstSeq(), 18);
  assert.deepEqual(store.anchor(), { seq: 17, hash: request(17, 0).hash, ts: T0 + 99, signature: 'sig-17' });
  assert.equal(store.count(), 8);
  assert.ok(
    store.rowsFrom(1, 100).every((r) => r.ts >= T0 + 18_000),
    'nothing newer than beforeTs is gone',
  );
  assert.equal(store.prune(T0 + 18_000, 5, sign), 0, 'nothing more to prune');
  store.close();
});

test('prune keeps the chain gap-free: it stops at the first record not older than beforeTs', () => {
  const store = openStore(path.join(tempDir(), 'audit.db'));
  store.insertBatch([
    request(1, T0 + 1000),
    request(2, T0 + 5000),
    request(3, T0 + 2000), // old, but behind a newer record: kept for now
    request(4, T0 + 6000),
  ]);
  const sign = () => ({ ts: T0, signature: 'sig' });
  assert.equal(store.prune(T0 + 3000, 100, sign), 1);
  assert.deepEqual(seqs(store.rowsFrom(1, 10)), [2, 3, 4]);
  assert.equal(store.anchor()?.seq, 1);
  store.close();
});

test('prune stops after maxBatches, and a pruned-empty store continues its chain from the anchor', () => {
  const store = openStore(path.join(tempDir(), 'audit.db'));
  store.insertBatch(Array.from({ length: 10 }, (_, i) => request(i + 1, T0 + i)));
  const sign = (last: { seq: number }) => ({ ts: T0, signature: `sig-${last.seq}` });
  assert.equal(store.prune(T0 + 100, 3, sign, 2), 6);
  assert.equal(store.firstSeq(), 7);
  assert.equal(store.prune(T0 + 100, 3, sign), 4);
  assert.equal(store.count(), 0);
  assert.deepEqual(store.last(), { seq: 10, hash: request(10, 0).hash });
  assert.deepEqual(store.anchor(), { seq: 10, hash: request(10, 0).hash, ts: T0, signature: 'sig-10' });
  store.close();
});

test('prune never deletes past maxSeq: a record a sink has not shipped stays, however old', () => {
  const store = openStore(path.join(tempDir(), 'audit.db'));
  store.insertBatch(Array.from({ length: 10 }, (_, i) => request(i + 1, T0 + i)));
  const sign = (last: { seq: number }) => ({ ts: T0, signature: `sig-${last.seq}` });
  assert.equal(store.prune(T0 + 100, 3, sign, Number.POSITIVE_INFINITY, 4), 4);
  assert.equal(store.firstSeq(), 5);
  assert.equal(store.prune(T0 + 100, 3, sign, Number.POSITIVE_INFINITY, 4), 0, 'seq 5 waits for its sink');
  assert.equal(store.prune(T0 + 100, 3, sign, Number.POSITIVE_INFINITY, 10), 6);
  store.close();
});

test('a sign callback that throws deletes nothing', () => {
  const store = sampleStore();
  assert.throws(() =>
    store.prune(T0 + 100 * H, 100, () => {
      throw new Error('no key');
    }),
  );
  assert.equal(store.count(), 10);
  assert.equal(store.anchor(), null);
  store.close();
});

// ---- readers beside the writer

test('a read-only connection reads while a writer connection keeps inserting (WAL)', () => {
  const file = path.join(tempDir(), 'audit.db');
  const writer = openStore(file);
  writer.insertBatch([request(1, T0)]);
  const reader = openStore(file, { readonly: true });
  let seq = 1;
  for (let round = 0; round < 20; round++) {
    const batch = Array.from({ length: 50 }, () => request(++seq, T0 + seq));
    writer.insertBatch(batch);
    assert.equal(reader.count(), seq, 'the reader sees every committed batch');
    assert.equal(reader.query({}, 1)[0]?.seq, seq);
  }
  assertCode(() => reader.setCursor('x', 1), 'TG_ERR_STORE_WRITE', 'read-only');
  reader.close();
  writer.close();
  // With the writer gone (and its -wal/-shm files removed), readers still open the store.
  const later = openStore(file, { readonly: true });
  assert.equal(later.count(), seq);
  later.close();
});

test('a read-only connection reads while a writer in another process commits', async () => {
  const file = path.join(tempDir(), 'audit.db');
  openStore(file).close();
  const storeModule = path.join(path.dirname(fileURLToPath(import.meta.url)), 'index.ts');
  const script = `
    const { openStore } = await import(${JSON.stringify(storeModule)});
    const store = openStore(${JSON.stringify(file)});
    let seq = 0;
    for (let b = 0; b < 60; b++) {
      const rows = [];
      for (let i = 0; i < 200; i++) {
        seq++;
        rows.push({ seq, kind: 'request', ts: ${T0} + seq, rec: 'x'.repeat(500), hash: 'h', requestId: 'r' + seq,
          clientIp: '10.0.0.' + (seq % 5), status: 200, route: 'api', backend: 'api-1', termination: 'ok',
          userName: null, action: null });
      }
      store.insertBatch(rows);
      if (b === 0) process.stdout.write('first\\n');
      await new Promise((r) => setTimeout(r, 5));
    }
    store.close();
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`writer exited early (${code})`)));
  });
  const reader = openStore(file, { readonly: true });
  const counts: number[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  while (!done) {
    counts.push(reader.count());
    assert.equal(reader.query({ clientIp: '10.0.0.0/24' }, 5).length, 5);
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(await exited, 0);
  counts.push(reader.count());
  reader.close();
  assert.equal(counts.at(-1), 12_000);
  assert.ok(
    new Set(counts).size > 2,
    `the reader saw the store grow while the writer ran: ${counts.join(',')}`,
  );
  assert.deepEqual(
    counts,
    [...counts].sort((a, b) => a - b),
  );
});

// ---- query plans

function plan(store: Store, sql: string, params: unknown[]): string[] {
  // The store's own connection is private; a second read-only connection sees the same schema.
  const db = new Database(store.file, { readonly: true });
  try {
    return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map(
      (r) => r.detail,
    );
  } finally {
    db.close();
  }
}

test('one client IP or user + since: each run is a seek in run_keys, the tail a rowid range, never a scan', () => {
  const store = sampleStore();
  const where = requestWhere({ since: T0, route: 'api' }, null);
  const run = plan(store, runSql(where), [0, 'i10.0.0.1', ...where.params, 100]);
  assert.ok(
    run.some((d) => d.includes('SEARCH run_keys USING PRIMARY KEY (run=? AND key=?)')),
    run.join('\n'),
  );
  assert.ok(
    run.some((d) => d.includes('SEARCH records USING INTEGER PRIMARY KEY (rowid=?)')),
    run.join('\n'),
  );
  assert.ok(!run.some((d) => /^SCAN /.test(d) || d.includes('TEMP B-TREE')), run.join('\n'));
  const all = requestWhere({ since: T0, route: 'api', user: 'bob' }, null);
  const tail = plan(store, tailSql(all), [0, ...all.params, 100]);
  assert.ok(
    tail.some((d) => d.includes('SEARCH records USING INTEGER PRIMARY KEY (rowid>?)')),
    tail.join('\n'),
  );
  assert.ok(!tail.some((d) => d.includes('TEMP B-TREE')), tail.join('\n'));
  store.close();
});

test('a status class + since merges one (status, ts) index range per status, never scanning', () => {
  const store = sampleStore();
  const where = requestWhere({ since: T0 }, null);
  const details = plan(store, streamSql(where, false, 3), [
    ...where.params,
    502,
    ...where.params,
    503,
    ...where.params,
    504,
  ]);
  assert.ok(
    details.some((d) => d.startsWith('MERGE (UNION ALL)')),
    details.join('\n'),
  );
  assert.ok(
    details.every((d) => !/^SCAN records\b/.test(d) && !d.includes('TEMP B-TREE')),
    details.join('\n'),
  );
  store.close();
});

test('time-only queries, filter queries and admin events each use an index, in time order', () => {
  const store = sampleStore();
  // route, backend, termination and user are read from the covering records_ts index: checked
  // on its entries while the time range is read newest first, without touching the table
  const cases: [QueryFilters, string][] = [
    [{}, 'COVERING INDEX records_ts (kind=?)'],
    [{ since: T0, until: T0 + H }, 'COVERING INDEX records_ts (kind=? AND ts>? AND ts<?)'],
    [{ user: 'bob', since: T0 }, 'COVERING INDEX records_ts (kind=? AND ts>?)'],
    [{ route: 'api', since: T0 }, 'COVERING INDEX records_ts (kind=? AND ts>?)'],
    [{ backend: 'api-1', since: T0 }, 'COVERING INDEX records_ts (kind=? AND ts>?)'],
    [{ termination: 'ok', since: T0 }, 'COVERING INDEX records_ts (kind=? AND ts>?)'],
    [
      { route: 'api', backend: 'api-1', termination: 'ok', user: 'bob' },
      'COVERING INDEX records_ts (kind=?)',
    ],
    [{ requestId: 'r2' }, 'COVERING INDEX records_request_id_ts (request_id=?)'],
  ];
  for (const [filters, index] of cases) {
    const where = requestWhere(filters, null);
    const details = plan(store, streamSql(where, false, 0), where.params);
    assert.ok(
      details.some((d) => d.includes(index)),
      `${JSON.stringify(filters)}: ${details.join('; ')}`,
    );
    assert.ok(
      !details.some((d) => d.includes('TEMP B-TREE')),
      `${JSON.stringify(filters)}: ${details.join('; ')}`,
    );
  }
  const events = eventWhere({ action: 'config.update', since: T0 });
  const details = plan(store, streamSql(events, false, 0), events.params);
  assert.ok(
    details.some((d) => d.includes('INDEX records_ts (kind=? AND ts>?)')),
    details.join('; '),
  );
  assert.ok(!details.some((d) => d.includes('TEMP B-TREE')), details.join('; '));
  store.close();
});

test('a new store has the version-2 indexes and run tables, none of the six indexes version 2 dropped', () => {
  const store = sampleStore();
  const db = new Database(store.file, { readonly: true });
  const names = db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' AND sql IS NOT NULL ORDER BY name",
    )
    .pluck()
    .all();
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'run%' ORDER BY name")
    .pluck()
    .all();
  db.close();
  assert.deepEqual(names, ['records_request_id_ts', 'records_status_ts', 'records_ts']);
  assert.deepEqual(tables, ['run_keys', 'runs']);
  store.close();
});

test('key runs: client-IP and user queries over runs and the tail match a full scan; prune drops whole runs', () => {
  const store = openStore(path.join(tempDir(), 'audit.db'));
  const ips = ['10.0.0.1', '10.0.0.2', '192.168.1.5', '2001:db8::1', '203.0.113.7'];
  const all: StoredRow[] = [];
  const n = RUN_ROWS * 2 + 5000;
  for (let seq = 1; seq <= n; seq += 1000) {
    const batch: StoredRow[] = [];
    for (let s = seq; s < Math.min(n + 1, seq + 1000); s++) {
      // ts runs a little behind seq now and then, as records do
      const ts = T0 + s * 10 - (s % 97 === 0 ? 25 : 0);
      const row =
        s % 500 === 0
          ? admin(s, ts, 'alice', 'config.update')
          : request(s, ts, {
              clientIp: s % 7 === 0 ? '203.0.113.7' : ips[s % 4]!,
              route: s % 3 === 0 ? 'web' : 'api',
              userName: s % 5 === 0 ? null : `user-${s % 13}`,
              status: s % 11 === 0 ? 502 : 200,
            });
      batch.push(row);
      all.push(row);
    }
    store.insertBatch(batch);
  }
  const db = new Database(store.file, { readonly: true });
  const runs = db.prepare('SELECT first_seq, last_seq FROM runs ORDER BY run').raw().all();
  db.close();
  assert.equal(runs.length, 2, JSON.stringify(runs));
  const requests = all.filter((r) => r.kind === 'request');
  const check = (f: QueryFilters, limit: number, pred: (r: StoredRow) => boolean) => {
    const want = requests
      .filter(pred)
      .map((r) => r.seq)
      .reverse()
      .slice(0, limit);
    assert.deepEqual(seqs(store.query(f, limit)), want, JSON.stringify(f));
  };
  const mid = T0 + RUN_ROWS * 10;
  for (const limit of [1, 100, 5000, 100_000]) {
    check({ clientIp: '10.0.0.2' }, limit, (r) => r.clientIp === '10.0.0.2');
    check({ clientIp: '203.0.113.7', since: mid }, limit, (r) => r.clientIp === '203.0.113.7' && r.ts >= mid);
    check({ clientIp: '10.0.0.1', until: mid }, limit, (r) => r.clientIp === '10.0.0.1' && r.ts < mid);
    check(
      { clientIp: '192.168.1.5', route: 'web', beforeSeq: RUN_ROWS + 10 },
      limit,
      (r) => r.clientIp === '192.168.1.5' && r.route === 'web' && r.seq < RUN_ROWS + 10,
    );
    check(
      { clientIp: '10.0.0.1', status: { min: 502, max: 502 } },
      limit,
      (r) => r.clientIp === '10.0.0.1' && r.status === 502,
    );
    check(
      { clientIp: '203.0.113.7', status: { min: 500, max: 599 }, since: mid },
      limit,
      (r) => r.clientIp === '203.0.113.7' && r.status === 502 && r.ts >= mid,
    );
    check(
      { clientIp: '10.0.0.2', status: { min: 200, max: 299 }, user: 'user-2' },
      limit,
      (r) => r.clientIp === '10.0.0.2' && r.status === 200 && r.userName === 'user-2',
    );
  }
  check({ clientIp: '10.9.9.9' }, 100, () => false);
  for (const limit of [1, 100, 5000, 100_000]) {
    check({ user: 'user-3' }, limit, (r) => r.userName === 'user-3');
    check(
      { user: 'user-4', since: mid, route: 'web' },
      limit,
      (r) => r.userName === 'user-4' && r.ts >= mid && r.route === 'web',
    );
    check(
      { user: 'user-5', clientIp: '10.0.0.1' },
      limit,
      (r) => r.userName === 'user-5' && r.clientIp === '10.0.0.1',
    );
    check(
      { user: 'user-6', clientIp: '10.0.0.0/24' },
      limit,
      (r) => r.userName === 'user-6' && r.clientIp!.startsWith('10.0.0.'),
    );
    check(
      { user: 'user-7', until: mid, beforeSeq: RUN_ROWS * 2 },
      limit,
      (r) => r.userName === 'user-7' && r.ts < mid && r.seq < RUN_ROWS * 2,
    );
  }
  check({ user: 'nobody' }, 100, () => false);
  // prune into the second run: the first run goes, the second stays until its last record goes
  const firstRunEnd = (runs[0] as number[])[1]!;
  const cut = all[firstRunEnd + 100]!.ts;
  const sign = () => ({ ts: T0, signature: 'sig' });
  assert.ok(store.prune(cut, 1000, sign) > firstRunEnd);
  const after = new Database(store.file, { readonly: true });
  const left = after.prepare('SELECT count(*) FROM runs').pluck().get();
  after.close();
  assert.equal(left, 1);
  const first = store.firstSeq()!;
  check({ clientIp: '10.0.0.2' }, 100_000, (r) => r.clientIp === '10.0.0.2' && r.seq >= first);
  check({ clientIp: '10.0.0.2', since: T0 }, 10, (r) => r.clientIp === '10.0.0.2' && r.seq >= first);
  check({ user: 'user-3' }, 100_000, (r) => r.userName === 'user-3' && r.seq >= first);
  store.close();
});

test('key runs written from the rows in memory equal the runs read back from the table', () => {
  const rowsFor = (from: number, to: number): StoredRow[] => {
    const batch: StoredRow[] = [];
    for (let s = from; s < to; s++) {
      const ts = T0 + s * 10 - (s % 89 === 0 ? 40 : 0);
      batch.push(
        s % 301 === 0
          ? admin(s, ts, 'alice', 'config.update')
          : request(s, ts, {
              clientIp: s % 9 === 0 ? null : `10.${s % 3}.${(s >> 4) % 256}.${s % 250}`,
              userName: s % 4 === 0 ? null : `user-${s % 17}`,
            }),
      );
    }
    return batch;
  };
  const n = RUN_ROWS * 3 + 700;
  const step = 2048;
  // a: one connection throughout (runs from memory), with one failed batch in between, after which
  // the next run is read from the table; b: reopened before every batch (always from the table)
  const a = openStore(path.join(tempDir(), 'audit.db'));
  const bFile = path.join(tempDir(), 'audit.db');
  for (let seq = 1; seq <= n; seq += step) {
    const batch = rowsFor(seq, Math.min(n + 1, seq + step));
    if (seq === 1 + step * 9) {
      // a duplicate seq fails the transaction after its rows went into the in-memory run
      assert.throws(() => a.insertBatch([...batch, { ...batch[0]! }]));
    }
    a.insertBatch(batch);
    const b = openStore(bFile);
    b.insertBatch(batch);
    b.close();
  }
  const dump = (file: string) => {
    const db = new Database(file, { readonly: true });
    const out = {
      runs: db.prepare('SELECT * FROM runs ORDER BY run').raw().all(),
      keys: db.prepare('SELECT run, key, rseq FROM run_keys ORDER BY run, key, rseq').raw().all(),
    };
    db.close();
    return out;
  };
  const got = dump(a.file);
  const want = dump(bFile);
  assert.equal(got.runs.length, 3);
  assert.deepEqual(got.runs, want.runs);
  assert.equal(got.keys.length, want.keys.length);
  assert.deepEqual(got.keys, want.keys);
  a.close();
});

test('countByStatus over a day uses the (status, ts) index, never a scan of records', () => {
  const store = sampleStore();
  const details = plan(store, COUNT_BY_STATUS, [{ since: T0, until: T0 + 24 * H }]);
  assert.ok(
    details.some((d) => d.includes('records_status_ts (status=? AND ts>? AND ts<?)')),
    details.join('\n'),
  );
  assert.ok(!details.some((d) => /^SCAN records\b/.test(d)), details.join('\n'));
  store.close();
});
