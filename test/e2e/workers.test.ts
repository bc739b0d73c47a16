import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore } from '../../src/store/index.js';
import type { LiveTollgate } from '../helpers/audit.js';
import { cli, freePort, launchTollgate, tempDir } from '../helpers/audit.js';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { buildDist } from '../helpers/process.js';

/**
 * `workers: 2` (issue 8): two worker processes share the listener; the primary is the one
 * sequencer of the chain, the one place the active checks run, and the metrics, admin API,
 * reload and drain act on every worker. Real processes, sockets and SQLite.
 */

interface WorkerView {
  id: number;
  pid: number | null;
  requests: number;
  connections: number;
}

/** One request on its own connection (so the primary hands it to the next worker), JSON body parsed. */
function get(
  port: number,
  p: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; id: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: p, agent: false, headers, timeout: 20_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body, id: String(res.headers['x-request-id'] ?? '') }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${p}: no answer within 20 s`)));
    req.on('error', reject);
    req.end();
  });
}

async function many(port: number, n: number, p = '/w', parallel = 10): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) {
        next++;
        statuses.push((await get(port, p)).status);
      }
    }),
  );
  return statuses;
}

async function until<T>(
  what: string,
  f: () => Promise<T | null | false> | T | null | false,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('workers: 2', () => {
  const dir = tempDir('tollgate-workers-');
  const dataDir = path.join(dir, 'data');
  const backends: TestBackend[] = [];
  let lone: TestBackend | undefined;
  let tg: LiveTollgate;
  let adminPort = 0;
  let token = '';
  let storePath = '';
  const config = (owner: string) => `workers: 2
routes:
  - { name: limited, match: { path_prefix: /limited }, pool: p, rate_limit: { rate: 1/s, burst: 10 } }
  - { name: flaky, match: { path_prefix: /status }, pool: q }
  - { name: r, match: { path_prefix: / }, pool: p, owner: ${owner} }
pools:
  - name: q
    outlier_detection: { consecutive_failures: 1, ejection_time: 60s }
    backends: [{ name: lone, address: ${lone?.address ?? '127.0.0.1:9'} }]
  - name: p
    algorithm: round_robin
    health_check: { path: /healthz, interval: 200ms, timeout: 500ms, healthy_threshold: 1, unhealthy_threshold: 2 }
    backends:
${backends.map((b) => `      - { name: ${b.name}, address: ${b.address} }`).join('\n')}
audit:
  durability: strict
  canary: { interval: 300ms, deadline: 5s }
admin:
  address: 127.0.0.1:${adminPort}
`;

  const api = async <T>(p: string, method = 'GET'): Promise<T> => {
    const res = await fetch(`http://127.0.0.1:${adminPort}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.status, 200, `${method} ${p}: ${await res.clone().text()}`);
    return (await res.json()) as T;
  };
  const workers = async () => (await api<{ workers: WorkerView[] | null }>('/api/v1/status')).workers!;
  const events = (action: string) => {
    const store = openStore(storePath, { readonly: true });
    try {
      return store.events({ action }, 1000).map(
        (row) =>
          JSON.parse(row.rec) as {
            event: { outcome: string; reason: string | null };
            tollgate: { labels: Record<string, unknown> };
          },
      );
    } finally {
      store.close();
    }
  };

  before(async () => {
    buildDist();
    for (const name of ['b1', 'b2', 'b3']) backends.push(await startBackend(name));
    lone = await startBackend('lone');
    adminPort = await freePort();
    fs.mkdirSync(dataDir, { recursive: true });
    storePath = path.join(dataDir, 'audit.db');
    const made = cli(['token', 'create', '--name', 'ops', '--role', 'admin', '--json', '--data', dataDir]);
    assert.equal(made.code, 0, made.stderr);
    token = (JSON.parse(made.stdout) as { token: string }).token;
    tg = await launchTollgate(dir, dataDir, config('team-a'));
    // the listener answers once a worker listens; the admin API opens after every worker does
    await until('both workers listening', async () => (await workers().catch(() => [])).length === 2);
  });
  after(async () => {
    await tg?.kill();
    for (const b of backends) await b.close();
    await lone?.close();
  });

  it('serves from both worker processes, and one chain in the primary holds every request', async () => {
    const ws = await workers();
    assert.equal(new Set(ws.map((w) => w.pid)).size, 2);
    assert.ok(!ws.some((w) => w.pid === tg.child.pid), 'the primary serves no traffic itself');
    const statuses = await many(tg.port, 200);
    assert.deepEqual(
      statuses.filter((s) => s !== 200),
      [],
    );
    const after = await workers();
    assert.equal(
      after.reduce((n, w) => n + w.requests, 0),
      200,
    );
    for (const w of after) assert.ok(w.requests >= 20, `worker ${w.id} served ${w.requests} of 200`);
    // durability: strict — a response ends only after its record is committed, across the process boundary
    const one = await get(tg.port, '/strict');
    const store = openStore(storePath, { readonly: true });
    try {
      assert.equal(store.byRequestId(one.id).length, 1, 'the record is committed when the response ends');
    } finally {
      store.close();
    }
    const metrics = await fetch(`http://127.0.0.1:${adminPort}/metrics`, {
      headers: { authorization: `Bearer ${token}` },
    }).then((r) => r.text());
    const total = metrics
      .split('\n')
      .filter((l) => l.startsWith('tollgate_requests_total{'))
      .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    assert.equal(total, 201, 'the metrics count every worker’s requests');
  });

  it("canaries go through a worker and reach the primary's store", async () => {
    const canaries = await until('a canary run', () => {
      const runs = events('audit_canary');
      return runs.length > 0 ? runs : null;
    });
    assert.equal(canaries[0]!.event.outcome, 'success', JSON.stringify(canaries[0]));
  });

  it('a rate limit holds for the instance, not once per worker (leases from the primary)', async () => {
    const before = await workers();
    const t0 = Date.now();
    const statuses = await many(tg.port, 40, '/limited');
    const seconds = (Date.now() - t0) / 1000;
    const after = await workers();
    for (const w of after) {
      const was = before.find((x) => x.id === w.id)!.requests;
      assert.ok(w.requests > was, `worker ${w.id} took part`);
    }
    const admitted = statuses.filter((s) => s === 200).length;
    assert.equal(admitted + statuses.filter((s) => s === 429).length, 40);
    // the burst, what 1/s refilled meanwhile, and at most one request on credit per worker;
    // a limit per worker would admit about twice the burst
    assert.ok(admitted >= 10, `admitted ${admitted}`);
    assert.ok(admitted <= 10 + Math.ceil(seconds) + 2, `admitted ${admitted} in ${seconds.toFixed(2)} s`);
  });

  it('runs the active checks once, in the primary, and every worker follows their verdict', async () => {
    const b3 = backends[2]!;
    b3.healthy = false;
    await until('b3 unhealthy', async () => {
      const list = await api<{ items: { name: string; healthy: boolean }[] }>('/api/v1/pools/p/backends');
      return list.items.find((b) => b.name === 'b3')?.healthy === false;
    });
    const before = b3.count();
    const statuses = await many(tg.port, 60);
    assert.ok(statuses.every((s) => s === 200));
    assert.equal(b3.count(), before, 'no worker sent a request to the unhealthy backend');
    const down = events('backend_unhealthy').filter((e) => e.tollgate.labels.backend === 'b3');
    assert.equal(down.length, 1, 'one checker, one event (not one per worker)');
    b3.healthy = true;
    await until('b3 healthy', async () => {
      const list = await api<{ items: { name: string; healthy: boolean }[] }>('/api/v1/pools/p/backends');
      return list.items.find((b) => b.name === 'b3')?.healthy === true;
    });
  });

  it('an admin drain reaches every worker', async () => {
    const b1 = backends[0]!;
    await api('/api/v1/pools/p/backends/b1/drain', 'POST');
    const before = b1.count();
    const statuses = await many(tg.port, 60);
    assert.ok(statuses.every((s) => s === 200));
    assert.equal(b1.count(), before, 'no worker sent a request to the drained backend');
    await api('/api/v1/pools/p/backends/b1/undrain', 'POST');
    await many(tg.port, 30);
    assert.ok(b1.count() > before, 'undrained: it takes requests again');
  });

  it('SIGHUP reloads every worker', async () => {
    fs.writeFileSync(tg.configPath, fs.readFileSync(tg.configPath, 'utf8').replace('team-a', 'team-b'));
    tg.child.kill('SIGHUP');
    await until('the reload is recorded', () =>
      events('config_reload').some((e) => e.event.outcome === 'success'),
    );
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await get(tg.port, '/after-reload')).id);
    const store = openStore(storePath, { readonly: true });
    try {
      for (const id of ids) {
        const rec = JSON.parse(store.byRequestId(id)[0]!.rec) as { tollgate: { owner: string } };
        assert.equal(rec.tollgate.owner, 'team-b');
      }
    } finally {
      store.close();
    }
  });

  it("a worker's own event (a passive ejection) reaches the chain labelled with that worker", async () => {
    const ids = (await workers()).map((w) => w.id);
    const res = await get(tg.port, '/status/500');
    assert.equal(res.status, 500);
    const ejected = await until('backend_ejected in the store', () => {
      const e = events('backend_ejected');
      return e.length > 0 ? e : null;
    });
    assert.equal(ejected.length, 1, 'one ejection, by the one worker that saw the failure');
    const worker = ejected[0]!.tollgate.labels.worker;
    assert.ok(
      ids.includes(worker as number),
      `labelled worker ${String(worker)}, workers are ${ids.join(', ')}`,
    );
  });

  it('a worker that dies is recorded and replaced, and traffic goes on', async () => {
    const [first] = await workers();
    process.kill(first!.pid!, 'SIGKILL');
    const replaced = await until('a new worker 1', async () => {
      const w = (await workers()).find((x) => x.id === first!.id);
      return w !== undefined && w.pid !== first!.pid ? w : null;
    });
    assert.notEqual(replaced.pid, first!.pid);
    const exited = events('worker_exited');
    assert.equal(exited.length, 1);
    assert.match(exited[0]!.event.reason ?? '', /SIGKILL/);
    const statuses = await many(tg.port, 40);
    assert.ok(statuses.every((s) => s === 200));
  });

  it('SIGTERM drains every worker: the request in flight finishes and is recorded, then all exit', async () => {
    const pids = (await workers()).map((w) => w.pid!);
    const hits = () => backends.reduce((n, b) => n + (b.hits.get('/slow') ?? 0), 0);
    const before = hits();
    const slow = get(tg.port, '/slow?ms=1500');
    // SIGTERM once the request is in flight at a backend (not while the primary still hands its connection over)
    await until('the slow request at a backend', () => hits() > before);
    tg.child.kill('SIGTERM');
    const res = await slow;
    assert.equal(res.status, 200);
    const { code } = await Promise.race([
      tg.exited,
      sleep(60_000).then(() => {
        throw new Error(`tollgate did not exit within 60 s of SIGTERM: ${tg.stderr().slice(-3000)}`);
      }),
    ]);
    assert.equal(code, 0, tg.stderr().slice(-3000));
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), 'worker process gone');
    const store = openStore(storePath, { readonly: true });
    try {
      assert.equal(store.byRequestId(res.id).length, 1);
    } finally {
      store.close();
    }
    const verify = cli(['verify', '--data', dataDir]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /chain intact/);
  });
});
