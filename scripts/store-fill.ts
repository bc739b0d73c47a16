/**
 * The synthetic request rows of the store benchmarks (scripts/bench-store.ts,
 * scripts/bench-report.ts): `fill(store, N)` inserts N request rows spread over the 7 days
 * before NOW, from a deterministic PRNG, so runs are comparable.
 */
import type { Store, StoredRow } from '../src/store/index.js';

export const DAY = 86_400_000;
export const NOW = Date.UTC(2025, 5, 1, 12);
export const START = NOW - 7 * DAY;
const TX_ROWS = 10_000;

// A small deterministic PRNG (mulberry32), so runs are comparable.
let state = 0x5eed;
function random(): number {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function pick<T>(items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

// ~1,000 clients: 5 hot ones take 30% of the traffic; a tenth of the rest are IPv6.
export const HOT = ['203.0.113.7', '198.51.100.23', '192.0.2.150', '10.20.30.40', '2001:db8:4::17'];
export const CLIENTS = Array.from({ length: 995 }, (_, i) =>
  i % 10 === 9
    ? `2001:db8:${(i % 7).toString(16)}::${(i + 1).toString(16)}`
    : `10.${i % 4}.${(i >> 2) % 256}.${((i * 7) % 254) + 1}`,
);
function client(): string {
  return random() < 0.3 ? pick(HOT) : pick(CLIENTS);
}

const STATUSES: readonly [number, string][] = [
  [200, 'ok'],
  [201, 'ok'],
  [204, 'ok'],
  [304, 'ok'],
  [404, 'ok'],
  [401, 'auth_failed'],
  [429, 'rate_limited'],
  [499, 'client_aborted'],
  [502, 'upstream_connect_refused'],
  [503, 'no_healthy_backend'],
  [504, 'upstream_response_timeout'],
];
const STATUS_WEIGHTS = [0.8, 0.06, 0.06, 0.02, 0.025, 0.008, 0.007, 0.005, 0.006, 0.005, 0.004];
function status(): [number, string] {
  let r = random();
  for (let i = 0; i < STATUSES.length; i++) {
    r -= STATUS_WEIGHTS[i]!;
    if (r < 0) return STATUSES[i]!;
  }
  return STATUSES[0]!;
}

const ROUTES = [
  'api',
  'web',
  'static',
  'auth',
  'admin-ui',
  'search',
  'uploads',
  'payments',
  'reports',
  'health',
];
const USERS = Array.from({ length: 200 }, (_, i) => `user-${i}`);
const PATHS = [
  '/v1/orders',
  '/v1/orders/8812',
  '/v1/search',
  '/static/app.js',
  '/login',
  '/v1/payments/charge',
];

function randomHex32(): string {
  let out = '';
  for (let i = 0; i < 4; i++)
    out += Math.floor(random() * 2 ** 32)
      .toString(16)
      .padStart(8, '0');
  return out;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

function record(
  seq: number,
  ts: number,
  id: string,
  ip: string,
  code: number,
  term: string,
  route: string,
  backend: string,
  user: string | null,
): string {
  const start = new Date(ts - 12).toISOString().replace('Z', '000Z');
  const end = new Date(ts).toISOString().replace('Z', '000Z');
  const ua = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
  return `{"schema":"tollgate.request/1","http":{"request":{"id":"${id}","method":"GET","header":{"user-agent":"${ua}","x-request-id":"${id}"},"body":{"size":0}},"response":{"status_code":${code},"body":{"size":${(seq * 37) % 20000}}}},"trace":{"id":"${id}"},"span":{"id":"${id.slice(0, 16)}"},"event":{"start":"${start}","end":"${end}","duration":12000000},"client":{"address":"${ip}","port":${40000 + (seq % 20000)}},"network":{"peer":{"address":"${ip}","port":${40000 + (seq % 20000)}}},"user_agent":{"original":"${ua}"},"url":{"path":"${pick(PATHS)}","query":"page=2&token=REDACTED"},"server":{"address":"api.example.com","port":443},"tls":{"protocol":{"version":"1.3"},"cipher":"TLS_AES_128_GCM_SHA256","server_name":"api.example.com"},"user":{"name":${user === null ? 'null' : `"${user}"`}},"error":{"type":${term === 'ok' ? 'null' : `"${term}"`},"message":${term === 'ok' ? 'null' : '"backend api-3 (127.0.0.1:9003) refused the connection after 0.4 ms"'}},"tollgate":{"identity":{"method":"${user === null ? 'anonymous' : 'jwt'}"},"listener":"public","route":"${route}","pool":"${route}","owner":"team-${route}","tags":{"env":"prod"},"backend":{"name":"${backend}","address":"127.0.0.1:${9000 + (seq % 30)}"},"upstream":{"status_code":${code}},"timings":{"queue":0.01,"connect":0.4,"upstream_headers":9.8,"upstream_total":11.2},"attempts":[{"backend":"${backend}","address":"127.0.0.1:${9000 + (seq % 30)}","start":"${start}","connect_ms":0.4,"duration_ms":11.2,"status_code":${code},"termination":"${term}","error":null}],"termination":"${term}","instance":"tg-bench-1","chain":{"seq":${seq},"hash":null}}}`;
}

export function fill(store: Store, N: number): { seconds: number; insertSeconds: number; bytes: number } {
  const began = process.hrtime.bigint();
  let inserting = 0n;
  const insert = (batch: StoredRow[]): void => {
    const t0 = process.hrtime.bigint();
    store.insertBatch(batch);
    inserting += process.hrtime.bigint() - t0;
  };
  let bytes = 0;
  let rows: StoredRow[] = [];
  const step = (NOW - START) / N;
  for (let seq = 1; seq <= N; seq++) {
    // Writers sequence records in completion order, so ts rises with seq, give or take a few ms.
    const ts = Math.floor(START + seq * step - random() * 5);
    // Request ids sort by time, like core's newRequestId: 12 hex digits of ms, then 20 random.
    const id = hex(ts, 12) + randomHex32().slice(0, 20);
    const ip = client();
    const [code, term] = status();
    const route = pick(ROUTES);
    const backend = `${route}-${1 + Math.floor(random() * 3)}`;
    const user = random() < 0.5 ? null : pick(USERS);
    const rec = record(seq, ts, id, ip, code, term, route, backend, user);
    bytes += rec.length;
    rows.push({
      seq,
      kind: 'request',
      ts,
      rec,
      hash: hex(seq * 2654435761, 16).padEnd(64, 'a'),
      requestId: id,
      clientIp: ip,
      status: code,
      route,
      backend,
      termination: term,
      userName: user,
      action: null,
    });
    if (rows.length === TX_ROWS) {
      insert(rows);
      rows = [];
      if (seq % 500_000 === 0) process.stderr.write(`  ${seq.toLocaleString('en')} rows\n`);
    }
  }
  if (rows.length > 0) insert(rows);
  return {
    seconds: Number(process.hrtime.bigint() - began) / 1e9,
    insertSeconds: Number(inserting) / 1e9,
    bytes,
  };
}
