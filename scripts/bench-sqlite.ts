/**
 * SQLite micro-benchmarks behind docs/benchmarks.md (not a test): the audit store's rows through
 * better-sqlite3 with variants of schema, pragmas and statements, each variant in a fresh file,
 * variants interleaved round by round; prints medians of wall and CPU rows/s and the ratio to
 * the first variant of the group.
 *   node --import tsx scripts/bench-sqlite.ts GROUP [ROWS] [ROUNDS]
 * GROUP: width (record size, indexes, sync, memory), indexes (one index at a time),
 * schema (version 1 against version 2's indexes, the record text, one client address),
 * checkpoint (wal_autocheckpoint: rows/s and the longest transaction), floor (what each part of
 * the writer's per-record work costs: the chain hash in the timed loop, the table with and
 * without the record text, each index of schema version 3, page size, WITHOUT ROWID, memory).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { chainHash, GENESIS } from '../src/audit/chain.js';

const [group = 'width', rowsArg, roundsArg] = process.argv.slice(2);
const N = Number(rowsArg ?? 60_000);
const ROUNDS = Number(roundsArg ?? 3);

interface Row {
  seq: number;
  ts: number;
  rec: string;
  hash: string;
  requestId: string;
  clientIp: string;
  status: number;
  route: string;
  backend: string;
  userName: string | null;
}

let state = 0x5eed;
function random(): number {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

/** ~1,450-byte records like the writer's, ~1,000 client addresses (30% on one), time-ordered ids. */
function makeRows(n: number): Row[] {
  const rows: Row[] = [];
  let prev = '0'.repeat(64);
  const base = Date.UTC(2025, 5, 1);
  for (let seq = 1; seq <= n; seq++) {
    const ts = base + seq * 3;
    const id =
      ts.toString(16).padStart(12, '0') +
      Math.floor(random() * 2 ** 32)
        .toString(16)
        .padStart(20, '0');
    const c = Math.floor(random() * 1000);
    const ip = random() < 0.3 ? '203.0.113.7' : `10.${c % 4}.${(c >> 2) % 256}.${((c * 7) % 254) + 1}`;
    const status = random() < 0.8 ? 200 : [201, 404, 502, 503][Math.floor(random() * 4)]!;
    const route = ['api', 'web', 'static', 'auth', 'search'][Math.floor(random() * 5)]!;
    const backend = `${route}-${1 + Math.floor(random() * 3)}`;
    const user = random() < 0.5 ? null : `user-${Math.floor(random() * 200)}`;
    const at = new Date(ts).toISOString();
    const rec =
      `{"schema":"tollgate.request/1","@timestamp":"${at}","event":{"start":"${at}","end":"${at}","duration":12000000},` +
      `"http":{"request":{"id":"${id}","method":"GET","header":{"user-agent":"${UA}","x-request-id":"${id}"},"body":{"size":0}},` +
      `"response":{"status_code":${status},"body":{"size":${(seq * 37) % 20000}}}},"trace":{"id":"4bf92f3577b34da6a3ce929d0e0e4736"},` +
      `"span":{"id":"00f067aa0ba902b7"},"client":{"address":"${ip}","port":${40000 + (seq % 20000)}},` +
      `"network":{"peer":{"address":"${ip}","port":${40000 + (seq % 20000)}}},"user_agent":{"original":"${UA}"},` +
      `"url":{"path":"/v1/orders/${seq % 1000}","query":"page=2&token=REDACTED"},"server":{"address":"api.example.com","port":443},` +
      `"tls":{"protocol":{"version":"1.3"},"cipher":"TLS_AES_128_GCM_SHA256","server_name":"api.example.com"},` +
      `"user":{"name":${user === null ? 'null' : `"${user}"`}},"error":{"type":null,"message":null},` +
      `"tollgate":{"identity":{"method":"anonymous"},"listener":"public","route":"${route}","pool":"${route}","owner":"team-${route}",` +
      `"tags":{"env":"prod"},"backend":{"name":"${backend}","address":"127.0.0.1:${9000 + (seq % 30)}"},"upstream":{"status_code":${status}},` +
      `"timings":{"queue":0.01,"connect":0.4,"upstream_headers":9.8,"upstream_total":11.2},"attempts":[{"backend":"${backend}",` +
      `"address":"127.0.0.1:${9000 + (seq % 30)}","start":"${at}","connect_ms":0.4,"duration_ms":11.2,"status_code":${status},` +
      `"termination":"ok","error":null}],"termination":"ok","upgrade":false,"instance":"tg-bench-1","chain":{"seq":${seq},"hash":null}}}`;
    prev = createHash('sha256').update(prev, 'hex').update(rec).digest('hex');
    rows.push({
      seq,
      ts,
      rec,
      hash: prev,
      requestId: id,
      clientIp: ip,
      status,
      route,
      backend,
      userName: user,
    });
  }
  return rows;
}

const TABLE = `CREATE TABLE records (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, ts INTEGER NOT NULL,
  rec TEXT NOT NULL, hash TEXT NOT NULL, request_id TEXT, client_ip TEXT, status INTEGER, route TEXT,
  backend TEXT, termination TEXT, user_name TEXT, action TEXT)`;
const partial = (column: string) =>
  `CREATE INDEX i_${column} ON records(${column}, ts) WHERE kind = 'request';`;
const V1 = [
  'CREATE INDEX i_kind ON records(kind, ts);',
  ...['client_ip', 'status', 'route', 'backend', 'termination', 'user_name', 'request_id'].map(partial),
].join('\n');
const COVER = 'CREATE INDEX i_cover ON records(kind, ts, route, backend, termination, user_name);';
const V2 = [COVER, partial('status'), partial('request_id')].join('\n');
/** Schema version 3's indexes on records (the key runs are not written here). */
const V3 = V2;

interface Variant {
  name: string;
  indexes: string;
  page?: number;
  sync?: string;
  memory?: boolean;
  autocheckpoint?: number;
  /** Rows per INSERT statement. */
  perStatement?: number;
  /** Rows per transaction. */
  tx?: number;
  map?: (r: Row) => Row;
  /** Compute each row's chain hash in the timed loop, as the writer does. */
  chain?: boolean;
  withoutRowid?: boolean;
}

const VARIANTS: Record<string, Variant[]> = {
  width: [
    { name: 'version 1, 8 indexes', indexes: V1 },
    { name: 'no index', indexes: '' },
    { name: 'no index, records of 230 B', indexes: '', map: (r) => ({ ...r, rec: r.rec.slice(0, 230) }) },
    { name: '8 indexes, records of 230 B', indexes: V1, map: (r) => ({ ...r, rec: r.rec.slice(0, 230) }) },
    { name: 'no index, 4 KiB pages', indexes: '', page: 4096 },
    { name: 'no index, synchronous=OFF', indexes: '', sync: 'OFF' },
    { name: 'no index, in memory', indexes: '', memory: true },
    { name: '8 indexes, in memory', indexes: V1, memory: true },
  ],
  indexes: [
    { name: 'no index', indexes: '' },
    { name: '+ (kind, ts)', indexes: 'CREATE INDEX i_kind ON records(kind, ts);' },
    { name: '+ client_ip', indexes: partial('client_ip') },
    { name: '+ status', indexes: partial('status') },
    { name: '+ user_name', indexes: partial('user_name') },
    { name: '+ request_id', indexes: partial('request_id') },
    { name: '+ route', indexes: partial('route') },
    { name: '+ covering (kind, ts, route, backend, termination, user)', indexes: COVER },
    { name: 'all 8 of version 1', indexes: V1 },
  ],
  schema: [
    { name: 'version 1, 8 indexes, 1 row per INSERT', indexes: V1 },
    { name: 'version 2 indexes (client IPs, users in runs: not here)', indexes: V2, perStatement: 32 },
    {
      name: 'version 2 + a (client_ip, ts) index',
      indexes: `${V2}\n${partial('client_ip')}`,
      perStatement: 32,
    },
    { name: 'version 2, rec emptied', indexes: V2, perStatement: 32, map: (r) => ({ ...r, rec: '' }) },
    { name: 'version 2, in memory', indexes: V2, perStatement: 32, memory: true },
    { name: 'table only', indexes: '', perStatement: 32 },
    { name: 'table only, rec emptied', indexes: '', perStatement: 32, map: (r) => ({ ...r, rec: '' }) },
  ],
  floor: [
    { name: 'version 3 indexes, chain hash', indexes: V3, perStatement: 32, chain: true },
    { name: 'version 3 indexes, no hash', indexes: V3, perStatement: 32 },
    {
      name: 'covering + request id (no status index), chain',
      indexes: [COVER, partial('request_id')].join('\n'),
      perStatement: 32,
      chain: true,
    },
    {
      name: 'covering + status (no request id index), chain',
      indexes: [COVER, partial('status')].join('\n'),
      perStatement: 32,
      chain: true,
    },
    { name: 'covering only, chain', indexes: COVER, perStatement: 32, chain: true },
    { name: 'table alone, chain', indexes: '', perStatement: 32, chain: true },
    {
      name: 'table alone, rec emptied, chain',
      indexes: '',
      perStatement: 32,
      chain: true,
      map: (r) => ({ ...r, rec: '' }),
    },
    {
      name: 'table alone, rec emptied, no hash',
      indexes: '',
      perStatement: 32,
      map: (r) => ({ ...r, rec: '' }),
    },
    { name: 'version 3, chain, in memory', indexes: V3, perStatement: 32, chain: true, memory: true },
    {
      name: 'version 3, chain, synchronous=OFF (not usable)',
      indexes: V3,
      perStatement: 32,
      chain: true,
      sync: 'OFF',
    },
    { name: 'version 3, chain, 64 KiB pages', indexes: V3, perStatement: 32, chain: true, page: 65536 },
    { name: 'version 3, chain, 4 KiB pages', indexes: V3, perStatement: 32, chain: true, page: 4096 },
    {
      name: 'version 3, chain, WITHOUT ROWID',
      indexes: V3,
      perStatement: 32,
      chain: true,
      withoutRowid: true,
    },
    {
      name: 'version 3, chain, 8,192-row transactions',
      indexes: V3,
      perStatement: 32,
      chain: true,
      tx: 8192,
    },
    { name: 'version 3, chain, 512-row transactions', indexes: V3, perStatement: 32, chain: true, tx: 512 },
  ],
  checkpoint: [
    { name: 'wal_autocheckpoint 1000', indexes: V2, autocheckpoint: 1000, tx: 300 },
    { name: 'wal_autocheckpoint 2048', indexes: V2, autocheckpoint: 2048, tx: 300 },
    { name: 'wal_autocheckpoint 4096', indexes: V2, autocheckpoint: 4096, tx: 300 },
  ],
};

const variants = VARIANTS[group];
if (variants === undefined) throw new Error(`GROUP must be one of ${Object.keys(VARIANTS).join(', ')}`);
const rows = makeRows(N);
const COLUMNS = 13;

function run(v: Variant): { wall: number; cpu: number; longestTx: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-bench-sqlite-'));
  const db = new Database(v.memory === true ? ':memory:' : path.join(dir, 'a.db'));
  if (v.memory !== true) {
    db.pragma(`page_size = ${v.page ?? 16_384}`);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${v.sync ?? 'NORMAL'}`);
    db.pragma(`wal_autocheckpoint = ${v.autocheckpoint ?? 1000}`);
  }
  db.pragma('cache_size = -65536');
  db.exec(
    v.withoutRowid === true
      ? `${TABLE.replace('seq INTEGER PRIMARY KEY', 'seq INTEGER PRIMARY KEY NOT NULL')} WITHOUT ROWID`
      : TABLE,
  );
  db.exec(v.indexes);
  const per = v.perStatement ?? 1;
  const values = `(${Array(COLUMNS).fill('?').join(',')})`;
  const many = db.prepare(`INSERT INTO records VALUES ${Array(per).fill(values).join(',')}`);
  const one = db.prepare(`INSERT INTO records VALUES ${values}`);
  const args: unknown[] = new Array(COLUMNS * per);
  const single: unknown[] = new Array(COLUMNS);
  const bind = (a: unknown[], at: number, r: Row): void => {
    const cells = [
      r.seq,
      'request',
      r.ts,
      r.rec,
      r.hash,
      r.requestId,
      r.clientIp,
      r.status,
      r.route,
      r.backend,
      'ok',
      r.userName,
      null,
    ];
    for (let k = 0; k < COLUMNS; k++) a[at + k] = cells[k];
  };
  let prev = GENESIS;
  const insert = db.transaction((batch: Row[]) => {
    if (v.chain === true)
      for (const r of batch) {
        prev = chainHash(prev, r.rec);
        r.hash = prev;
      }
    let i = 0;
    if (per > 1)
      for (; i + per <= batch.length; i += per) {
        for (let k = 0; k < per; k++) bind(args, k * COLUMNS, batch[i + k]!);
        many.run(args);
      }
    for (; i < batch.length; i++) {
      bind(single, 0, batch[i]!);
      one.run(single);
    }
  });
  const source = v.map === undefined ? rows.map((r) => ({ ...r })) : rows.map(v.map);
  const tx = v.tx ?? 2000;
  let longestTx = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < source.length; i += tx) {
    const a = performance.now();
    insert(source.slice(i, i + tx));
    longestTx = Math.max(longestTx, performance.now() - a);
  }
  db.close(); // includes the last checkpoint
  const wall = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu0);
  fs.rmSync(dir, { recursive: true, force: true });
  return { wall: source.length / wall, cpu: source.length / ((used.user + used.system) / 1e6), longestTx };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results = new Map(variants.map((v) => [v.name, [] as ReturnType<typeof run>[]]));
for (let round = 0; round < ROUNDS; round++) for (const v of variants) results.get(v.name)!.push(run(v));
const first = results.get(variants[0]!.name)!;
const w0 = median(first.map((r) => r.wall));
const c0 = median(first.map((r) => r.cpu));
console.log(
  `${group}: ${N.toLocaleString('en')} rows, ${ROUNDS} rounds interleaved, medians (${os.cpus().length} cores)`,
);
for (const v of variants) {
  const rs = results.get(v.name)!;
  const w = median(rs.map((r) => r.wall));
  const c = median(rs.map((r) => r.cpu));
  console.log(
    `${v.name.padEnd(58)} ${Math.round(w).toLocaleString('en').padStart(9)} rows/s ×${(w / w0).toFixed(2)}` +
      `  CPU ${Math.round(c).toLocaleString('en').padStart(9)} rows/s ×${(c / c0).toFixed(2)}` +
      `  longest transaction ${median(rs.map((r) => r.longestTx)).toFixed(0)} ms`,
  );
}
