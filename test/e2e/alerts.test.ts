import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AlertView } from '../../src/alerts/index.js';
import { compileConfigText } from '../../src/config/index.js';
import { cliAsync, freePort } from '../helpers/audit.js';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { buildDist } from '../helpers/process.js';
import { token } from '../helpers/tokens.js';
import type { Harness } from '../helpers/tollgate.js';
import { startTollgate } from '../helpers/tollgate.js';

/**
 * Alerts (issue 5, "Deliver" 3–5): rules over live traffic go pending → firing → resolved, each
 * transition an admin event; notifications reach a real webhook receiver with the context a
 * team needs (owner, sample request ids that `explain` resolves, latest errors) and a real
 * Prometheus Alertmanager; silences hold notifications back.
 */

interface Receiver {
  url: string;
  bodies: AlertView[];
  close(): Promise<void>;
}

async function receiver(): Promise<Receiver> {
  const bodies: AlertView[] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => {
      bodies.push(JSON.parse(text) as AlertView);
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    bodies,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function until<T>(what: string, fn: () => T | undefined, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

describe('alerts: error rate and latency rules to a real webhook receiver', () => {
  let api: TestBackend;
  let fast: TestBackend;
  let slow: TestBackend;
  let hook: Receiver;
  let h: Harness;
  let failing = false;

  before(async () => {
    buildDist();
    api = await startBackend('api-1', (_req, res) => {
      res.writeHead(failing ? 500 : 200);
      res.end(failing ? 'boom' : 'ok');
    });
    fast = await startBackend('fast-1', (_req, res) => {
      res.writeHead(200);
      res.end('ok');
    });
    slow = await startBackend('slow-1', (_req, res) => {
      setTimeout(() => {
        res.writeHead(200);
        res.end('ok');
      }, 400);
    });
    hook = await receiver();
    h = await startTollgate(`listeners:
  - { name: public, address: 127.0.0.1:0 }
routes:
  - { name: api, match: { path_prefix: /api }, pool: api, owner: team-payments }
  - { name: web, match: { path_prefix: /web }, pool: web, owner: team-web }
pools:
  - { name: api, backends: [ { name: api-1, address: ${api.address} } ], retries: { attempts: 0 } }
  - name: web
    algorithm: round_robin
    backends: [ { name: fast-1, address: ${fast.address} }, { name: slow-1, address: ${slow.address} } ]
admin: { address: 127.0.0.1:0 }
alerts:
  notifiers:
    - { name: oncall, type: webhook, url: ${hook.url} }
  rules:
    - { name: api-5xx, when: error_rate, route: api, above: 20%, window: 3s, for: 1s, cooldown: 1s, notify: [oncall] }
    - { name: web-slow, when: latency_p99, pool: web, above: 250ms, window: 3s, notify: [oncall] }
`);
  });
  after(async () => {
    await h.close();
    await hook.close();
    await api.close();
    await fast.close();
    await slow.close();
  });

  it('error_rate fires within window + for + 2 s with owner, samples that explain resolves and the latest errors, then resolves after recovery', async () => {
    for (let i = 0; i < 10; i++) await (await fetch(h.url('/api/ok'))).text();
    failing = true;
    const started = Date.now();
    const sent: string[] = [];
    const pump = setInterval(() => {
      void fetch(h.url('/api/pay'))
        .then(async (r) => {
          await r.text();
          sent.push(r.headers.get('x-request-id')!);
        })
        .catch(() => {});
    }, 50);
    let firing: AlertView;
    try {
      firing = await until(
        'a firing webhook',
        () => hook.bodies.find((b) => b.rule === 'api-5xx' && b.status === 'firing'),
        3000 + 1000 + 2000 + 1000,
      );
    } finally {
      clearInterval(pump);
    }
    const took = Date.now() - started;
    assert.ok(took <= 3000 + 1000 + 2000, `fired after ${took} ms`);
    assert.equal(firing.route, 'api');
    assert.equal(firing.owner, 'team-payments');
    assert.equal(firing.threshold, '20%');
    assert.ok(firing.value > 0.2 && firing.value <= 1, `value ${firing.value}`);
    assert.match(
      firing.summary,
      /^5xx ratio \d+\.\d% over 3\.00s on route api \(owner team-payments\) is above 20%$/,
    );
    assert.ok(firing.samples.length > 0 && firing.samples.length <= 5);
    for (const s of firing.samples) {
      assert.equal(s.status, 500);
      assert.match(s.request_id, /^[0-9a-f]{32}$/);
      assert.equal(s.explain, `tollgate explain ${s.request_id}`);
      assert.match(s.url ?? '', /\/api\/v1\/requests\//);
    }
    await sleep(150); // the sample's record is committed
    const story = await cliAsync(['explain', firing.samples[0]!.request_id, '--data', h.dataDir]);
    assert.equal(story.code, 0, story.stderr);
    assert.match(story.stdout, /500/);
    const events = h.events.filter((e) => e.labels.rule === 'api-5xx').map((e) => e.action);
    assert.deepEqual(events.slice(0, 2), ['alert_pending', 'alert_firing']);

    failing = false;
    for (let i = 0; i < 10; i++) await (await fetch(h.url('/api/ok'))).text();
    const resolved = await until(
      'a resolved webhook',
      () => hook.bodies.find((b) => b.rule === 'api-5xx' && b.status === 'resolved'),
      8000,
    );
    assert.equal(resolved.id, firing.id);
    assert.ok(resolved.resolved_at !== null);
    assert.equal(
      hook.bodies.filter((b) => b.rule === 'api-5xx' && b.status === 'firing').length,
      1,
      'one firing notification (de-duplicated)',
    );
    assert.ok(h.events.some((e) => e.action === 'alert_resolved' && e.labels.rule === 'api-5xx'));
  });

  it('latency_p99 fires naming the slowed backend, and the slow-backend flag shows in the API', async () => {
    const viewer = token(h, 't-viewer', 'viewer');
    const pump = setInterval(() => {
      void fetch(h.url('/web/x'))
        .then((r) => r.text())
        .catch(() => {});
    }, 20);
    let firing: AlertView;
    try {
      firing = await until(
        'a latency webhook',
        () => hook.bodies.find((b) => b.rule === 'web-slow' && b.status === 'firing'),
        10_000,
      );
      await until('the backend_slow event', () => h.events.find((e) => e.action === 'backend_slow'), 5000);
      const res = await fetch(`http://127.0.0.1:${h.app.admin!.port()}/api/v1/pools/web/backends`, {
        headers: { authorization: `Bearer ${viewer}` },
      });
      const items = ((await res.json()) as { items: { name: string; slow: boolean }[] }).items;
      assert.deepEqual(
        items.map((b) => [b.name, b.slow]),
        [
          ['fast-1', false],
          ['slow-1', true],
        ],
      );
      const listed = await fetch(`http://127.0.0.1:${h.app.admin!.port()}/api/v1/alerts?state=firing`, {
        headers: { authorization: `Bearer ${viewer}` },
      });
      const alerts = ((await listed.json()) as { items: AlertView[] }).items;
      assert.ok(alerts.some((a) => a.rule === 'web-slow' && a.backend === 'slow-1'));
    } finally {
      clearInterval(pump);
    }
    assert.equal(firing.backend, 'slow-1');
    assert.equal(firing.pool, 'web');
    assert.equal(firing.owner, 'team-web');
    assert.ok(firing.value > 250, `p99 ${firing.value}`);
    assert.ok(
      !hook.bodies.some((b) => b.rule === 'web-slow' && b.backend === 'fast-1'),
      'the fast backend never fires',
    );
    const slowEvent = h.events.find((e) => e.action === 'backend_slow')!;
    assert.equal(slowEvent.labels.backend, 'slow-1');
  });
});

describe('alerts: config_changed to a real Alertmanager, and silences', () => {
  let b1: TestBackend;
  let hook: Receiver;
  let h: Harness;
  let am: ChildProcess;
  let amDir: string;
  let amPort: number;

  before(async () => {
    b1 = await startBackend('b1');
    hook = await receiver();
    amPort = await freePort();
    amDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-am-'));
    fs.writeFileSync(
      path.join(amDir, 'alertmanager.yml'),
      'route: { receiver: blackhole, group_wait: 1s }\nreceivers: [ { name: blackhole } ]\n',
    );
    am = spawn(
      'prometheus-alertmanager',
      [
        `--config.file=${path.join(amDir, 'alertmanager.yml')}`,
        `--storage.path=${path.join(amDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${amPort}`,
        '--cluster.listen-address=',
      ],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${amPort}/-/ready`)).ok) break;
      } catch {}
      await sleep(100);
    }
    h = await startTollgate(`listeners:
  - { name: public, address: 127.0.0.1:0 }
routes:
  - { name: app, match: { path_prefix: / }, pool: app }
pools:
  - { name: app, backends: [ { name: b1, address: ${b1.address} } ] }
admin: { address: 127.0.0.1:0 }
alerts:
  notifiers:
    - { name: am, type: alertmanager, url: http://127.0.0.1:${amPort} }
    - { name: hook, type: webhook, url: ${hook.url} }
  rules:
    - { name: config-changed, when: config_changed, window: 2s, notify: [am] }
    - { name: changed-too, when: config_changed, window: 2s, notify: [hook] }
`);
  });
  after(async () => {
    await h.close();
    am.kill('SIGTERM');
    await new Promise((r) => am.once('exit', r));
    fs.rmSync(amDir, { recursive: true, force: true });
    await hook.close();
    await b1.close();
  });

  it('a config change fires config_changed, and Alertmanager holds the alert with its labels', async () => {
    const next = compileConfigText(
      h.app.plan.text.replace('b1, address', 'b1, weight: 2, address'),
      h.app.plan.source,
    );
    await h.app.reload(next, 'carol');
    type AmAlert = {
      labels: Record<string, string>;
      annotations: Record<string, string>;
      status: { state: string };
    };
    const found = await (async () => {
      for (let i = 0; i < 100; i++) {
        const res = await fetch(
          `http://127.0.0.1:${amPort}/api/v2/alerts?filter=${encodeURIComponent('alertname="config-changed"')}`,
        );
        const list = (await res.json()) as AmAlert[];
        if (list.length > 0) return list[0]!;
        await sleep(100);
      }
      throw new Error('Alertmanager never received the alert');
    })();
    assert.equal(found.labels.tollgate_rule, 'config_changed');
    assert.equal(found.labels.instance, 'test');
    assert.match(found.annotations.summary ?? '', /the config changed 1 time\(s\) in 2\.00s \(by carol\)/);
    assert.equal(found.status.state, 'active');
  });

  it('a silenced alert is recorded and sends no resolution; an unknown id is 404', async () => {
    const operator = token(h, 't-operator', 'operator');
    const firing = await until(
      'changed-too firing',
      () => hook.bodies.find((b) => b.rule === 'changed-too' && b.status === 'firing'),
      5000,
    );
    const base = `http://127.0.0.1:${h.app.admin!.port()}/api/v1/alerts`;
    const post = (id: string, body: object) =>
      fetch(`${base}/${id}/silence`, {
        method: 'POST',
        headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    assert.equal((await post('nope', { for: '1m', reason: 'x' })).status, 404);
    assert.equal((await post(firing.id, { for: '1m' })).status, 400, 'a reason is required');
    const res = await post(firing.id, { for: '1m', reason: 'planned change window' });
    assert.equal(res.status, 200);
    const silenced = h.events.find((e) => e.action === 'alert_silenced')!;
    assert.equal(silenced.actor, 't-operator');
    assert.equal(silenced.reason, 'planned change window');
    await until(
      'alert resolved',
      () => h.events.find((e) => e.action === 'alert_resolved' && e.labels.rule === 'changed-too'),
      6000,
    );
    await sleep(300);
    assert.equal(
      hook.bodies.filter((b) => b.rule === 'changed-too' && b.status === 'resolved').length,
      0,
      'silenced: no resolution sent',
    );
  });
});

describe('alerts: a flooding client and an authentication burst', () => {
  let b1: TestBackend;
  let hook: Receiver;
  let h: Harness;

  before(async () => {
    b1 = await startBackend('b1');
    hook = await receiver();
    h = await startTollgate(`listeners:
  - { name: public, address: 127.0.0.1:0, trusted_proxies: [127.0.0.1/32] }
routes:
  - { name: app, match: { path_prefix: / }, pool: app, owner: team-app }
pools:
  - { name: app, backends: [ { name: b1, address: ${b1.address} } ] }
admin: { address: 127.0.0.1:0, lockout: { failures: 100, window: 1m } }
alerts:
  notifiers:
    - { name: hook, type: webhook, url: ${hook.url} }
  rules:
    - { name: hot-ip, when: client_rate, above: 5/s, window: 1m }
    - { name: auth-burst, when: auth_failures, above: 5/m, window: 1m }
`);
  });
  after(async () => {
    await h.close();
    await hook.close();
    await b1.close();
  });

  it('one address flooding the listener fires client_rate naming it, and tops GET /api/v1/clients/top', async () => {
    const send = (ip: string) =>
      fetch(h.url('/x'), { headers: { 'x-forwarded-for': ip } }).then((r) => r.text());
    // background: many addresses, a few requests each
    for (let i = 0; i < 40; i++) await send(`198.51.100.${i + 1}`);
    let sent = 0;
    const deadline = Date.now() + 20_000;
    let firing: AlertView | undefined;
    while (firing === undefined && Date.now() < deadline) {
      await Promise.all(Array.from({ length: 20 }, () => send('203.0.113.7')));
      sent += 20;
      firing = hook.bodies.find((b) => b.rule === 'hot-ip' && b.status === 'firing');
      if (firing === undefined && sent >= 400) await sleep(100);
    }
    assert.ok(firing !== undefined, `client_rate did not fire after ${sent} requests`);
    assert.equal(firing.client, '203.0.113.7');
    assert.equal(firing.key, '203.0.113.7');
    assert.ok(
      hook.bodies.every((b) => b.rule !== 'hot-ip' || b.client === '203.0.113.7'),
      'no other address fires',
    );
    assert.equal(firing.top_clients[0]?.key, '203.0.113.7');
    const viewer = token(h, 't-viewer', 'viewer');
    const res = await fetch(
      `http://127.0.0.1:${h.app.admin!.port()}/api/v1/clients/top?window=1m&by=client_ip&limit=3`,
      {
        headers: { authorization: `Bearer ${viewer}` },
      },
    );
    assert.equal(res.status, 200);
    const top = (await res.json()) as {
      items: { key: string; requests: number; errors: number; bytes: number; error_bound: number }[];
    };
    assert.equal(top.items[0]!.key, '203.0.113.7');
    assert.ok(top.items[0]!.requests >= sent, `${top.items[0]!.requests} ≥ ${sent}`);
    assert.equal(top.items[0]!.errors, 0);
    assert.ok(top.items[0]!.bytes > 0);
    assert.ok(top.items.length === 3 && top.items[1]!.requests < 5);
    const bad = await fetch(`http://127.0.0.1:${h.app.admin!.port()}/api/v1/clients/top?window=2m`, {
      headers: { authorization: `Bearer ${viewer}` },
    });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { message: string }).message, /1m.*5m.*15m/);
  });

  it('a burst of bad admin tokens fires auth_failures', async () => {
    for (let i = 0; i < 8; i++) {
      const r = await fetch(`http://127.0.0.1:${h.app.admin!.port()}/api/v1/status`, {
        headers: { authorization: `Bearer tgt_guess${i}` },
      });
      assert.equal(r.status, 401);
    }
    const firing = await until(
      'auth-burst firing',
      () => hook.bodies.find((b) => b.rule === 'auth-burst' && b.status === 'firing'),
      5000,
    );
    assert.match(firing.summary, /^\d+ authentication failures in 60\.0s, above 5\/m$/);
    assert.ok(firing.value * 60 >= 8 - 0.001);
  });
});
