import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import type { RequestRecord } from '../../src/audit/index.js';
import { cli, cliAsync } from '../helpers/audit.js';
import type { TestBackend } from '../helpers/backends.js';
import { refusedAddress, startBackend } from '../helpers/backends.js';
import { buildDist } from '../helpers/process.js';
import { assertValidRecord } from '../helpers/schema.js';
import type { Harness } from '../helpers/tollgate.js';
import { startTollgate } from '../helpers/tollgate.js';

/**
 * `tollgate query` and `tollgate explain` against the store of a running Tollgate (issue 3,
 * "Deliver" 5; SPEC §1): each filter returns exactly the records of the requests the client
 * made that match it, in every format.
 */
interface Sent {
  id: string;
  path: string;
  status: number;
  /** The backend that answered, from the test backend's body; null when Tollgate answered itself. */
  backend: string | null;
  route: string | null;
  termination: string;
  ip: string;
  phase: 1 | 2;
}

const COLUMNS = [
  'time',
  'status',
  'method',
  'path',
  'client',
  'route',
  'backend',
  'termination',
  'ms',
  'request_id',
];

/** RFC 4180: quoted fields with "" escapes, CRLF or LF line ends. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) rows.push([...row, cell]);
  return rows;
}

const sorted = (ids: Iterable<string>) => [...ids].sort();

describe('audit trail: query and explain', () => {
  let b1: TestBackend;
  let b2: TestBackend;
  let b3: TestBackend;
  let dead: string;
  let tg: Harness;
  let other: Agent;
  const sent: Sent[] = [];
  let boundary: string;

  const query = (args: string[]) => cli(['query', '--data', tg.dataDir, '--limit', '1000', ...args]);
  const jsonIds = (args: string[]): string[] => {
    const r = query([...args, '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => (JSON.parse(l) as RequestRecord).http.request.id);
  };
  const expectIds = (args: string[], pick: (s: Sent) => boolean) => {
    const want = sorted(sent.filter(pick).map((s) => s.id));
    assert.ok(want.length > 0, `the filter ${args.join(' ')} is meant to match something`);
    assert.deepEqual(sorted(jsonIds(args)), want, `query ${args.join(' ')}`);
  };

  async function send(p: string, phase: 1 | 2, viaOther = false): Promise<Sent> {
    const res = await request(tg.url(p), viaOther ? { dispatcher: other } : {});
    const text = await res.body.text();
    const id = res.headers['x-request-id'] as string;
    assert.ok(id, `x-request-id on ${p}`);
    let backend: string | null = null;
    try {
      backend = (JSON.parse(text) as { backend?: string }).backend ?? null;
    } catch {
      backend = null;
    }
    const route = p.startsWith('/api')
      ? 'api'
      : p.startsWith('/status')
        ? 'status'
        : p.startsWith('/retry')
          ? 'retry'
          : p.startsWith('/down')
            ? 'down'
            : null;
    const termination = route === null ? 'no_route' : route === 'down' ? 'upstream_connect_refused' : 'ok';
    const s: Sent = {
      id,
      path: p,
      status: res.statusCode,
      backend: termination === 'ok' ? backend : null,
      route,
      termination,
      ip: viaOther ? '127.0.0.2' : '127.0.0.1',
      phase,
    };
    sent.push(s);
    return s;
  }

  before(async () => {
    buildDist();
    b1 = await startBackend('b1');
    b2 = await startBackend('b2');
    b3 = await startBackend('b3');
    dead = await refusedAddress();
    other = new Agent({ localAddress: '127.0.0.2' });
    tg = await startTollgate(`
listeners: [{ name: public, address: 127.0.0.1:0 }]
routes:
  - { name: api, match: { path_prefix: /api }, pool: web }
  - { name: status, match: { path_prefix: /status }, pool: web }
  - { name: retry, match: { path_prefix: /retry }, pool: flaky }
  - { name: down, match: { path_prefix: /down }, pool: gone }
pools:
  - name: web
    algorithm: round_robin
    backends: [{ name: b1, address: ${b1.address} }, { name: b2, address: ${b2.address} }]
  - name: flaky
    algorithm: round_robin
    backends: [{ name: dead, address: ${dead} }, { name: b3, address: ${b3.address} }]
    retries: { attempts: 1, on: [connect_failure] }
  - name: gone
    backends: [{ name: dead, address: ${dead} }]
    retries: { attempts: 0 }
audit: { chain: { enabled: true, checkpoint_interval: 1s } }
`);
    for (const phase of [1, 2] as const) {
      for (let i = 0; i < 4; i++) await send(`/api/items/${phase}-${i}`, phase);
      await send(`/api/from-other/${phase}`, phase, true);
      await send('/status/404', phase);
      await send('/status/500', phase);
      await send('/status/503', phase, phase === 2);
      await send('/status/201', phase);
      await send(`/retry/${phase}-a`, phase);
      await send(`/retry/${phase}-b`, phase);
      await send(`/down/${phase}`, phase);
      await send(`/nowhere/${phase}`, phase, phase === 2);
      if (phase === 1) {
        await sleep(150);
        boundary = new Date().toISOString();
        await sleep(150);
      }
    }
    await tg.waitForRecords(sent.length);
    await tg.app.audit.committed();
  });
  after(async () => {
    await tg?.close();
    await other?.close();
    await b1?.close();
    await b2?.close();
    await b3?.close();
  });

  it('the client saw what the scenario intends', () => {
    assert.equal(sent.length, 26);
    for (const s of sent) {
      if (s.termination === 'no_route') assert.equal(s.status, 404);
      else if (s.termination === 'upstream_connect_refused') assert.equal(s.status, 502);
      else if (s.path.startsWith('/status/')) assert.equal(s.status, Number(s.path.slice(8)));
      else assert.equal(s.status, 200, s.path);
    }
    assert.ok(sent.some((s) => s.backend === 'b1') && sent.some((s) => s.backend === 'b2'));
    assert.ok(sent.filter((s) => s.route === 'retry').every((s) => s.backend === 'b3'));
  });

  it('without filters returns every request, newest first, each valid and carrying its chain seq and hash', () => {
    const r = query(['--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const records = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as RequestRecord);
    for (const rec of records) {
      assertValidRecord(rec);
      assert.ok(Number.isInteger(rec.tollgate.chain.seq) && rec.tollgate.chain.seq! > 0);
      assert.match(rec.tollgate.chain.hash ?? '', /^[0-9a-f]{64}$/);
    }
    const seqs = records.map((x) => x.tollgate.chain.seq as number);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => b - a),
      'newest first',
    );
    assert.equal(new Set(seqs).size, seqs.length);
    assert.deepEqual(sorted(records.map((x) => x.http.request.id)), sorted(sent.map((s) => s.id)));
    // the record is the client's story
    const byId = new Map(records.map((x) => [x.http.request.id, x as RequestRecord]));
    for (const s of sent) {
      const rec = byId.get(s.id)!;
      assert.equal(rec.http.response.status_code, s.status, s.path);
      assert.equal(rec.url.path, s.path);
      assert.equal(rec.client.address, s.ip);
      assert.equal(rec.tollgate.termination, s.termination, s.path);
    }
  });

  it('--since and --until split the records at a time between the two phases', () => {
    expectIds(['--since', boundary], (s) => s.phase === 2);
    expectIds(['--until', boundary], (s) => s.phase === 1);
    expectIds(['--since', '1h'], () => true);
    expectIds(['--since', '1h', '--until', boundary], (s) => s.phase === 1);
    assert.deepEqual(jsonIds(['--since', '2000-01-01T00:00:00Z', '--until', '2000-01-02T00:00:00Z']), []);
  });

  it('--status takes a class or one status', () => {
    expectIds(['--status', '5xx'], (s) => s.status >= 500 && s.status <= 599);
    expectIds(['--status', '404'], (s) => s.status === 404);
    expectIds(['--status', '2xx'], (s) => s.status >= 200 && s.status <= 299);
    expectIds(['--status', '201'], (s) => s.status === 201);
    expectIds(['--status', '4xx'], (s) => s.status >= 400 && s.status <= 499);
    assert.deepEqual(jsonIds(['--status', '418']), []);
    assert.deepEqual(jsonIds(['--status', '3xx']), []);
  });

  it('--client-ip takes an address or a CIDR range', () => {
    expectIds(['--client-ip', '127.0.0.1'], (s) => s.ip === '127.0.0.1');
    expectIds(['--client-ip', '127.0.0.2'], (s) => s.ip === '127.0.0.2');
    expectIds(['--client-ip', '127.0.0.0/8'], () => true);
    expectIds(['--client-ip', '127.0.0.2/32'], (s) => s.ip === '127.0.0.2');
    expectIds(['--client-ip', '127.0.0.0/31'], (s) => s.ip === '127.0.0.1');
    expectIds(['--client-ip', '127.0.0.0/30'], () => true);
    expectIds(['--client-ip', '127.0.0.2/31'], (s) => s.ip === '127.0.0.2');
    expectIds(['--client-ip', '::ffff:127.0.0.2'], (s) => s.ip === '127.0.0.2');
    assert.deepEqual(jsonIds(['--client-ip', '10.0.0.0/8']), []);
    assert.deepEqual(jsonIds(['--client-ip', '::1']), []);
  });

  it('--route, --backend, --termination and --request-id match exactly', () => {
    for (const route of ['api', 'status', 'retry', 'down'])
      expectIds(['--route', route], (s) => s.route === route);
    for (const backend of ['b1', 'b2', 'b3']) expectIds(['--backend', backend], (s) => s.backend === backend);
    assert.deepEqual(jsonIds(['--backend', 'dead']), [], 'a backend that only refused produced no response');
    expectIds(
      ['--termination', 'upstream_connect_refused'],
      (s) => s.termination === 'upstream_connect_refused',
    );
    expectIds(['--termination', 'no_route'], (s) => s.termination === 'no_route');
    expectIds(['--termination', 'ok'], (s) => s.termination === 'ok');
    for (const s of sent.slice(0, 5)) expectIds(['--request-id', s.id], (x) => x.id === s.id);
    assert.deepEqual(jsonIds(['--request-id', 'no-such-id']), []);
  });

  it('filters combine', () => {
    expectIds(['--status', '5xx', '--since', boundary], (s) => s.status >= 500 && s.phase === 2);
    expectIds(
      ['--route', 'status', '--client-ip', '127.0.0.2'],
      (s) => s.route === 'status' && s.ip === '127.0.0.2',
    );
    expectIds(['--backend', 'b1', '--status', '2xx'], (s) => s.backend === 'b1' && s.status < 300);
  });

  it('--format csv parses to the same records, with a header row', () => {
    for (const [args, pick] of [
      [[], () => true],
      [['--status', '5xx'], (s: Sent) => s.status >= 500],
      [['--route', 'api'], (s: Sent) => s.route === 'api'],
    ] as [string[], (s: Sent) => boolean][]) {
      const r = query([...args, '--format', 'csv']);
      assert.equal(r.code, 0, r.stderr);
      const rows = parseCsv(r.stdout);
      assert.deepEqual(rows[0], COLUMNS);
      const data = rows.slice(1);
      for (const row of data) assert.equal(row.length, COLUMNS.length, JSON.stringify(row));
      const idCol = COLUMNS.indexOf('request_id');
      assert.deepEqual(sorted(data.map((row) => row[idCol]!)), sorted(sent.filter(pick).map((s) => s.id)));
      const byId = new Map(sent.map((s) => [s.id, s]));
      for (const row of data) {
        const s = byId.get(row[idCol]!)!;
        assert.equal(row[COLUMNS.indexOf('status')], String(s.status));
        assert.equal(row[COLUMNS.indexOf('path')], s.path);
        assert.equal(row[COLUMNS.indexOf('client')], s.ip);
        assert.equal(row[COLUMNS.indexOf('termination')], s.termination);
      }
    }
  });

  it('the table has a header row and one row per record; no match says so', () => {
    const r = query(['--status', '404']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(
      lines[0]!,
      /^time\s+status\s+method\s+path\s+client\s+route\s+backend\s+termination\s+ms\s+request_id$/,
    );
    const want = sent.filter((s) => s.status === 404);
    assert.equal(lines.length, 1 + want.length, r.stdout);
    for (const s of want)
      assert.ok(
        lines.some((l) => l.includes(s.id) && /\b404\b/.test(l)),
        s.id,
      );
    const none = query(['--client-ip', '10.0.0.0/8']);
    assert.equal(none.code, 0);
    assert.equal(none.stdout, 'no records match\n');
    const csvNone = query(['--client-ip', '10.0.0.0/8', '--format', 'csv']);
    assert.deepEqual(parseCsv(csvNone.stdout), [COLUMNS]);
  });

  it('--limit keeps the newest N', () => {
    const all = query(['--format', 'json']);
    const newest = all.stdout
      .trim()
      .split('\n')
      .slice(0, 3)
      .map((l) => JSON.parse(l).http.request.id);
    const r = cli(['query', '--data', tg.dataDir, '--limit', '3', '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).http.request.id),
      newest,
    );
    const t = cli(['query', '--data', tg.dataDir, '--limit', '2']);
    assert.equal(t.stdout.trimEnd().split('\n').length, 3, 'header and two rows');
    const c = cli(['query', '--data', tg.dataDir, '--limit', '5', '--status', '2xx', '--format', 'csv']);
    assert.equal(parseCsv(c.stdout).length, 6);
    // the default limit is 100: all 26 here
    const d = cli(['query', '--data', tg.dataDir, '--format', 'json']);
    assert.equal(d.stdout.trim().split('\n').length, sent.length);
  });

  it('reads the store of a config file with -c', () => {
    const file = path.join(tg.dataDir, 'cli.yaml');
    fs.writeFileSync(
      file,
      `data_dir: ${tg.dataDir}\nlisteners: [{ name: public, address: 127.0.0.1:0 }]\nroutes: [{ name: r, pool: p }]\npools: [{ name: p, backends: [{ name: b, address: 127.0.0.1:9 }] }]\n`,
    );
    const s = sent[3]!;
    const r = cli(['query', '-c', file, '--request-id', s.id, '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).http.request.id, s.id);
  });

  it('bad filter values are one clear line and exit 1', () => {
    for (const [args, what] of [
      [['--status', '7xx'], /--status/],
      [['--status', 'teapot'], /--status/],
      [['--client-ip', 'nope'], /nope/],
      [['--client-ip', '10.0.0.0/99'], /10\.0\.0\.0\/99/],
      [['--since', 'yesterday'], /--since/],
      [['--until', 'soon'], /--until/],
      [['--limit', '0'], /--limit/],
      [['--limit', 'many'], /--limit/],
      [['--format', 'xml'], /--format/],
    ] as [string[], RegExp][]) {
      const r = cli(['query', '--data', tg.dataDir, ...args]);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stdout, '', args.join(' '));
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
      assert.match(lines[0]!, /^tollgate: /);
      assert.match(lines[0]!, what);
    }
  });

  it('query on a data dir without a store is one clear line and a non-zero exit', () => {
    const r = cli(['query', '--data', path.join(tg.dataDir, 'nothing-here')]);
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^tollgate: /);
  });

  it('explain tells a retried request attempt by attempt', () => {
    const retried = jsonIds(['--route', 'retry'])
      .map((id) => {
        const r = query(['--request-id', id, '--format', 'json']);
        return JSON.parse(r.stdout) as RequestRecord;
      })
      .filter((rec) => rec.tollgate.attempts.length === 2);
    assert.ok(retried.length >= 1, 'round robin sent at least one /retry request to the dead backend first');
    const rec = retried[0]!;
    const r = cli(['explain', rec.http.request.id, '--data', tg.dataDir]);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, new RegExp(`^request ${rec.http.request.id} `));
    assert.match(out, new RegExp(`received .*GET 127\\.0\\.0\\.1${rec.url.path.replace(/[/.]/g, '\\$&')}`));
    assert.match(out, /routed\s+to route retry, pool flaky/);
    const attempts = out.split('\n').filter((l) => l.startsWith('attempt '));
    assert.equal(attempts.length, 2, out);
    const deadAddr = dead.replace(/\./g, '\\.');
    assert.match(
      attempts[0]!,
      new RegExp(
        `^attempt 1 \\+\\d+ ms\\s+dead \\(${deadAddr}\\): connect (-|[\\d.]+ ms), took [\\d.]+ ms, no status, upstream_connect_refused — .+`,
      ),
    );
    assert.match(
      attempts[1]!,
      new RegExp(
        `^attempt 2 \\+\\d+ ms\\s+b3 \\(${b3.address.replace(/\./g, '\\.')}\\): connect [\\d.]+ ms, took [\\d.]+ ms, status 200, ok$`,
      ),
    );
    assert.match(out, /responded 200 with \d+ bytes .* from b3/);
    assert.match(
      out,
      /timings: queue [\d.]+ ms, connect [\d.]+ ms, upstream headers [\d.]+ ms, upstream total [\d.]+ ms/,
    );
    assert.match(out, /completed .*: ok\n/);
    assert.match(
      out,
      new RegExp(`recorded .* at chain seq ${rec.tollgate.chain.seq}, hash ${rec.tollgate.chain.hash}`),
    );
  });

  it('explain tells a request no route matched and a refused one', () => {
    const nowhere = sent.find((s) => s.termination === 'no_route')!;
    const a = cli(['explain', nowhere.id, '--data', tg.dataDir]);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /routed\s+nowhere: no route matched/);
    assert.doesNotMatch(a.stdout, /^attempt /m);
    assert.match(a.stdout, /responded 404/);
    assert.match(a.stdout, /no_route/);
    const refused = sent.find((s) => s.termination === 'upstream_connect_refused')!;
    const b = cli(['explain', refused.id, '--data', tg.dataDir]);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /^attempt 1 .*dead .*upstream_connect_refused/m);
    assert.match(b.stdout, /responded 502/);
  });

  it('explain of an unknown id is one line and exit 1', () => {
    const r = cli(['explain', 'no-such-request', '--data', tg.dataDir]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'tollgate: no record with request id no-such-request\n');
  });

  it('reads while Tollgate keeps serving and writing', async () => {
    // queries in other processes while this process keeps proxying and committing records
    await sleep(5);
    const loadStarts = new Date().toISOString();
    await sleep(5);
    const agent = new Agent({ connections: 4 });
    let stop = false;
    const served: string[] = [];
    const load = (async () => {
      while (!stop) {
        const res = await request(tg.url('/api/during-queries'), { dispatcher: agent });
        await res.body.dump();
        assert.equal(res.statusCode, 200);
        served.push(res.headers['x-request-id'] as string);
      }
    })();
    try {
      const results = await Promise.all(
        Array.from({ length: 4 }, () =>
          cliAsync([
            'query',
            '--data',
            tg.dataDir,
            '--route',
            'api',
            '--until',
            loadStarts,
            '--format',
            'json',
          ]),
        ),
      );
      for (const r of results) {
        assert.equal(r.code, 0, r.stderr);
        const ids = r.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l).http.request.id as string);
        assert.deepEqual(sorted(ids), sorted(sent.filter((x) => x.route === 'api').map((x) => x.id)));
      }
    } finally {
      stop = true;
      await load;
      await agent.close();
    }
    assert.ok(served.length > 0, 'the proxy answered while the readers ran');
    await tg.app.audit.committed();
    const last = served.at(-1)!;
    const r = await cliAsync(['query', '--data', tg.dataDir, '--request-id', last, '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      JSON.parse(r.stdout).http.request.id,
      last,
      'a record committed a moment ago is visible to a new reader',
    );
    assert.equal(tg.app.audit.health.state, 'ok');
  });
});
