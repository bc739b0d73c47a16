import assert from 'node:assert/strict';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { createToken } from '../../src/admin/index.js';
import type { Report } from '../../src/audit/index.js';
import { AuditPipeline, buildRequestRecord } from '../../src/audit/index.js';
import { compileConfigText } from '../../src/config/index.js';
import type { AdminEvent, AttemptOutcome, RequestOutcome, Termination } from '../../src/core/index.js';
import { silentLogger, systemClock, systemEvent } from '../../src/core/index.js';
import { openStore } from '../../src/store/index.js';
import { cli, cliAsync, tempDir } from '../helpers/audit.js';
import type { TestBackend } from '../helpers/backends.js';
import { refusedAddress, startBackend } from '../helpers/backends.js';
import { buildDist } from '../helpers/process.js';
import { parseRaw, rawExchange } from '../helpers/raw.js';
import { assertValidRecord } from '../helpers/schema.js';
import type { Harness } from '../helpers/tollgate.js';
import { startTollgate } from '../helpers/tollgate.js';

/**
 * `tollgate report` (issue 5, item 6; SPEC §1): the review report built from the store alone.
 * The first suite runs Tollgate in-process with real backends (fast, slow, failing, refused),
 * sends real requests and admin API calls, reloads the config as an operator, then checks the
 * figures of every format against what was sent. The second feeds the real audit pipeline
 * (writer thread, chain, checkpoints) with outcomes the proxy cannot produce yet (auth
 * refusals, users, alerts, CR/LF in a path) and checks the window, the sketches, the
 * percentiles and --verify.
 */

/** The rows (header first) of the nth Markdown table under the heading line `title`, cells unescaped. */
function mdTable(md: string, title: string, nth = 0): string[][] {
  const lines = md.split('\n');
  const at = lines.indexOf(title);
  assert.ok(at !== -1, `no "${title}" in the report:\n${md}`);
  const tables: string[][][] = [];
  let current: string[][] | null = null;
  for (const line of lines.slice(at + 1)) {
    if (line.startsWith('#')) break;
    if (!line.startsWith('|')) {
      current = null;
      continue;
    }
    const cells = line
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim().replace(/\\(.)/g, '$1'));
    if (current === null) {
      current = [];
      tables.push(current);
    }
    if (!cells.every((c) => /^-+:?$/.test(c))) current.push(cells);
  }
  assert.ok(tables[nth] !== undefined, `no table ${nth} under "${title}"`);
  return tables[nth]!;
}

const num = (cell: string | undefined): number => Number((cell ?? '').replace(/,/g, ''));

/** Tags of an HTML page: only these, and none with src/href/on* attributes. */
const SAFE_TAGS = new Set([
  'html',
  'head',
  'meta',
  'title',
  'style',
  'body',
  'h1',
  'h2',
  'h3',
  'p',
  'br',
  'section',
  'table',
  'thead',
  'tbody',
  'tr',
  'th',
  'td',
]);

function assertInertHtml(html: string): void {
  assert.match(html, /^<!doctype html>/);
  for (const m of html.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9-]*)([^>]*)>/g)) {
    const tag = m[1]!.toLowerCase();
    assert.ok(SAFE_TAGS.has(tag), `unexpected <${tag}> in the report page`);
    assert.doesNotMatch(m[2]!, /\b(src|href|on[a-z]+)\s*=/i, `an active attribute in <${m[0]}>`);
  }
  assert.doesNotMatch(html, /<script/i);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: none may reach the page
  assert.doesNotMatch(html.replace(/\n/g, ''), /[\x00-\x1f\x7f]/, 'raw control characters in the page');
}

const HOSTILE_PATH = '/err/<script>alert(1)</script>';
const HOSTILE_UA = '<script>alert("ua")</script>\t<img src=x onerror=alert(2)>';

describe('tollgate report: a running Tollgate, real requests and admin calls', () => {
  let fast1: TestBackend;
  let fast2: TestBackend;
  let slow1: TestBackend;
  let err1: TestBackend;
  let down: string;
  let tg: Harness;
  const errIds: string[] = [];
  let md = '';
  let json: Report;
  let html = '';

  const yaml = (weight: number) => `listeners:
  - { name: public, address: 127.0.0.1:0 }
routes:
  - { name: api, match: { path_prefix: /api }, pool: app }
  - { name: broken, match: { path_prefix: /err }, pool: broken }
  - { name: gone, match: { path_prefix: /down }, pool: gone }
pools:
  - name: app
    algorithm: round_robin
    backends:
      - { name: fast-1, address: ${fast1.address} }
      - { name: fast-2, address: ${fast2.address}, weight: ${weight} }
      - { name: slow-1, address: ${slow1.address} }
  - name: broken
    backends: [{ name: err-1, address: ${err1.address} }]
  - name: gone
    backends: [{ name: down-1, address: ${down} }]
admin:
  address: 127.0.0.1:0
`;

  async function send(
    p: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; id: string }> {
    const res = await request(tg.url(p), { headers });
    await res.body.dump();
    return { status: res.statusCode, id: res.headers['x-request-id'] as string };
  }

  async function adminCall(method: string, p: string, token: string | null): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${tg.app.admin!.port()}${p}`, {
      method,
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
    });
    await res.arrayBuffer();
    return res.status;
  }

  before(async () => {
    buildDist();
    fast1 = await startBackend('fast-1');
    fast2 = await startBackend('fast-2');
    slow1 = await startBackend('slow-1', (_req: http.IncomingMessage, res: http.ServerResponse) => {
      setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('slow'), 250);
    });
    err1 = await startBackend('err-1', (_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('boom');
    });
    down = await refusedAddress();
    tg = await startTollgate(yaml(1));

    // 36 to the app pool: round robin gives each backend 12 (slow-1 answers after 250 ms)
    for (let batch = 0; batch < 6; batch++) {
      const sent = await Promise.all(Array.from({ length: 6 }, (_, i) => send(`/api/item/${batch * 6 + i}`)));
      assert.ok(sent.every((s) => s.status === 200));
    }
    for (let i = 0; i < 12; i++) {
      const s = await send(`/err/${i}`);
      assert.equal(s.status, 500);
      errIds.push(s.id);
    }
    for (let i = 0; i < 4; i++) assert.equal((await send('/down/x')).status, 502);
    for (let i = 0; i < 5; i++) assert.equal((await send(`/nowhere/${i}`)).status, 404);
    // last of all, so it is the newest error of its group and the newest request of its client
    // (a raw request: an HTTP client would percent-encode the path)
    const hostile = parseRaw(
      await rawExchange(
        tg.port,
        `GET ${HOSTILE_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: ${HOSTILE_UA}\r\nConnection: close\r\n\r\n`,
      ),
    );
    assert.equal(hostile.status, 500);
    errIds.push(hostile.headers['x-request-id']!);

    // admin: two bad tokens and a role too low (refusals), one allowed call, a reload and a refused one
    const store = openStore(tg.app.plan.audit.storePath);
    const viewer = createToken(store.tokens, {
      name: 'vera-viewer',
      role: 'viewer',
      ttlMs: null,
      actor: 'local:test',
      actorRole: null,
      source: null,
      now: Date.now(),
    }).token;
    store.close();
    assert.equal(await adminCall('GET', '/api/v1/status', null), 401);
    assert.equal(await adminCall('GET', '/api/v1/status', `${viewer.slice(0, -2)}xx`), 401);
    assert.equal(await adminCall('POST', '/api/v1/pools/app/backends/fast-1/drain', viewer), 403);
    assert.equal(await adminCall('GET', '/api/v1/status', viewer), 200);
    const next = compileConfigText(
      `data_dir: ${tg.dataDir}\n${yaml(3)}`.replace('127.0.0.1:0 }', `127.0.0.1:${tg.port} }`),
      path.join(tg.dataDir, 'tollgate.yaml'),
    );
    await tg.app.reload(next, 'alice-operator');
    tg.app.reloadRefused('tollgate.yaml:3:5 routes[0].pool: no pool named "nope"', 'bob-admin');
    await tg.waitForRecords(58);
    await sleep(50);
    await tg.app.audit.committed();

    const run = async (format: string) => {
      const r = await cliAsync(['report', '--data', tg.dataDir, '--format', format]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      return r.stdout;
    };
    md = await run('md');
    json = JSON.parse(await run('json')) as Report;
    html = await run('html');
  });

  after(async () => {
    await tg?.close();
    for (const b of [fast1, fast2, slow1, err1]) await b?.close();
  });

  it('counts requests per status class exactly as sent, in JSON and in Markdown alike', () => {
    assert.equal(json.schema, 'tollgate.report/1');
    assert.deepEqual(json.traffic.status_classes, {
      '1xx': 0,
      '2xx': 36,
      '3xx': 0,
      '4xx': 5,
      '5xx': 17,
      other: 0,
    });
    assert.equal(json.traffic.requests, 58);
    assert.equal(json.traffic.terminations.ok, 49);
    assert.equal(json.traffic.terminations.upstream_connect_refused, 4);
    assert.equal(json.traffic.terminations.no_route, 5);
    const [head, row] = mdTable(md, '## Traffic');
    assert.deepEqual(head, ['requests', '1xx', '2xx', '3xx', '4xx', '5xx', 'other']);
    assert.deepEqual(row!.map(num), [58, 0, 36, 0, 5, 17, 0]);
    const routes = mdTable(md, '### Routes');
    for (const r of json.routes) {
      const line = routes.find((c) => c[0] === (r.route ?? '(no route)'));
      assert.ok(line, `route ${r.route} in the Markdown table`);
      assert.equal(num(line[1]), r.requests);
      assert.equal(num(line[2]), r.server_errors);
    }
    const byRoute = Object.fromEntries(
      json.routes.map((r) => [r.route ?? '-', [r.requests, r.server_errors]]),
    );
    assert.deepEqual(byRoute, { api: [36, 0], broken: [13, 13], gone: [4, 4], '-': [5, 0] });
    assert.equal(json.routes.find((r) => r.route === 'broken')!.error_ratio, 1);
  });

  it("groups the failing backend's 500s with the right count and sample ids that explain resolves", async () => {
    const g = json.error_groups.find((e) => e.backend === 'err-1');
    assert.ok(g, JSON.stringify(json.error_groups));
    assert.equal(g.route, 'broken');
    assert.equal(g.termination, 'ok');
    assert.equal(g.count, 13);
    assert.deepEqual(g.statuses, { '500': 13 });
    assert.equal(g.sample_request_ids.length, 3);
    for (const id of g.sample_request_ids)
      assert.ok(errIds.includes(id), `${id} is one of the /err requests`);
    assert.equal(g.sample_request_ids[0], errIds[errIds.length - 1], 'newest first');
    assert.equal(g.latest.path, HOSTILE_PATH);
    for (const id of g.sample_request_ids) {
      const r = await cliAsync(['explain', id, '--data', tg.dataDir]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`request ${id}`));
    }
    const refused = json.error_groups.find((e) => e.termination === 'upstream_connect_refused');
    assert.equal(refused?.count, 4);
    assert.equal(refused?.backend, null, 'no backend answered');
    assert.match(refused?.latest.message ?? '', /refused/);
    assert.equal(json.error_groups.find((e) => e.termination === 'no_route')?.count, 5);
    assert.equal(json.error_groups.length, 3);
    const rows = mdTable(md, '## Error groups');
    const mdRow = rows.find((c) => c[1] === 'err-1');
    assert.equal(num(mdRow?.[3]), 13);
    assert.equal(mdRow?.[7], g.sample_request_ids.join(' '));
  });

  it('flags the slow backend against its pool peers and not the fast ones', () => {
    const b = Object.fromEntries(json.slow_backends.backends.map((x) => [x.backend, x]));
    assert.equal(b['slow-1']?.slow, true, JSON.stringify(b['slow-1']));
    assert.equal(b['fast-1']?.slow, false, JSON.stringify(b['fast-1']));
    assert.equal(b['fast-2']?.slow, false, JSON.stringify(b['fast-2']));
    assert.equal(b['slow-1']!.attempts, 12);
    assert.ok(b['slow-1']!.p99_ms! >= 240, `slow-1 p99 ${b['slow-1']!.p99_ms}`);
    assert.ok(b['fast-1']!.p99_ms! < 100, `fast-1 p99 ${b['fast-1']!.p99_ms}`);
    assert.equal(b['err-1']?.slow, false);
    assert.match(b['err-1']!.verdict, /no pool peer/);
    const rows = mdTable(md, '## Slow backends');
    assert.equal(rows.find((c) => c[1] === 'slow-1')?.[7], 'SLOW');
    assert.equal(rows.find((c) => c[1] === 'fast-1')?.[7], 'ok');
    assert.match(html, /<tr class="mark"><td>app<\/td><td>slow-1<\/td>/);
  });

  it('shows the reload under its actor with the changed path, the refused one as a failure', () => {
    const reload = json.admin.actions.find(
      (a) => a.action === 'config_reload' && a.actor === 'alice-operator',
    );
    assert.deepEqual([reload?.success, reload?.failure], [1, 0]);
    const refused = json.admin.actions.find((a) => a.action === 'config_reload' && a.actor === 'bob-admin');
    assert.deepEqual([refused?.success, refused?.failure], [0, 1]);
    const change = json.admin.config_changes.find((c) => c.actor === 'alice-operator');
    assert.equal(change?.outcome, 'success');
    assert.ok(change?.paths.includes('pools["app"].backends["fast-2"].weight'), JSON.stringify(change));
    assert.equal(json.admin.config_changes_total, 2);
    const rows = mdTable(md, '### Config changes');
    assert.ok(rows.some((c) => c[1] === 'alice-operator' && c[2] === 'success' && c[4]!.includes('fast-2')));
    assert.ok(
      rows.some((c) => c[1] === 'bob-admin' && c[2] === 'failure' && c[4]!.includes('no pool named')),
    );
    const requests = json.admin.actions.find(
      (a) => a.action === 'admin_request' && a.actor === 'vera-viewer',
    );
    assert.deepEqual([requests?.success, requests?.failure], [1, 1]);
  });

  it('groups admin API refusals by source address, with no alerts yet', () => {
    assert.equal(json.auth_failures.admin_refusals.length, 1);
    const r = json.auth_failures.admin_refusals[0]!;
    assert.equal(r.source, '127.0.0.1');
    assert.deepEqual(r.by_status, { '401': 2, '403': 1, '429': 0 });
    assert.deepEqual([...r.actors].sort(), ['anonymous', 'vera-viewer']);
    assert.deepEqual(json.auth_failures.requests, []);
    assert.equal(json.alerts.total, 0);
    assert.match(md, /## Alerts\n\nno alerts\n/);
  });

  it('reports the audit pipeline: records in the window, the chain head, the pipeline events', () => {
    const a = json.audit;
    assert.equal(a.requests_in_window, 58);
    assert.equal(a.admin_events_in_window, json.admin.events);
    assert.equal(a.records_in_window, 58 + json.admin.events);
    assert.ok(a.last_seq !== null && a.last_seq >= a.records_in_window);
    assert.equal(a.pipeline_events.counts.audit_pipeline_started, 1);
    assert.equal(a.lost_events, 0);
    assert.equal(a.verify, null);
    assert.match(md, /\| verification \| not run \(add --verify\) \|/);
  });

  it('keeps a hostile path and user agent inert in HTML and Markdown', () => {
    assertInertHtml(html);
    assert.ok(html.includes('/err/&lt;script&gt;alert(1)&lt;/script&gt;'), 'the path, escaped');
    assert.ok(
      html.includes(
        '&lt;script&gt;alert(&quot;ua&quot;)&lt;/script&gt;\\x09&lt;img src=x onerror=alert(2)&gt;',
      ),
      'the user agent, escaped, its tab shown as \\x09',
    );
    const client = json.top_clients.by_address[0]!;
    assert.equal(client.address, '127.0.0.1');
    assert.equal(client.requests, 58);
    assert.equal(client.user_agent, HOSTILE_UA);
    assert.doesNotMatch(md, /(?<!\\)[<>]/, 'every < and > in the Markdown is escaped');
    assert.ok(md.includes('/err/\\<script\\>alert(1)\\</script\\>'));
  });

  it('verifies the chain with --verify and says so', async () => {
    const r = await cliAsync(['report', '--data', tg.dataDir, '--format', 'json', '--verify']);
    assert.equal(r.code, 0, r.stderr);
    const v = (JSON.parse(r.stdout) as Report).audit.verify;
    assert.equal(v?.ok, true, JSON.stringify(v));
    assert.ok(v!.records >= 58);
  });
});

// ---- the second suite: outcomes fed to the real audit pipeline

const MIN = 60_000;
let counter = 0;

function outcome(o: {
  end: number;
  ms?: number;
  client?: string;
  user?: string | null;
  route?: string | null;
  path?: string;
  ua?: string;
  status?: number;
  termination?: Termination;
  backend?: string | null;
  attempts?: AttemptOutcome[];
  message?: string | null;
}): RequestOutcome {
  const id = `req-${++counter}`;
  const ms = o.ms ?? 5;
  const backend = o.backend === undefined ? 'api-1' : o.backend;
  const status = o.status ?? 200;
  const termination = o.termination ?? 'ok';
  const attempts =
    o.attempts ??
    (backend === null
      ? []
      : [
          {
            backend,
            address: '127.0.0.1:9001',
            start: o.end - ms,
            connectMs: 0.2,
            durationMs: ms,
            statusCode: status,
            termination: 'ok' as Termination,
            error: null,
          },
        ]);
  const ua = o.ua ?? 'report-test/1.0';
  return {
    requestId: id,
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    startMs: o.end - ms,
    endMs: o.end,
    clientAddress: o.client ?? '10.0.0.1',
    clientPort: 40000,
    peerAddress: o.client ?? '10.0.0.1',
    peerPort: 40000,
    userAgent: ua,
    method: 'GET',
    path: o.path ?? '/api/x',
    query: null,
    serverAddress: 'api.example.com',
    serverPort: null,
    requestHeaders: { 'user-agent': ua },
    requestBodySize: 10,
    responseBodySize: 100,
    statusCode: status,
    tls: null,
    userName: o.user ?? null,
    identityMethod: o.user == null ? 'anonymous' : 'jwt',
    listener: 'public',
    route: o.route === undefined ? 'api' : o.route,
    pool: o.route === null ? null : (o.route ?? 'api'),
    owner: 'team-a',
    tags: null,
    backendName: termination === 'ok' ? backend : null,
    backendAddress: termination === 'ok' && backend !== null ? '127.0.0.1:9001' : null,
    upstreamStatus: termination === 'ok' ? status : null,
    timings: { queue: 0.01, connect: 0.2, upstreamHeaders: ms, upstreamTotal: ms },
    attempts,
    termination,
    errorMessage: o.message ?? (termination === 'ok' ? null : `${termination} for the test`),
    upgraded: false,
    canary: false,
  };
}

function adminEvent(
  action: string,
  outcome: 'success' | 'failure',
  at: number,
  labels = {},
  actor = 'tollgate',
): AdminEvent {
  return { ...systemEvent(action, outcome, `${action} for the test`, labels, actor), at };
}

describe('tollgate report: the audit pipeline fed with outcomes the proxy cannot produce yet', () => {
  let dir: string;
  const now = Date.now();
  const outcomes: RequestOutcome[] = [];
  let json: Report;
  let md: string;
  let html: string;
  const CRLF_PATH = '/api/x\r\nSet-Cookie: a=b<script>\u202e';
  const CRLF_UA = 'evil\r\n<script>alert(1)</script>';

  before(async () => {
    buildDist();
    dir = tempDir('tollgate-report-');
    const plan = compileConfigText(
      `data_dir: ${dir}
listeners: [{ name: public, address: 127.0.0.1:0 }]
routes: [{ name: api, pool: api }]
pools: [{ name: api, backends: [{ name: api-1, address: 127.0.0.1:9001 }] }]
audit: { max_queue: 100000 }
`,
      path.join(dir, 'tollgate.yaml'),
    );
    const pipeline = new AuditPipeline(plan, { instance: 'test', logger: silentLogger, clock: systemClock });
    await pipeline.start();
    const add = (o: RequestOutcome) => {
      assertValidRecord(JSON.parse(JSON.stringify(buildRequestRecord(o, plan.audit, 'test'))));
      outcomes.push(o);
      pipeline.onOutcome(o);
    };
    const recent = now - 30 * MIN;
    // outside the default window (24 h): must not count
    for (let i = 0; i < 7; i++) add(outcome({ end: now - 3 * 24 * 60 * MIN, route: 'old', status: 503 }));
    // 1,000 requests on route "timed" lasting 1..1000 ms
    for (let i = 1; i <= 1000; i++) add(outcome({ end: recent + i, ms: i, route: 'timed', backend: 't-1' }));
    // auth refusals by route and client; a user
    const refusal = (client: string, termination: Termination, status: number, user: string | null = null) =>
      add(outcome({ end: recent, client, termination, status, backend: null, user }));
    for (let i = 0; i < 3; i++) refusal('203.0.113.9', 'auth_failed', 401);
    for (let i = 0; i < 2; i++) refusal('203.0.113.9', 'forbidden', 403, 'mallory');
    for (let i = 0; i < 4; i++) refusal('203.0.113.9', 'rate_limited', 429, 'mallory');
    refusal('198.51.100.7', 'auth_failed', 401);
    // a retried request: the first attempt refused on api-2, the second answered by api-1
    add(
      outcome({
        end: recent,
        attempts: [
          {
            backend: 'api-2',
            address: '127.0.0.1:9002',
            start: recent - 8,
            connectMs: null,
            durationMs: 0.4,
            statusCode: null,
            termination: 'upstream_connect_refused',
            error: 'connection refused after 0.4 ms (ECONNREFUSED)',
          },
          {
            backend: 'api-1',
            address: '127.0.0.1:9001',
            start: recent - 7,
            connectMs: 0.2,
            durationMs: 7,
            statusCode: 200,
            termination: 'ok',
            error: null,
          },
        ],
      }),
    );
    // One refusal from 192.0.2.3, then 8,200 one-off clients refused (429): the sketches (4,096
    // counters) overflow and every counter of one request, 192.0.2.3's included, changes hands.
    // Then three heavy clients; 192.0.2.3 comes back with 99 more refusals.
    const forbidden = { termination: 'forbidden' as Termination, status: 403, backend: null };
    add(outcome({ end: recent + 1000, client: '192.0.2.3', ...forbidden }));
    for (let i = 0; i < 8200; i++)
      add(
        outcome({
          end: recent + 2000,
          client: `10.9.${i >> 8}.${i & 255}`,
          termination: 'rate_limited',
          status: 429,
          backend: null,
        }),
      );
    for (let i = 0; i < 300; i++) add(outcome({ end: recent + 3000, client: '192.0.2.1', user: 'heavy-a' }));
    for (let i = 0; i < 200; i++) add(outcome({ end: recent + 3000, client: '192.0.2.2', status: 503 }));
    for (let i = 0; i < 99; i++) add(outcome({ end: recent + 3000, client: '192.0.2.3', ...forbidden }));
    // a path and a user agent with CR/LF (node's parser refuses those; the store must not trust that)
    add(
      outcome({
        end: recent + 4000,
        path: CRLF_PATH,
        ua: CRLF_UA,
        client: '10.0.0.1',
        termination: 'upstream_reset',
        status: 502,
        backend: 'api-1',
        message: 'backend api-1 reset the connection\r\n<b>after</b> 3 ms',
      }),
    );
    pipeline.emit(adminEvent('alert_firing', 'failure', recent + 100, { rule: 'api-5xx' }));
    pipeline.emit(adminEvent('alert_resolved', 'success', recent + 200, { rule: 'api-5xx' }));
    pipeline.emit(adminEvent('audit_records_lost', 'failure', recent + 300));
    pipeline.emit(adminEvent('alert_firing', 'failure', now - 3 * 24 * 60 * MIN, { rule: 'too-old' }));
    await pipeline.committed();
    await pipeline.stop();

    const run = (format: string, extra: string[] = []) => {
      const r = cli(['report', '--data', dir, '--format', format, ...extra]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    json = JSON.parse(run('json')) as Report;
    md = run('md');
    html = run('html');
  });

  after(() => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('counts only the window: older requests and events are left out', () => {
    const inWindow = outcomes.filter((o) => o.endMs >= now - 24 * 60 * MIN).length;
    assert.equal(json.traffic.requests, inWindow);
    assert.equal(json.traffic.requests, outcomes.length - 7);
    assert.equal(
      json.routes.find((r) => r.route === 'old'),
      undefined,
    );
    assert.equal(json.alerts.total, 2);
    const narrow = cli([
      'report',
      '--data',
      dir,
      '--format',
      'json',
      '--since',
      new Date(now - 30 * MIN + 1).toISOString(),
      '--until',
      new Date(now - 30 * MIN + 501).toISOString(),
    ]);
    assert.equal(narrow.code, 0, narrow.stderr);
    const timed = (JSON.parse(narrow.stdout) as Report).routes.find((r) => r.route === 'timed');
    assert.equal(timed?.requests, 500, 'ends 1..500 ms after the mark: [since, until) holds 500 of them');
  });

  it('gives p50 and p99 within 1% of the exact nearest-rank values', () => {
    const timed = json.routes.find((r) => r.route === 'timed')!;
    assert.equal(timed.requests, 1000);
    assert.ok(Math.abs(timed.p50_ms! - 500) <= 5, `p50 ${timed.p50_ms}`);
    assert.ok(Math.abs(timed.p99_ms! - 990) <= 9.9, `p99 ${timed.p99_ms}`);
    assert.equal(timed.max_ms, 1000);
    const t1 = json.slow_backends.backends.find((b) => b.backend === 't-1')!;
    assert.equal(t1.attempts, 1000);
    assert.ok(Math.abs(t1.p99_ms! - 990) <= 9.9, `t-1 p99 ${t1.p99_ms}`);
  });

  it('counts every attempt of a retried request against its own backend', () => {
    const api2 = json.slow_backends.backends.find((b) => b.backend === 'api-2');
    assert.equal(api2?.pool, 'api');
    assert.equal(api2?.attempts, 1);
    assert.equal(api2?.max_ms, 0.4);
  });

  it('groups refused requests by route and client, re-counting pairs once the sketch is full', () => {
    const rows = json.auth_failures.requests;
    assert.equal(json.auth_failures.requests_total, 10 + 8200 + 100);
    assert.deepEqual(
      rows.slice(0, 2).map((r) => [r.route, r.client, r.total, r.by_termination]),
      [
        ['api', '192.0.2.3', 100, { auth_failed: 0, forbidden: 100, rate_limited: 0 }],
        ['api', '203.0.113.9', 9, { auth_failed: 3, forbidden: 2, rate_limited: 4 }],
      ],
    );
    assert.equal(rows[0]!.first_seen, new Date(now - 30 * MIN + 1000).toISOString(), 'its first refusal too');
    assert.equal(rows.length, 20, 'twice --top');
    const table = mdTable(md, '### Requests refused at admit (auth_failed, forbidden, rate_limited)');
    assert.deepEqual(table[1]!.slice(0, 6), ['api', '192.0.2.3', '0', '100', '0', '100']);
    assert.deepEqual(table[2]!.slice(0, 6), ['api', '203.0.113.9', '3', '2', '4', '9']);
    assert.deepEqual(
      json.top_clients.by_user.map((u) => [u.user, u.requests, u.client_errors]),
      [
        ['heavy-a', 300, 0],
        ['mallory', 6, 6],
      ],
    );
  });

  it('names the heaviest clients with exact counts even when the sketch overflowed', () => {
    assert.equal(json.top_clients.overflowed, true);
    // 10.0.0.1 had its counter before the overflow (exact); the three heavy ones took over
    // counters of one-off clients (their sketch counts are one too high, and 192.0.2.3's first
    // request was counted under a counter it lost since) and were re-counted
    const top = json.top_clients.by_address
      .slice(0, 4)
      .map((c) => [c.address, c.requests, c.client_errors, c.server_errors]);
    assert.deepEqual(top, [
      ['10.0.0.1', 1002, 0, 1],
      ['192.0.2.1', 300, 0, 0],
      ['192.0.2.2', 200, 0, 200],
      ['192.0.2.3', 100, 100, 0],
    ]);
    assert.equal(json.top_clients.by_address[1]!.bytes_in, 3000);
    assert.equal(json.top_clients.by_address[1]!.bytes_out, 30000);
  });

  it('lists alerts with their rule and counts audit_records_lost', () => {
    assert.deepEqual(json.alerts.counts, { alert_firing: 1, alert_resolved: 1 });
    assert.deepEqual(
      json.alerts.latest.map((e) => [e.action, e.rule]),
      [
        ['alert_resolved', 'api-5xx'],
        ['alert_firing', 'api-5xx'],
      ],
    );
    assert.doesNotMatch(md, /no alerts/);
    assert.equal(mdTable(md, '## Alerts')[1]![2], 'api-5xx');
    assert.equal(json.audit.lost_events, 1);
    assert.equal(json.audit.pipeline_events.counts.audit_records_lost, 1);
  });

  it('keeps CR/LF, bidi marks and markup in a path, user agent or message inert', () => {
    const g = json.error_groups.find((e) => e.termination === 'upstream_reset')!;
    assert.equal(g.latest.path, CRLF_PATH, 'JSON keeps the value (escaped by JSON itself)');
    assertInertHtml(html);
    assert.ok(
      html.includes('/api/x\\x0d\\x0aSet-Cookie: a=b&lt;script&gt;\\u{202e}'),
      'CR, LF and U+202E shown',
    );
    assert.equal(json.top_clients.by_address[0]!.user_agent, CRLF_UA);
    assert.ok(
      html.includes('<td>evil\\x0d\\x0a&lt;script&gt;alert(1)&lt;/script&gt;</td>'),
      'the user agent',
    );
    assert.ok(html.includes('reset the connection\\x0d\\x0a&lt;b&gt;after&lt;/b&gt;'));
    assert.doesNotMatch(md, /\r/);
    assert.ok(md.includes('/api/x\\x0d\\x0aSet-Cookie: a=b\\<script\\>'));
    const line = md.split('\n').find((l) => l.includes('Set-Cookie'))!;
    assert.ok(line.startsWith('| api | - | upstream_reset |'), 'the row stays one table row');
  });

  it('with --verify, reports a tampered record and exits 1', () => {
    const ok = cli(['report', '--data', dir, '--format', 'json', '--verify']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as Report).audit.verify?.ok, true);
    const db = new Database(path.join(dir, 'audit.db'));
    db.prepare('UPDATE records SET rec = replace(rec, \'"GET"\', \'"PUT"\') WHERE seq = 20').run();
    db.close();
    const bad = cli(['report', '--data', dir, '--verify']);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /\| verification \| FAILED: seq 20 altered \|/);
    assert.equal(bad.stderr, 'tollgate: the audit chain does not verify: seq 20 altered\n');
  });

  it('refuses bad flags and a missing store with one line and exit 1', () => {
    const cases: [string[], RegExp][] = [
      [['--format', 'pdf'], /^tollgate: --format: "pdf" is not one of md, json, html\n$/],
      [['--since', 'yesterday'], /^tollgate: --since: "yesterday" is neither a duration/],
      [['--since', '1h', '--until', '2h'], /^tollgate: --since \(.*\) must be before --until/],
      [['--top', '0'], /^tollgate: --top: "0" is not a whole number from 1 to 1000\n$/],
    ];
    for (const [args, message] of cases) {
      const r = cli(['report', '--data', dir, ...args]);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.split('\n').length, 2, 'one line');
      assert.equal(r.stdout, '');
    }
    const missing = cli(['report', '--data', path.join(dir, 'nothing-here')]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /^tollgate: no audit store at .*nothing-here\/audit\.db: nothing has been recorded/,
    );
  });
});
