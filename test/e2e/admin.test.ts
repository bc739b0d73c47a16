import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type tls from 'node:tls';
import Database from 'better-sqlite3';
import { revokeToken } from '../../src/admin/index.js';
import type { AdminRecord } from '../../src/audit/index.js';
import { openStore } from '../../src/store/index.js';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { token } from '../helpers/tokens.js';
import type { Harness } from '../helpers/tollgate.js';
import { startTollgate } from '../helpers/tollgate.js';

/**
 * The admin API (issue 4, "Deliver" 1–3; SPEC §4): bearer tokens stored as hashes, roles on every
 * route, lockout per source address, every call an admin event in the chained store, config
 * changes by PUT with ETag and diff, and just-in-time elevation that expires by itself.
 */

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function api(
  h: Harness,
  method: string,
  path: string,
  token: string | null,
  body?: string | object,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(`http://127.0.0.1:${h.app.admin!.port()}${path}`, {
    method,
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined
        ? {}
        : { 'content-type': typeof body === 'string' ? 'application/yaml' : 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
}

/** Admin events from the chained store, newest first, through the API. */
async function events(h: Harness, viewer: string, query = ''): Promise<AdminRecord[]> {
  const r = await api(h, 'GET', `/api/v1/events?limit=1000${query}`, viewer);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.items as AdminRecord[];
}

/** Waits until the store holds an event that `check` accepts. */
async function eventually(
  h: Harness,
  viewer: string,
  check: (e: AdminRecord) => boolean,
): Promise<AdminRecord> {
  for (let i = 0; i < 100; i++) {
    const found = (await events(h, viewer)).find(check);
    if (found !== undefined) return found;
    await sleep(50);
  }
  const newest = (await events(h, viewer))
    .slice(0, 6)
    .map((e) => [e.event.action, e.user.name, e.event.reason]);
  const all = (await events(h, viewer))
    .filter((e) => e.event.outcome === 'failure')
    .map((e) => [e.user.name, e.event.reason]);
  throw new Error(
    `no such admin event in the store; the newest: ${JSON.stringify(newest)} failures ${JSON.stringify(all)}`,
  );
}

function config(backends: TestBackend[], lockout = '{ failures: 3, window: 2s }'): string {
  return `listeners:
  - { name: public, address: 127.0.0.1:0 }
routes:
  - { name: app, match: { path_prefix: / }, pool: app }
pools:
  - name: app
    algorithm: round_robin
    backends:
${backends.map((b) => `      - { name: ${b.name}, address: ${b.address} }`).join('\n')}
admin:
  address: 127.0.0.1:0
  lockout: ${lockout}
`;
}

describe('admin API: tokens, roles and lockout', () => {
  let b1: TestBackend;
  let b2: TestBackend;
  let h: Harness;
  let viewer: string;
  let operator: string;
  let admin: string;

  before(async () => {
    b1 = await startBackend('b1');
    b2 = await startBackend('b2');
    h = await startTollgate(config([b1, b2], '{ failures: 50, window: 2s }'));
    viewer = token(h, 'ann-viewer', 'viewer');
    operator = token(h, 'olga-operator', 'operator');
    admin = token(h, 'ada-admin', 'admin');
  });
  after(async () => {
    await h.close();
    await b1.close();
    await b2.close();
  });

  it('answers 401 without a token and with an unknown, expired or revoked one, and records each with its source address', async () => {
    const expired = token(h, 'old-token', 'admin', 1);
    const revoked = token(h, 'gone-token', 'admin');
    const store = openStore(h.app.plan.audit.storePath);
    revokeToken(store.tokens, 'gone-token', 'local:test', null, null, Date.now());
    store.close();
    await sleep(5);
    const cases: [string | null, string, string][] = [
      [null, 'anonymous', 'no bearer token'],
      [`${admin.slice(0, -2)}xx`, 'anonymous', 'unknown token'],
      [expired, 'old-token', 'token old-token expired'],
      [revoked, 'gone-token', 'token gone-token was revoked'],
    ];
    for (const [t, actor, reason] of cases) {
      const r = await api(h, 'GET', '/api/v1/status', t);
      assert.equal(r.status, 401, `${actor}: ${JSON.stringify(r.body)}`);
      assert.match(String(r.body.message), new RegExp(reason));
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer realm="tollgate"/);
      const e = await eventually(
        h,
        viewer,
        (e) =>
          e.event.action === 'admin_request' &&
          e.user.name === actor &&
          e.event.outcome === 'failure' &&
          (e.event.reason ?? '').includes(reason),
      );
      assert.equal(e.source.address, '127.0.0.1');
      assert.equal(e.url.path, '/api/v1/status');
      assert.equal(e.http.request.method, 'GET');
      assert.equal(e.tollgate.labels.status, 401);
    }
  });

  it('answers 403 to a role too low and records the refusal; the right role gets through', async () => {
    const denied = await api(h, 'POST', '/api/v1/pools/app/backends/b1/drain', viewer);
    assert.equal(denied.status, 403);
    assert.match(
      String(denied.body.message),
      /role viewer; POST \/api\/v1\/pools\/app\/backends\/b1\/drain needs operator/,
    );
    const e = await eventually(
      h,
      viewer,
      (e) =>
        e.user.name === 'ann-viewer' &&
        e.tollgate.labels.status === 403 &&
        e.url.path?.endsWith('/drain') === true,
    );
    assert.deepEqual(e.user.roles, ['viewer']);
    assert.equal(e.event.outcome, 'failure');
    assert.equal((await api(h, 'PUT', '/api/v1/config', operator, 'x: 1', { 'if-match': '*' })).status, 403);
    assert.equal((await api(h, 'GET', '/api/v1/tokens', operator)).status, 403);
    assert.equal((await api(h, 'GET', '/api/v1/tokens', admin)).status, 200);
    assert.equal((await api(h, 'GET', '/api/v1/status', viewer)).status, 200);
    // a single instance is a fleet of one (docs/admin-api.md, fleet)
    const fleet = await api(h, 'GET', '/api/v1/fleet', viewer);
    assert.equal(fleet.status, 200);
    assert.equal(fleet.body.fleet, false);
    assert.deepEqual(
      (fleet.body.items as { instance: string; health: string }[]).map((i) => [i.instance, i.health]),
      [[h.app.instance, 'ok']],
    );
    // the fleet's requests need the fleet's query store: without a postgres sink, a clear 400
    const fleetRequests = await api(h, 'GET', '/api/v1/requests?scope=fleet', viewer);
    assert.equal(fleetRequests.status, 400);
    assert.match(String(fleetRequests.body.message), /no postgres sink/);
  });

  it('drains and undrains a backend for an operator: traffic moves, and the event has the actor and the diff', async () => {
    const r = await api(h, 'POST', '/api/v1/pools/app/backends/b1/drain', operator);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.draining, true);
    const before = b1.count();
    for (let i = 0; i < 6; i++) await fetch(h.url('/x'));
    assert.equal(b1.count(), before, 'a drained backend gets no new requests');
    const e = await eventually(
      h,
      viewer,
      (e) =>
        e.event.action === 'admin_request' &&
        e.url.path === '/api/v1/pools/app/backends/b1/drain' &&
        e.event.outcome === 'success',
    );
    assert.equal(e.user.name, 'olga-operator');
    assert.deepEqual(e.tollgate.diff, [
      { path: 'pools["app"].backends["b1"].draining', kind: 'changed', before: false, after: true },
    ]);
    await eventually(
      h,
      viewer,
      (e) => e.event.action === 'backend_drained' && e.user.name === 'olga-operator',
    );
    const list = await api(h, 'GET', '/api/v1/pools/app/backends', viewer);
    const items = list.body.items as { name: string; draining: boolean }[];
    assert.equal(items.find((b) => b.name === 'b1')?.draining, true);
    assert.equal((await api(h, 'POST', '/api/v1/pools/app/backends/b1/undrain', operator)).status, 200);
    assert.equal((await api(h, 'POST', '/api/v1/pools/app/backends/nope/drain', operator)).status, 404);
    assert.equal((await api(h, 'GET', '/api/v1/pools/nope/backends', viewer)).status, 404);
  });

  it('lists requests with the query filters and pages with the next cursor; one request by id', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(h.url(`/page/${i}`));
      await res.text();
      ids.push(res.headers.get('x-request-id')!);
    }
    await sleep(150); // one commit interval
    const first = await api(h, 'GET', '/api/v1/requests?limit=3&since=1m&status=2xx', viewer);
    assert.equal(first.status, 200);
    const items = first.body.items as {
      http: { request: { id: string } };
      tollgate: { chain: { seq: number; hash: string } };
    }[];
    assert.equal(items.length, 3);
    assert.equal(typeof first.body.next, 'string');
    assert.match(items[0]!.tollgate.chain.hash, /^[0-9a-f]{64}$/);
    const second = await api(
      h,
      'GET',
      `/api/v1/requests?limit=3&since=1m&status=2xx&cursor=${first.body.next}`,
      viewer,
    );
    const more = second.body.items as typeof items;
    assert.ok(more.length > 0);
    assert.ok(
      more[0]!.tollgate.chain.seq < items[2]!.tollgate.chain.seq,
      'the next page continues below the last seq',
    );
    const newest = items.map((i) => i.http.request.id);
    assert.deepEqual(newest, ids.slice(-3).reverse());
    const one = await api(h, 'GET', `/api/v1/requests/${ids[0]}`, viewer);
    assert.equal(one.status, 200);
    assert.equal((one.body.url as { path: string }).path, '/page/0');
    assert.equal((await api(h, 'GET', '/api/v1/requests/no-such-id', viewer)).status, 404);
    const bad = await api(h, 'GET', '/api/v1/requests?status=abc', viewer);
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.message), /status: "abc" is not a status/);
  });

  it('creates, re-roles and revokes tokens through the API as privilege events; the token is shown once', async () => {
    const made = await api(h, 'POST', '/api/v1/tokens', admin, { name: 'ci-bot', role: 'viewer', ttl: '1h' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const secret = String(made.body.token);
    assert.match(secret, /^tgt_/);
    assert.equal((await api(h, 'GET', '/api/v1/status', secret)).status, 200);
    const listed = await api(h, 'GET', '/api/v1/tokens', admin);
    assert.ok(!JSON.stringify(listed.body).includes(secret), 'listings never show a token');
    assert.equal(
      (await api(h, 'POST', '/api/v1/tokens', admin, { name: 'ci-bot', role: 'viewer' })).status,
      409,
    );
    const raised = await api(h, 'PUT', '/api/v1/tokens/ci-bot', admin, { role: 'operator' });
    assert.equal(raised.status, 200);
    const change = await eventually(
      h,
      viewer,
      (e) => e.event.action === 'privilege_changed' && e.tollgate.labels.token === 'ci-bot',
    );
    assert.equal(change.user.name, 'ada-admin');
    assert.equal(change.event.reason, 'role raised');
    assert.deepEqual(change.tollgate.diff, [
      { path: 'tokens["ci-bot"].role', kind: 'changed', before: 'viewer', after: 'operator' },
    ]);
    assert.equal((await api(h, 'POST', '/api/v1/pools/app/backends/b2/undrain', secret)).status, 200);
    assert.equal((await api(h, 'DELETE', '/api/v1/tokens/ci-bot', admin)).status, 200);
    assert.equal((await api(h, 'GET', '/api/v1/status', secret)).status, 401);
    await eventually(
      h,
      viewer,
      (e) => e.event.action === 'token_revoked' && e.tollgate.labels.token === 'ci-bot',
    );
    await eventually(
      h,
      viewer,
      (e) => e.event.action === 'token_created' && e.tollgate.labels.token === 'ci-bot',
    );
  });
});

describe('admin API: lockout per source address', () => {
  let b1: TestBackend;
  let h: Harness;

  before(async () => {
    b1 = await startBackend('b1');
    h = await startTollgate(config([b1], '{ failures: 3, window: 1500ms }'));
  });
  after(async () => {
    await h.close();
    await b1.close();
  });

  it('answers 429 after three bad tokens, even with a valid token, records it, and lets the address back after the window', async () => {
    const good = token(h, 'vic', 'viewer');
    assert.equal((await api(h, 'GET', '/api/v1/status', good)).status, 200);
    for (let i = 0; i < 3; i++)
      assert.equal((await api(h, 'GET', '/api/v1/status', `tgt_wrong${i}`)).status, 401);
    const locked = await api(h, 'GET', '/api/v1/status', good);
    assert.equal(locked.status, 429);
    assert.match(String(locked.body.message), /too many bad tokens from 127\.0\.0\.1/);
    assert.ok(Number(locked.headers.get('retry-after')) >= 1);
    const lockouts = h.events.filter((e) => e.action === 'admin_lockout');
    assert.equal(lockouts.length, 1);
    assert.equal(lockouts[0]!.sourceAddress, '127.0.0.1');
    const refused = h.events.filter((e) => e.action === 'admin_request' && e.labels.status === 429);
    assert.equal(refused.length, 1);
    assert.equal(refused[0]!.sourceAddress, '127.0.0.1');
    await sleep(1600);
    assert.equal((await api(h, 'GET', '/api/v1/status', good)).status, 200);
  });
});

describe('admin API: config changes and elevation', () => {
  let b1: TestBackend;
  let b2: TestBackend;
  let h: Harness;
  let viewer: string;
  let operator: string;
  let admin: string;

  before(async () => {
    b1 = await startBackend('b1');
    b2 = await startBackend('b2');
    h = await startTollgate(config([b1]));
    // the harness compiles from text: give the config a file to be rewritten, as `start -c` has
    fs.writeFileSync(h.app.plan.source, h.app.plan.text);
    viewer = token(h, 'vera', 'viewer');
    operator = token(h, 'otto', 'operator');
    admin = token(h, 'adam', 'admin');
  });
  after(async () => {
    await h.close();
    await b1.close();
    await b2.close();
  });

  it('PUT /api/v1/config needs If-Match, refuses a stale ETag and an invalid config, dry-runs, then applies with a recorded diff', async () => {
    const got = await api(h, 'GET', '/api/v1/config', viewer);
    assert.equal(got.status, 200);
    const etag = String(got.body.etag);
    assert.equal(got.headers.get('etag'), etag);
    const text = String(got.body.text);
    const next = text.replace(
      `      - { name: b1, address: ${b1.address} }`,
      `      - { name: b1, address: ${b1.address} }\n      - { name: b2, address: ${b2.address} }`,
    );
    assert.notEqual(next, text);

    assert.equal((await api(h, 'PUT', '/api/v1/config', admin, next)).status, 428);
    const stale = await api(h, 'PUT', '/api/v1/config', admin, next, { 'if-match': '"0123"' });
    assert.equal(stale.status, 412);
    const invalid = await api(h, 'PUT', '/api/v1/config', admin, next.replace('round_robin', 'random'), {
      'if-match': etag,
    });
    assert.equal(invalid.status, 422);
    const problems = invalid.body.problems as string[];
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^.+tollgate\.yaml:\d+:\d+ pools\[0\]\.algorithm: /);

    const dry = await api(h, 'PUT', '/api/v1/config?dry_run=true', admin, next, { 'if-match': etag });
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assert.equal(dry.body.dry_run, true);
    assert.equal(h.app.plan.pools.get('app')!.backends.length, 1, 'a dry run changes nothing');

    const put = await api(h, 'PUT', '/api/v1/config', admin, next, { 'if-match': etag });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.notEqual(put.body.etag, etag);
    assert.equal(h.app.plan.pools.get('app')!.backends.length, 2);
    assert.equal(fs.readFileSync(h.app.plan.source, 'utf8'), next, 'the config file holds the new text');
    const diff = [
      {
        path: 'pools["app"].backends["b2"]',
        kind: 'added',
        after: { name: 'b2', address: b2.address, weight: 1 },
      },
    ];
    assert.deepEqual(put.body.diff, diff);
    const e = await eventually(
      h,
      viewer,
      (e) =>
        e.event.action === 'admin_request' &&
        e.http.request.method === 'PUT' &&
        e.tollgate.labels.status === 200,
    );
    assert.equal(e.user.name, 'adam');
    assert.deepEqual(e.user.roles, ['admin']);
    assert.deepEqual(e.tollgate.diff, diff);
    const reload = await eventually(
      h,
      viewer,
      (e) => e.event.action === 'config_reload' && e.event.outcome === 'success',
    );
    assert.equal(reload.user.name, 'adam');
    // the old ETag is stale now
    assert.equal((await api(h, 'PUT', '/api/v1/config', admin, text, { 'if-match': etag })).status, 412);
  });

  it('an elevation is granted with a reason, used, and expires on its own: three privilege events', async () => {
    assert.equal((await api(h, 'GET', '/api/v1/tokens', operator)).status, 403);
    const noReason = await api(h, 'POST', '/api/v1/elevate', operator, { role: 'admin', for: '1s' });
    assert.equal(noReason.status, 400);
    assert.equal(
      (await api(h, 'POST', '/api/v1/elevate', viewer, { role: 'admin', for: '1s', reason: 'x' })).status,
      403,
    );
    const g = await api(h, 'POST', '/api/v1/elevate', operator, {
      role: 'admin',
      for: '1s',
      reason: 'incident 42: rotate tokens',
    });
    assert.equal(g.status, 200, JSON.stringify(g.body));
    assert.equal((await api(h, 'GET', '/api/v1/tokens', operator)).status, 200, 'elevated to admin');
    await sleep(1300);
    assert.equal((await api(h, 'GET', '/api/v1/tokens', operator)).status, 403, 'back to operator');
    const granted = await eventually(h, viewer, (e) => e.event.action === 'elevation_granted');
    const used = await eventually(h, viewer, (e) => e.event.action === 'elevation_used');
    const expired = await eventually(h, viewer, (e) => e.event.action === 'elevation_expired');
    for (const e of [granted, used, expired]) {
      assert.equal(e.tollgate.labels.category, 'privilege');
      assert.equal(e.tollgate.labels.token, 'otto');
    }
    assert.equal(granted.event.reason, 'incident 42: rotate tokens');
    assert.equal(granted.user.name, 'otto');
    assert.equal(used.url.path, '/api/v1/tokens');
    assert.deepEqual(used.user.roles, ['operator', 'admin']);
    assert.equal(expired.event.reason, 'expired');
    assert.equal(expired.user.name, 'tollgate', 'it ended by itself');
  });
});

/** Reads Server-Sent Events until `count` events with data arrived; returns them and the last id. */
function readEvents(
  url: string,
  bearer: string,
  count: number,
  lastEventId: string | null = null,
): Promise<{ events: { id: string; kind: string; data: Record<string, unknown> }[]; close(): void }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${bearer}` };
    if (lastEventId !== null) headers['last-event-id'] = lastEventId;
    const got: { id: string; kind: string; data: Record<string, unknown> }[] = [];
    const req = http.get(url, { headers }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`stream answered ${res.statusCode}`));
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (c: string) => {
        buf += c;
        let end = buf.indexOf('\n\n');
        while (end !== -1) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const id = /^id: (.*)$/m.exec(block)?.[1];
          const kind = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (id !== undefined && kind !== undefined && data !== undefined)
            got.push({ id, kind, data: JSON.parse(data) as Record<string, unknown> });
          end = buf.indexOf('\n\n');
        }
        if (got.length >= count) resolve({ events: got, close: () => req.destroy() });
      });
    });
    req.on('error', (err) => {
      if (got.length < count) reject(err);
    });
    setTimeout(() => {
      req.destroy();
      reject(new Error(`only ${got.length} of ${count} stream events arrived`));
    }, 8000).unref();
  });
}

describe('admin API: the live stream', () => {
  let b1: TestBackend;
  let h: Harness;
  let viewer: string;

  before(async () => {
    b1 = await startBackend('b1');
    h = await startTollgate(config([b1]));
    viewer = token(h, 'sam', 'viewer');
  });
  after(async () => {
    await h.close();
    await b1.close();
  });

  it('streams committed records that match the filters, with seq and hash, and resumes after Last-Event-ID without a gap', async () => {
    const base = `http://127.0.0.1:${h.app.admin!.port()}/api/v1/stream?status=4xx`;
    const first = readEvents(base, viewer, 2);
    await sleep(300); // subscribed
    for (const p of ['/ok/1', '/status/404', '/ok/2', '/status/418']) await (await fetch(h.url(p))).text();
    const one = await first;
    one.close();
    const paths = one.events.map((e) => (e.data.url as { path: string }).path);
    assert.deepEqual(paths, ['/status/404', '/status/418'], 'only 4xx records');
    for (const e of one.events) {
      const chain = (e.data.tollgate as { chain: { seq: number; hash: string } }).chain;
      assert.equal(String(chain.seq), e.id);
      assert.match(chain.hash, /^[0-9a-f]{64}$/);
      assert.equal(e.kind, 'request');
    }
    // while nobody listens, more happens
    for (const p of ['/status/401', '/ok/3', '/status/409']) await (await fetch(h.url(p))).text();
    const resumed = await readEvents(base, viewer, 2, one.events[1]!.id);
    resumed.close();
    assert.deepEqual(
      resumed.events.map((e) => (e.data.url as { path: string }).path),
      ['/status/401', '/status/409'],
    );
    const bad = await api(h, 'GET', '/api/v1/stream?client_ip=nope', viewer);
    assert.equal(bad.status, 400);
  });
});

describe('admin API: what the dashboard reads', () => {
  let b1: TestBackend;
  let h: Harness;
  let viewer: string;
  let operator: string;
  let admin: string;

  before(async () => {
    b1 = await startBackend('b1');
    h = await startTollgate(config([b1]));
    viewer = token(h, 'wanda-viewer', 'viewer');
    operator = token(h, 'otto-operator', 'operator');
    admin = token(h, 'alma-admin', 'admin');
  });
  after(async () => {
    await h.close();
    await b1.close();
  });

  it("GET /api/v1/whoami answers the token's name, role and what it may do; an elevation shows", async () => {
    const v = await api(h, 'GET', '/api/v1/whoami', viewer);
    assert.equal(v.status, 200);
    assert.deepEqual(
      { name: v.body.name, role: v.body.role, base: v.body.base_role, elevation: v.body.elevation },
      { name: 'wanda-viewer', role: 'viewer', base: 'viewer', elevation: null },
    );
    assert.deepEqual(v.body.can, {
      drain: false,
      silence: false,
      elevate: false,
      config: false,
      tokens: false,
    });
    const o = await api(h, 'GET', '/api/v1/whoami', operator);
    assert.deepEqual(o.body.can, { drain: true, silence: true, elevate: true, config: false, tokens: false });
    const a = await api(h, 'GET', '/api/v1/whoami', admin);
    assert.deepEqual(a.body.can, { drain: true, silence: true, elevate: false, config: true, tokens: true });
    assert.equal((await api(h, 'GET', '/api/v1/whoami', null)).status, 401);
    const up = await api(h, 'POST', '/api/v1/elevate', operator, {
      role: 'admin',
      for: '5m',
      reason: 'whoami test',
    });
    assert.equal(up.status, 200, JSON.stringify(up.body));
    const e = await api(h, 'GET', '/api/v1/whoami', operator);
    assert.equal(e.body.role, 'admin');
    assert.equal(e.body.base_role, 'operator');
    assert.equal((e.body.elevation as { role: string; reason: string }).role, 'admin');
    assert.equal((e.body.elevation as { role: string; reason: string }).reason, 'whoami test');
    assert.equal((e.body.can as { config: boolean }).config, true);
  });

  it('GET /api/v1/stats answers requests/s by status class and p50/p99 from the metrics history', async () => {
    for (let i = 0; i < 6; i++) await (await fetch(h.url(`/ok/${i}`))).text();
    for (let i = 0; i < 3; i++) await (await fetch(h.url('/status/503'))).text();
    let s: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) {
      s = (await api(h, 'GET', '/api/v1/stats?window=15m', viewer)).body;
      if ((s.requests as number) >= 9) break;
      await sleep(100);
    }
    assert.equal(s.requests, 9, JSON.stringify(s));
    assert.equal(s.step_s, 1);
    assert.equal(s.window_s, 900);
    const t = s.t as number[];
    const rps = s.rps as number[];
    const byClass = s.by_class as Record<string, number[]>;
    assert.equal(rps.length, t.length);
    for (const cls of ['1xx', '2xx', '3xx', '4xx', '5xx', 'none'])
      assert.equal(byClass[cls]!.length, t.length);
    assert.ok(
      byClass['5xx']!.some((r) => r > 0),
      '5xx counted',
    );
    assert.ok(
      byClass['2xx']!.some((r) => r > 0),
      '2xx counted',
    );
    assert.ok(
      (s.p50_ms as (number | null)[]).some((v) => v !== null && v > 0),
      'a p50 where there were requests',
    );
    const p99 = (s.p99_ms as (number | null)[]).filter((v) => v !== null) as number[];
    const p50 = (s.p50_ms as (number | null)[]).filter((v) => v !== null) as number[];
    assert.ok(Math.max(...p99) >= Math.max(...p50));
    const long = (await api(h, 'GET', '/api/v1/stats?window=2h', viewer)).body;
    assert.equal(long.step_s, 10);
    assert.equal(long.requests, 9);
    const coarse = (await api(h, 'GET', '/api/v1/stats?window=15m&step=10s', viewer)).body;
    assert.equal(coarse.step_s, 10);
    assert.equal(coarse.requests, 9);
    assert.equal((await api(h, 'GET', '/api/v1/stats?window=15m&step=7s', viewer)).status, 400);
    assert.equal((await api(h, 'GET', '/api/v1/stats?window=10s', viewer)).status, 400);
    assert.equal((await api(h, 'GET', '/api/v1/stats?window=100h', viewer)).status, 400);
  });

  it('GET /api/v1/errors groups failed requests by route, backend and termination with the newest samples', async () => {
    await (await fetch(h.url('/status/503'))).text();
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await fetch(h.url('/reset'));
      await res.text();
      ids.push(res.headers.get('x-request-id')!);
    }
    await h.record(ids[1]!);
    let body: Record<string, unknown> = {};
    let groups: { route: string; backend: string; termination: string; count: number; statuses: number[] }[] =
      [];
    for (let i = 0; i < 100; i++) {
      body = (await api(h, 'GET', '/api/v1/errors?since=10m', viewer)).body;
      groups = body.items as typeof groups;
      if (groups.some((g) => g.termination === 'upstream_reset' && g.count >= 2)) break;
      await sleep(100);
    }
    const reset = groups.find((g) => g.termination === 'upstream_reset') as
      | ((typeof groups)[number] & {
          samples: { request_id: string; status: number; message: string | null }[];
        })
      | undefined;
    assert.ok(reset !== undefined, JSON.stringify(body));
    assert.equal(reset.route, 'app');
    assert.equal(reset.backend, 'b1');
    assert.equal(reset.count, 2);
    assert.deepEqual(reset.statuses, [502]);
    assert.deepEqual(
      reset.samples.map((x) => x.request_id),
      [...ids].reverse(),
      'newest first',
    );
    assert.ok(reset.samples.every((x) => x.message !== null && x.message.length > 0));
    const passed = groups.find((g) => g.termination === 'ok');
    assert.deepEqual(passed?.statuses, [503], 'a 5xx passed through is a failure too');
    assert.equal(
      body.total,
      groups.reduce((n, g) => n + g.count, 0),
    );
    assert.equal((await api(h, 'GET', '/api/v1/errors?since=yesterday-ish', viewer)).status, 400);
  });

  it('GET /api/v1/events takes a list of actions, and reads=false leaves out successful reads', async () => {
    assert.equal((await api(h, 'POST', '/api/v1/pools/app/backends/b1/drain', operator)).status, 200);
    assert.equal((await api(h, 'POST', '/api/v1/pools/app/backends/b1/undrain', operator)).status, 200);
    await eventually(h, viewer, (e) => e.event.action === 'backend_undrained');
    const changes = (await api(h, 'GET', '/api/v1/events?reads=false&limit=1000', viewer)).body
      .items as AdminRecord[];
    assert.ok(changes.length > 0);
    assert.ok(
      !changes.some(
        (e) =>
          e.event.action === 'admin_request' &&
          e.http.request.method === 'GET' &&
          e.event.outcome === 'success',
      ),
      'no successful read',
    );
    assert.ok(changes.some((e) => e.url.path === '/api/v1/pools/app/backends/b1/drain'));
    assert.ok(changes.some((e) => e.event.action === 'admin_request' && e.event.outcome === 'failure'));
    const two = (
      await api(h, 'GET', '/api/v1/events?action=backend_drained,backend_undrained&limit=1000', viewer)
    ).body.items as AdminRecord[];
    assert.deepEqual(
      two.map((e) => e.event.action),
      ['backend_undrained', 'backend_drained'],
    );
    assert.equal((await api(h, 'GET', '/api/v1/events?reads=maybe', viewer)).status, 400);
  });
});

describe('admin API: the chain re-verified for the dashboard', () => {
  let b1: TestBackend;
  let h: Harness;
  let viewer: string;

  before(async () => {
    b1 = await startBackend('b1');
    h = await startTollgate(config([b1]));
    viewer = token(h, 'vera', 'viewer');
  });
  after(async () => {
    await h.close();
    await b1.close();
  });

  it('GET /api/v1/audit/health says up to which seq the chain was verified and when, and names a record altered later', async () => {
    const res = await fetch(h.url('/ok/tamper-me'));
    await res.text();
    const id = res.headers.get('x-request-id')!;
    const byId = await api(h, 'GET', `/api/v1/requests/${id}`, viewer).then(async (r) => {
      for (let i = 0; r.status !== 200 && i < 100; i++) {
        await sleep(50);
        r = await api(h, 'GET', `/api/v1/requests/${id}`, viewer);
      }
      return r;
    });
    const seq = (byId.body.tollgate as { chain: { seq: number } }).chain.seq;
    let chain: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) {
      const health = (await api(h, 'GET', '/api/v1/audit/health', viewer)).body;
      chain = health.chain as Record<string, unknown>;
      if (typeof chain.verified_seq === 'number' && chain.verified_seq >= seq) {
        assert.equal(health.lost, 0);
        assert.ok('lag_seconds' in health);
        break;
      }
      await sleep(50);
    }
    assert.equal(chain.enabled, true, JSON.stringify(chain));
    assert.equal(chain.ok, true, JSON.stringify(chain));
    assert.ok((chain.verified_seq as number) >= seq, JSON.stringify(chain));
    assert.ok(Math.abs(Date.parse(chain.verified_at as string) - Date.now()) < 60_000);
    // someone edits the stored record afterwards: the next pass names it
    const db = new Database(h.app.plan.audit.storePath);
    try {
      db.pragma('busy_timeout = 5000');
      const changed = db
        .prepare("UPDATE records SET rec = replace(rec, '/ok/tamper-me', '/ok/innocent') WHERE seq = ?")
        .run(seq);
      assert.equal(changed.changes, 1);
    } finally {
      db.close();
    }
    for (let i = 0; i < 100; i++) {
      chain = (await api(h, 'GET', '/api/v1/audit/health', viewer)).body.chain as Record<string, unknown>;
      if (chain.ok === false) break;
      await sleep(50);
    }
    assert.equal(chain.ok, false, JSON.stringify(chain));
    assert.equal(chain.problem, `seq ${seq} altered`);
    assert.equal(chain.first_bad_seq, seq);
  });
});

describe('admin API over HTTPS', () => {
  it('serves the API with admin.tls, and the token still decides', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-admin-tls-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
      ].concat([
        '-addext',
        'subjectAltName=DNS:localhost',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ]),
      { stdio: 'ignore' },
    );
    const b1 = await startBackend('b1');
    const h = await startTollgate(`listeners: [{ name: public, address: 127.0.0.1:0 }]
routes: [{ name: app, pool: app }]
pools: [{ name: app, backends: [{ name: b1, address: ${b1.address} }] }]
admin: { address: 127.0.0.1:0, tls: { cert: ${dir}/cert.pem, key: ${dir}/key.pem } }
`);
    try {
      const viewer = token(h, 'tls-viewer', 'viewer');
      assert.match(h.app.admin!.url(), /^https:\/\/127\.0\.0\.1:\d+$/);
      const get = (bearer: string | null) =>
        new Promise<{ status: number; body: string; protocol: string }>((resolve, reject) => {
          const req = https.get(
            `${h.app.admin!.url()}/api/v1/status`,
            {
              ca: fs.readFileSync(path.join(dir, 'cert.pem')),
              servername: 'localhost',
              headers: bearer === null ? {} : { authorization: `Bearer ${bearer}` },
            },
            (res) => {
              const protocol = (res.socket as tls.TLSSocket).getProtocol() ?? '';
              let body = '';
              res.setEncoding('utf8').on('data', (c: string) => (body += c));
              res.on('end', () => resolve({ status: res.statusCode!, body, protocol }));
            },
          );
          req.on('error', reject);
        });
      const okRes = await get(viewer);
      assert.equal(okRes.status, 200, okRes.body);
      assert.match(okRes.protocol, /^TLSv1\.[23]$/);
      assert.equal((JSON.parse(okRes.body) as { instance: string }).instance, 'test');
      assert.equal((await get(null)).status, 401);
      // plain HTTP to the TLS port is not an API call
      await assert.rejects(fetch(`http://127.0.0.1:${h.app.admin!.port()}/api/v1/status`));
    } finally {
      await h.close();
      await b1.close();
    }
  });
});

describe('admin API: secrets in the config', () => {
  it('GET /api/v1/config shows a sink URL password to admins only', async () => {
    const b1 = await startBackend('b1');
    const h = await startTollgate(`listeners: [{ name: public, address: 127.0.0.1:0 }]
routes: [{ name: app, pool: app }]
pools: [{ name: app, backends: [{ name: b1, address: ${b1.address} }] }]
admin: { address: 127.0.0.1:0 }
audit: { sinks: [{ type: postgres, url: "postgres://tg:s3cret-pw@127.0.0.1:1/audit" }] }
`);
    try {
      const viewer = token(h, 'cfg-viewer', 'viewer');
      const admin = token(h, 'cfg-admin', 'admin');
      const seen = await api(h, 'GET', '/api/v1/config', viewer);
      assert.equal(seen.status, 200);
      assert.ok(!JSON.stringify(seen.body).includes('s3cret-pw'), 'no password for a viewer');
      assert.match(String(seen.body.text), /postgres:\/\/tg:REDACTED@127\.0\.0\.1:1\/audit/);
      assert.equal(seen.body.redacted, true);
      const full = await api(h, 'GET', '/api/v1/config', admin);
      assert.match(String(full.body.text), /s3cret-pw/);
      assert.equal(full.body.etag, seen.body.etag, 'one ETag: the running config');
    } finally {
      await h.close();
      await b1.close();
    }
  });
});
