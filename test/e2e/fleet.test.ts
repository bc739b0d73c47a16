import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { parse, stringify } from 'yaml';
import type { AdminRecord } from '../../src/audit/index.js';
import type { LiveTollgate } from '../helpers/audit.js';
import { cliAsync, freePort, launchTollgate } from '../helpers/audit.js';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { buildWeb, launchBrowser } from '../helpers/browser.js';
import { buildDist } from '../helpers/process.js';
import type { Etcd, Postgres, Redis } from '../helpers/services.js';
import { startEtcd, startPostgres, startRedis } from '../helpers/services.js';
import { readStore } from '../helpers/store.js';

/**
 * Fleet mode (issue 10): three Tollgate processes on loopback share one etcd (config), one
 * Redis (rate-limit buckets) and one PostgreSQL (the audit view). All three services are real
 * and private to this test.
 */
interface Instance {
  name: string;
  dir: string;
  dataDir: string;
  adminUrl: string;
  yaml: string;
  tg: LiveTollgate;
}

const agent = new Agent({ connections: 8, keepAliveTimeout: 10_000 });
after(() => agent.close());

async function get(url: string, headers: Record<string, string> = {}) {
  const r = await request(url, { headers, dispatcher: agent });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, text };
}

describe('fleet: three instances, one etcd, one Redis, one PostgreSQL', () => {
  let etcd: Etcd;
  let redis: Redis;
  let pg: Postgres;
  let a: TestBackend;
  let b: TestBackend;
  let root: string;
  let token: string;
  /** A viewer token per instance (tokens live in each instance's store). */
  const viewers: string[] = [];
  /** An admin token per instance but edge-1 (made on first use). */
  const admins = new Map<string, string>();
  const adminToken = async (i: Instance): Promise<string> => {
    let t = admins.get(i.name);
    if (t === undefined) {
      const r = await cliAsync([
        'token',
        'create',
        '--name',
        'ops-bob',
        '--role',
        'admin',
        '--data',
        i.dataDir,
      ]);
      assert.equal(r.code, 0, r.stderr);
      t = r.stdout.trim();
      admins.set(i.name, t);
    }
    return t;
  };
  const fleet: Instance[] = [];

  const admin = async (i: Instance, method: string, p: string, body?: string, headers = {}) => {
    const r = await request(`${i.adminUrl}${p}`, {
      method: method as 'GET',
      body,
      headers: { authorization: `Bearer ${token}`, ...headers },
      dispatcher: agent,
    });
    const text = await r.body.text();
    return { status: r.statusCode, headers: r.headers, json: JSON.parse(text) as Record<string, unknown> };
  };

  async function launch(i: Instance): Promise<void> {
    i.tg = await launchTollgate(i.dir, i.dataDir, i.yaml);
    // the admin API answers once the instance has joined the fleet
    for (let n = 0; ; n++) {
      try {
        if ((await get(`${i.adminUrl}/api/v1/status`)).status === 401) return;
      } catch {}
      if (n > 200) throw new Error(`${i.name}: admin API did not answer`);
      await sleep(50);
    }
  }

  before(async () => {
    buildDist();
    [etcd, redis, pg] = await Promise.all([startEtcd(), startRedis(), startPostgres()]);
    a = await startBackend('a', (_req, res) => res.end('a'));
    b = await startBackend('b', (_req, res) => res.end('b'));
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-fleet-'));
    const shared = `routes:
  - { name: limited, match: { path_prefix: /limited }, pool: a, rate_limit: { per: client_ip, rate: 100/s, burst: 50 } }
  - { name: web, match: { path_prefix: / }, pool: a }
pools:
  - { name: a, backends: [ { name: a1, address: ${a.address} } ] }
  - { name: b, backends: [ { name: b1, address: ${b.address} } ] }
audit:
  durability: strict
  sinks: [ { type: postgres, url: "${pg.url}" } ]
alerts:
  rules: [ { name: fleet-deps, when: fleet_degraded } ]
`;
    for (let n = 1; n <= 3; n++) {
      const dir = path.join(root, `edge-${n}`);
      fs.mkdirSync(dir);
      const adminPort = await freePort();
      fleet.push({
        name: `edge-${n}`,
        dir,
        dataDir: path.join(dir, 'data'),
        adminUrl: `http://127.0.0.1:${adminPort}`,
        yaml: `${shared}admin: { address: 127.0.0.1:${adminPort} }
fleet:
  instance: edge-${n}
  etcd: { endpoints: [${etcd.url}], prefix: /fleet-test/, lease_ttl: 3s }
  redis: { url: ${redis.url}, timeout: 300ms }
`,
        tg: null as unknown as LiveTollgate,
      });
    }
    const t = await cliAsync([
      'token',
      'create',
      '--name',
      'ops-alice',
      '--role',
      'admin',
      '--data',
      fleet[0]!.dataDir,
    ]);
    assert.equal(t.code, 0, t.stderr);
    token = t.stdout.trim();
    for (const i of fleet) {
      const v = await cliAsync([
        'token',
        'create',
        '--name',
        'viewer',
        '--role',
        'viewer',
        '--data',
        i.dataDir,
      ]);
      assert.equal(v.code, 0, v.stderr);
      viewers.push(v.stdout.trim());
    }
    // the first seeds the fleet config; the others join it
    await launch(fleet[0]!);
    await Promise.all(fleet.slice(1).map(launch));
  });

  after(async () => {
    await Promise.all(fleet.map((i) => i.tg?.stop()));
    await Promise.all([a?.close(), b?.close()]);
    await Promise.all([etcd?.destroy(), redis?.destroy(), pg?.destroy()]);
    if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
  });

  it('a config change through one admin API is live on all three within 2 s, recorded once under the actor; the others record the revision they applied', async () => {
    for (const i of fleet) assert.equal((await get(i.tg.url('/'))).text, 'a');
    const current = await admin(fleet[0]!, 'GET', '/api/v1/config');
    assert.equal(current.status, 200);
    const config = parse(current.json.text as string) as { routes: { pool: string }[] };
    config.routes[1]!.pool = 'b';
    const started = Date.now();
    const put = await admin(fleet[0]!, 'PUT', '/api/v1/config', stringify(config), {
      'if-match': current.headers.etag as string,
      'content-type': 'application/yaml',
    });
    assert.equal(put.status, 200, JSON.stringify(put.json));
    const liveAfter: number[] = [];
    await Promise.all(
      fleet.map(async (i) => {
        while ((await get(i.tg.url('/'))).text !== 'b') {
          assert.ok(Date.now() - started < 2000, `${i.name} still routes to a after 2 s`);
          await sleep(10);
        }
        liveAfter.push(Date.now() - started);
      }),
    );
    console.log(
      `config change live on all three after ${Math.max(...liveAfter)} ms (${liveAfter.join(', ')})`,
    );
    const revision = Number(
      JSON.parse(etcd.etcdctl('get', '/fleet-test/config', '-w', 'json')).kvs[0].mod_revision,
    );
    // the admin trail: one change by ops-alice in the whole fleet; every other instance applied it as Tollgate
    let changes: AdminRecord[] = [];
    const applied: AdminRecord[] = [];
    for (let n = 0; n < 100; n++) {
      changes = [];
      applied.length = 0;
      for (const i of fleet) {
        for (const e of readStore(i.dataDir).admin) {
          if (e.url.path === '/api/v1/config' && e.http.request.method === 'PUT') changes.push(e);
          if (e.event.action === 'config_reload' && e.tollgate.labels.fleet_revision === revision)
            applied.push(e);
        }
      }
      if (changes.length >= 1 && applied.length >= 3) break;
      await sleep(100);
    }
    assert.equal(changes.length, 1, 'one admin event for the change in the whole fleet');
    assert.equal(changes[0]!.user.name, 'ops-alice');
    assert.equal(changes[0]!.tollgate.instance, 'edge-1');
    assert.equal(applied.length, 3, 'each instance records the revision it applied');
    const others = applied.filter((e) => e.tollgate.instance !== 'edge-1');
    assert.equal(others.length, 2);
    for (const e of others) {
      assert.equal(e.user.name, 'tollgate', 'the others applied it, they did not change it');
      assert.equal(e.tollgate.labels.changed_by, 'ops-alice');
      assert.equal(e.tollgate.labels.origin, 'edge-1');
    }
    const metrics = await request(`${fleet[2]!.adminUrl}/metrics`, {
      headers: { authorization: `Bearer ${viewers[2]}` },
      dispatcher: agent,
    });
    const text = await metrics.body.text();
    assert.match(text, new RegExp(`^tollgate_fleet_config_revision ${revision}$`, 'm'));
    assert.match(text, /^tollgate_fleet_up\{dependency="etcd"\} 1$/m);
    assert.match(text, /^tollgate_fleet_up\{dependency="redis"\} 1$/m);
    // GET /api/v1/fleet on another instance: three live leases, all on the newest revision
    const view = await admin(fleet[0]!, 'GET', '/api/v1/fleet');
    assert.equal(view.status, 200);
    assert.equal(view.json.config_revision, revision);
    const items = view.json.items as {
      instance: string;
      applied_revision: number;
      health: string;
      redis: string;
    }[];
    assert.deepEqual(
      items.map((i) => [i.instance, i.applied_revision, i.health, i.redis]),
      fleet.map((i) => [i.name, revision, 'ok', 'up']),
    );
  });

  /** GET config from edge-1, change it, PUT it back; the revision it became. */
  async function change(
    edit: (c: Record<string, unknown[]>) => void,
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    const current = await admin(fleet[0]!, 'GET', '/api/v1/config');
    const config = parse(current.json.text as string) as Record<string, unknown[]>;
    edit(config);
    return admin(fleet[0]!, 'PUT', '/api/v1/config', stringify(config), {
      'if-match': current.headers.etag as string,
      'content-type': 'application/yaml',
    });
  }

  const etcdRevision = () =>
    Number(JSON.parse(etcd.etcdctl('get', '/fleet-test/config', '-w', 'json')).kvs[0].mod_revision);

  it('an instance that cannot apply a revision says so, keeps its last good config and shows as degraded; the next good revision heals it', async () => {
    // an API-key file the route names relative to each config folder: edge-3 has none
    for (const i of fleet.slice(0, 2))
      fs.writeFileSync(
        path.join(i.dir, 'keys.yaml'),
        `keys:\n  - { name: k, sha256: "${'0'.repeat(64)}" }\n`,
      );
    const before = etcdRevision();
    const put = await change((c) =>
      c.routes!.unshift({
        name: 'keyed',
        match: { path_prefix: '/keyed' },
        pool: 'a',
        auth: { type: 'api_key', keys_file: 'keys.yaml' },
      }),
    );
    assert.equal(put.status, 200, JSON.stringify(put.json));
    const bad = etcdRevision();
    const rejected = await fleetEvents('fleet_config_rejected', 1);
    assert.equal(rejected.length, 1);
    assert.equal(rejected[0]!.tollgate.instance, 'edge-3');
    assert.match(
      rejected[0]!.event.reason ?? '',
      new RegExp(
        `revision ${bad} of the fleet config cannot be applied on edge-3: .*keys\\.yaml.*revision ${before} keeps serving`,
      ),
    );
    assert.equal((await get(fleet[0]!.tg.url('/keyed'))).status, 401, 'edge-1 runs the new revision');
    assert.equal((await get(fleet[2]!.tg.url('/keyed'))).text, 'b', 'edge-3 keeps the last good one');
    let items: { instance: string; applied_revision: number; health: string; config_error: string | null }[] =
      [];
    for (let n = 0; n < 30; n++) {
      items = (await admin(fleet[0]!, 'GET', '/api/v1/fleet')).json.items as typeof items;
      if (items[2]?.config_error !== null) break;
      await sleep(100);
    }
    assert.deepEqual(
      items.map((i) => [i.instance, i.applied_revision, i.health]),
      [
        ['edge-1', bad, 'ok'],
        ['edge-2', bad, 'ok'],
        ['edge-3', before, 'degraded'],
      ],
    );
    assert.match(items[2]!.config_error ?? '', /keys\.yaml/);
    // the fix is a new revision that every instance can apply
    const fixed = await change((c) => c.routes!.shift());
    assert.equal(fixed.status, 200);
    const good = etcdRevision();
    for (let n = 0; n < 30; n++) {
      items = (await admin(fleet[0]!, 'GET', '/api/v1/fleet')).json.items as typeof items;
      if (items.every((i) => i.applied_revision === good)) break;
      await sleep(100);
    }
    assert.deepEqual(
      items.map((i) => [i.applied_revision, i.health, i.config_error]),
      fleet.map(() => [good, 'ok', null]),
    );
  });

  it('two admins changing the config at once through two instances: one change wins, the other is refused, none is lost', async () => {
    let won = 0;
    const outcomes: string[] = [];
    for (let round = 0; round < 4; round++) {
      // each admin reads the config of its instance, then both write at the same moment
      const prepared = await Promise.all(
        [0, 1].map(async (n) => {
          const i = fleet[n]!;
          const t = n === 0 ? token : await adminToken(i);
          const r = await request(`${i.adminUrl}/api/v1/config`, {
            headers: { authorization: `Bearer ${t}` },
            dispatcher: agent,
          });
          const body = (await r.body.json()) as { text: string };
          const config = parse(body.text) as {
            pools: { name: string; backends: { name: string; weight?: number }[] }[];
          };
          config.pools[0]!.backends[0]!.weight = 10 * round + n + 2;
          return { i, t, etag: r.headers.etag as string, text: stringify(config) };
        }),
      );
      const results = await Promise.all(
        prepared.map(async ({ i, t, etag, text }) => {
          const r = await request(`${i.adminUrl}/api/v1/config`, {
            method: 'PUT',
            body: text,
            headers: { authorization: `Bearer ${t}`, 'if-match': etag, 'content-type': 'application/yaml' },
            dispatcher: agent,
          });
          return { status: r.statusCode, body: (await r.body.json()) as { error?: string } };
        }),
      );
      const statuses = results.map((r) => r.status).sort();
      outcomes.push(results.map((r) => r.body.error ?? r.status).join('/'));
      assert.ok(
        statuses.filter((s) => s === 200).length <= 1,
        `both writes went through: ${JSON.stringify(results)}`,
      );
      for (const r of results)
        if (r.status !== 200)
          assert.ok(
            ['fleet_conflict', 'precondition_failed', 'conflict'].includes(r.body.error!),
            JSON.stringify(r.body),
          );
      won += statuses.filter((s) => s === 200).length;
      // whatever won is what every instance runs
      const weights = await Promise.all(
        fleet.map(async (i, n) => {
          for (let k = 0; ; k++) {
            const r = await request(`${i.adminUrl}/api/v1/config`, {
              headers: { authorization: `Bearer ${n === 0 ? token : await adminToken(i)}` },
              dispatcher: agent,
            });
            const body = (await r.body.json()) as { config: { pools: { backends: { weight: number }[] }[] } };
            const w = body.config.pools[0]!.backends[0]!.weight;
            if (k > 40 || (w >= 10 * round + 2 && w <= 10 * round + 3)) return w;
            await sleep(50);
          }
        }),
      );
      if (statuses.includes(200))
        assert.equal(new Set(weights).size, 1, `all instances run the winner: ${weights}`);
    }
    console.log(`concurrent changes (edge-1/edge-2) per round: ${outcomes.join(', ')}`);
    assert.ok(won >= 1, 'at least one round had a winner');
  });

  it('a change to an instance-local key through the API is refused: listeners, admin, data_dir and fleet belong to each file', async () => {
    const before = etcdRevision();
    const r = await change((c) => {
      (c as unknown as { admin: { address: string } }).admin.address = '127.0.0.1:1';
    });
    assert.equal(r.status, 422, JSON.stringify(r.json));
    assert.equal(r.json.error, 'fleet_local_key');
    assert.match(r.json.message as string, /^admin belongs to each instance's own config file in fleet mode/);
    assert.equal(etcdRevision(), before, 'nothing was written to etcd');
  });

  it('with etcd down every instance keeps serving and refuses config changes clearly; when it is back they follow again', async () => {
    await etcd.stop();
    const down = await fleetEvents('fleet_etcd_down', 3);
    assert.equal(down.length, 3);
    for (const i of fleet) assert.equal((await get(i.tg.url('/'))).text, 'b', `${i.name} keeps serving`);
    const refused = await change((c) => ((c.routes![1] as { pool: string }).pool = 'a'));
    assert.equal(refused.status, 503, JSON.stringify(refused.json));
    assert.equal(refused.json.error, 'fleet_unavailable');
    assert.match(
      refused.json.message as string,
      /etcd is unreachable at http:\/\/127\.0\.0\.1:\d+ .*nothing changed/,
    );
    assert.equal((await admin(fleet[0]!, 'GET', '/api/v1/fleet')).status, 503);
    await etcd.start();
    assert.equal((await fleetEvents('fleet_etcd_up', 3)).length, 3);
    const put = await change((c) => ((c.routes![1] as { pool: string }).pool = 'a'));
    assert.equal(put.status, 200, JSON.stringify(put.json));
    const started = Date.now();
    for (const i of fleet) {
      while ((await get(i.tg.url('/'))).text !== 'a') {
        assert.ok(Date.now() - started < 2000, `${i.name} did not follow after etcd came back`);
        await sleep(20);
      }
    }
  });

  it('SIGHUP re-reads only the instance-local keys of the file; the shared ones still come from etcd', async () => {
    const i = fleet[1]!;
    assert.equal((await get(i.tg.url('/'))).text, 'a');
    const file = fs.readFileSync(i.tg.configPath, 'utf8');
    // the file's own routes say pool b, and it gains a second listener
    const extra = await freePort();
    fs.writeFileSync(
      i.tg.configPath,
      file
        .replace('path_prefix: / }, pool: a }', 'path_prefix: / }, pool: b }')
        .replace(/(listeners:\n.*\n)/, `$1  - { name: second, address: 127.0.0.1:${extra} }\n`),
    );
    i.tg.child.kill('SIGHUP');
    for (let n = 0; ; n++) {
      const r = await get(`http://127.0.0.1:${extra}/`).catch(() => null);
      if (r !== null) {
        assert.equal(r.text, 'a', 'the new listener serves the fleet routes, not the file routes');
        break;
      }
      assert.ok(n < 100, 'the local listener change applies on SIGHUP');
      await sleep(50);
    }
    assert.equal((await get(i.tg.url('/'))).text, 'a');
    const reloads = readStore(i.dataDir).admin.filter(
      (e) => e.event.action === 'config_reload' && e.user.name === 'local-operator',
    );
    assert.equal(reloads.length, 1);
    fs.writeFileSync(i.tg.configPath, file);
  });

  /** Sends GET `path` to all three instances from `loops` keep-alive loops each for `ms`; counts answers by status. */
  async function hammer(
    p: string,
    ms: number,
    loops = 3,
  ): Promise<{ ok: number; limited: number; other: number; byInstance: number[] }> {
    const counts = { ok: 0, limited: 0, other: 0, byInstance: fleet.map(() => 0) };
    const end = Date.now() + ms;
    await Promise.all(
      fleet.flatMap((i, n) =>
        Array.from({ length: loops }, async () => {
          while (Date.now() < end) {
            const r = await request(i.tg.url(p), { dispatcher: agent });
            await r.body.dump();
            if (r.statusCode === 200) {
              counts.ok++;
              counts.byInstance[n]!++;
            } else if (r.statusCode === 429) counts.limited++;
            else counts.other++;
          }
        }),
      ),
    );
    return counts;
  }

  async function fleetEvents(action: string, count: number): Promise<AdminRecord[]> {
    for (let n = 0; ; n++) {
      const found = fleet.flatMap((i) => readStore(i.dataDir).admin.filter((e) => e.event.action === action));
      if (found.length >= count || n > 100) return found;
      await sleep(100);
    }
  }

  it('a client limited to 100/s gets about 100/s across the three (not 300); with Redis gone each instance limits locally, says so, and goes back when Redis returns', async () => {
    const seconds = 3;
    const shared = await hammer('/limited', seconds * 1000, 4);
    const expected = 100 * seconds + 50; // the rate for the whole run plus the burst
    console.log(
      `fleet-wide limit (${shared.byInstance.join(' + ')}): ${shared.ok} admitted of ${shared.ok + shared.limited} in ${seconds} s across three instances (${((shared.ok - 50) / seconds).toFixed(0)}/s after the burst of 50; expected about ${expected} in all)`,
    );
    assert.equal(shared.other, 0);
    // without a fleet-wide limit each instance would admit up to `expected`: offer at least twice that
    assert.ok(shared.ok + shared.limited > 2 * expected, 'the clients offered far more than the limit');
    assert.ok(
      shared.ok >= 0.85 * expected && shared.ok <= 1.2 * expected,
      `admitted ${shared.ok}, expected about ${expected}`,
    );
    // no Redis round trip per request: Redis saw far fewer calls than the requests served
    const calls = Number(/cmdstat_evalsha:calls=(\d+)/.exec(redis.cli('info', 'commandstats'))?.[1] ?? 0);
    console.log(`Redis EVALSHA calls: ${calls} for ${shared.ok + shared.limited} requests`);
    // by design about 20 renewals a second per instance at the limit (50 ms of tokens each), whatever the request rate
    assert.ok(calls <= 3 * seconds * 40, `${calls} Redis calls`);
    assert.ok(calls < (shared.ok + shared.limited) / 2, `${calls} Redis calls`);
    const keys = redis.cli('--scan', '--pattern', 'tollgate:*rl:*').trim().split('\n');
    assert.equal(keys.length, 1, 'one bucket: one route, one client');
    const all = redis.cli('--scan', '--pattern', '*').trim().split('\n').sort();
    assert.equal(all.length, 5, `a bucket, three heavy-hitter snapshots and their index: ${all.join(' ')}`);
    for (const k of all) assert.ok(Number(redis.cli('pttl', k)) > 0, `${k} expires`);
    assert.ok(Number(redis.cli('pttl', keys[0]!)) > 0, 'the bucket expires');

    const stopped = new Date().toISOString();
    await redis.stop();
    let down: AdminRecord[] = [];
    for (let n = 0; new Set(down.map((e) => e.tollgate.instance)).size < 3; n++) {
      assert.ok(n < 50, 'each instance sees Redis go');
      await sleep(100);
      down = (await fleetEvents('fleet_redis_down', 0)).filter((e) => e['@timestamp'] > stopped);
    }
    assert.match(down[0]!.event.reason ?? '', /unreachable.*rate limits locally/);
    const local = await hammer('/limited', 2000, 4);
    console.log(
      `Redis down: ${local.ok} admitted of ${local.ok + local.limited} in 2 s (${local.byInstance.join(' + ')}; local limits on three instances, at most ${3 * (100 * 2 + 50)})`,
    );
    assert.equal(local.other, 0, 'no request fails because Redis is gone');
    // fleet-wide this would be about 250; each instance limiting on its own admits up to three times
    // that (less when the shared 2 cores stall an instance: its bucket cannot hold more than the burst)
    assert.ok(local.ok > 1.4 * (100 * 2 + 50), `local limits admit the rate on each instance: ${local.ok}`);
    const view = await admin(fleet[0]!, 'GET', '/api/v1/fleet');
    assert.equal(view.status, 200, JSON.stringify(view.json));
    for (const i of view.json.items as { redis: string; health: string }[]) {
      assert.equal(i.redis, 'down');
      assert.equal(i.health, 'degraded');
    }
    const scrape = await request(`${fleet[0]!.adminUrl}/metrics`, {
      headers: { authorization: `Bearer ${token}` },
      dispatcher: agent,
    });
    assert.match(await scrape.body.text(), /^tollgate_fleet_up\{dependency="redis"\} 0$/m);
    let firing: { rule: string; key: string; summary: string }[] = [];
    for (let n = 0; n < 50 && firing.length === 0; n++) {
      firing = (await admin(fleet[0]!, 'GET', '/api/v1/alerts?state=firing')).json.items as typeof firing;
      if (firing.length === 0) await sleep(100);
    }
    assert.deepEqual(
      firing.map((f) => [f.rule, f.key]),
      [['fleet-deps', 'redis']],
      'the fleet_degraded alert fires while Redis is away',
    );
    const restarted = new Date().toISOString();
    await redis.start();
    for (let n = 0; ; n++) {
      const up = (await fleetEvents('fleet_redis_up', 0)).filter((e) => e['@timestamp'] > restarted);
      if (new Set(up.map((e) => e.tollgate.instance)).size === 3) break;
      assert.ok(n < 50, 'each instance sees Redis come back');
      await sleep(100);
    }
    for (let n = 0; n < 50; n++) {
      const resolved = (await fleetEvents('alert_resolved', 0)).filter(
        (e) => e.tollgate.labels.key === 'redis',
      );
      if (resolved.length === 3) break;
      assert.ok(n < 49, 'the fleet_degraded alert for redis resolves on each instance');
      await sleep(100);
    }
  });

  /** Waits until PostgreSQL holds every record each instance's store holds now. */
  async function shipped(): Promise<Map<string, number>> {
    const want = new Map(fleet.map((i) => [i.name, storeCount(i)] as const));
    for (let n = 0; ; n++) {
      const have = new Map(
        pg
          .psql('SELECT instance, count(*) FROM tollgate_records GROUP BY instance')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => l.split('|') as [string, string])
          .map(([k, v]) => [k, Number(v)] as const),
      );
      if ([...want].every(([k, v]) => (have.get(k) ?? 0) >= v)) return want;
      if (n > 300)
        assert.fail(`PostgreSQL has ${JSON.stringify([...have])}, the stores ${JSON.stringify([...want])}`);
      await sleep(100);
    }
  }

  function storeCount(i: Instance): number {
    const s = readStore(i.dataDir);
    return s.requests.length + s.admin.length;
  }

  it('heavy hitters are fleet-wide: the fleet view sums what each instance saw of a client', async () => {
    await sleep(1500); // the snapshots are published every second
    const local = await Promise.all(
      fleet.map(async (i, n) => {
        const r = await request(`${i.adminUrl}/api/v1/clients/top?window=1m`, {
          headers: { authorization: `Bearer ${viewers[n]}` },
          dispatcher: agent,
        });
        const body = (await r.body.json()) as { items: { key: string; requests: number }[] };
        return body.items.find((c) => c.key === '127.0.0.1')?.requests ?? 0;
      }),
    );
    const f = await admin(fleet[0]!, 'GET', '/api/v1/clients/top?window=1m&scope=fleet');
    assert.equal(f.status, 200, JSON.stringify(f.json));
    assert.deepEqual(f.json.instances, ['edge-1', 'edge-2', 'edge-3']);
    const top = (
      f.json.items as { key: string; requests: number; error_bound: number; instances: number }[]
    )[0]!;
    console.log(`heavy hitters: 127.0.0.1 seen ${local.join(' + ')} locally, ${top.requests} fleet-wide`);
    assert.equal(top.key, '127.0.0.1');
    assert.equal(top.instances, 3);
    assert.equal(top.error_bound, 0);
    assert.equal(
      top.requests,
      local.reduce((a, b) => a + b, 0),
    );
    for (const n of local) assert.ok(n > 0 && n < top.requests);
    const bad = await admin(fleet[0]!, 'GET', '/api/v1/clients/top?window=2m&scope=fleet');
    assert.equal(bad.status, 400);
    assert.match(bad.json.message as string, /window 120000 ms is not one of 1m, 5m, 15m/);
  });

  it('the records of all three are in one query of the central store, and verify --store checks each instance chain there', async () => {
    await shipped();
    const inStores = fleet.map((i) =>
      readStore(i.dataDir).requests.filter((r) => r.tollgate.route === 'limited'),
    );
    const q = await cliAsync([
      'query',
      '--store',
      pg.url,
      '--route',
      'limited',
      '--format',
      'json',
      '--limit',
      '100000',
    ]);
    assert.equal(q.code, 0, q.stderr);
    const records = q.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { tollgate: { instance: string }; http: { request: { id: string } } });
    const perInstance = new Map<string, number>();
    for (const r of records)
      perInstance.set(r.tollgate.instance, (perInstance.get(r.tollgate.instance) ?? 0) + 1);
    console.log(
      `one query: ${records.length} records of route limited, by instance ${JSON.stringify([...perInstance])}`,
    );
    assert.deepEqual(
      [...perInstance].sort(),
      fleet.map((i, n) => [i.name, inStores[n]!.length]),
      'every limited request of every instance, none twice',
    );
    const ids = new Set(records.map((r) => r.http.request.id));
    for (const list of inStores) for (const r of list) assert.ok(ids.has(r.http.request.id));

    const ok = await cliAsync(['verify', '--store', pg.url]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    for (const i of fleet)
      assert.match(
        ok.stdout,
        new RegExp(`^${i.name}: ok: \\d+ records, seq 1\\.\\.\\d+, chain intact$`, 'm'),
      );
    // one byte changed in PostgreSQL is found, and named by instance and seq
    const seq = pg.psql(
      "SELECT min(seq) FROM tollgate_records WHERE instance = 'edge-2' AND kind = 'request'",
    );
    const where = `instance = 'edge-2' AND seq = ${seq}`;
    const original = pg.psql(`SELECT rec FROM tollgate_records WHERE ${where}`);
    pg.psql(`UPDATE tollgate_records SET rec = replace(rec, '"GET"', '"PUT"') WHERE ${where}`);
    try {
      const bad = await cliAsync(['verify', '--store', pg.url]);
      assert.equal(bad.code, 1, bad.stdout);
      assert.match(bad.stdout, new RegExp(`^edge-2: FAIL: seq ${seq} altered$`, 'm'));
      assert.match(bad.stdout, /^edge-1: ok: /m);
      assert.match(bad.stdout, /^edge-3: ok: /m);
    } finally {
      pg.psql(`UPDATE tollgate_records SET rec = '${original.replaceAll("'", "''")}' WHERE ${where}`);
    }
    assert.equal((await cliAsync(['verify', '--store', pg.url, '--instance', 'edge-2'])).code, 0);
  });

  it('the admin API and the dashboard of one instance show the whole fleet: its instances, and requests of all three from the query store', async () => {
    // a few requests through each, so the newest records of the fleet come from all three
    for (let n = 0; n < 3; n++) for (const i of fleet) await get(i.tg.url(`/seen-from-${i.name}`));
    await shipped();
    // the newest request of each instance, found through edge-1 by its id
    for (const i of fleet) {
      const own = readStore(i.dataDir).requests;
      const id = own[own.length - 1]!.http.request.id;
      const r = await admin(fleet[0]!, 'GET', `/api/v1/requests?scope=fleet&request_id=${id}`);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      const items = r.json.items as { tollgate: { instance: string }; http: { request: { id: string } } }[];
      assert.deepEqual(
        items.map((x) => [x.tollgate.instance, x.http.request.id]),
        [[i.name, id]],
      );
    }
    // a scope that is neither instance nor fleet is refused (a config without a postgres sink: admin.test.ts)
    assert.equal((await admin(fleet[0]!, 'GET', '/api/v1/requests?scope=nowhere')).status, 400);

    buildWeb();
    const browser = await launchBrowser();
    try {
      const page = await browser.page();
      await page.goto(`${fleet[0]!.adminUrl}/#/fleet`);
      await page.getByLabel('Admin token').fill(token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      for (const i of fleet)
        await page.locator(`table.instances tr[data-instance="${i.name}"][data-health="ok"]`).waitFor();
      assert.equal(await page.locator('table.instances tbody tr').count(), 3);
      // requests of the other instances, from PostgreSQL, with their instance named
      await page.locator('table.requests tr[data-instance="edge-2"]').first().waitFor();
      await page.locator('table.requests tr[data-instance="edge-3"]').first().waitFor();
      // the filters work on the fleet's store too
      await page.locator('form.filters input[name="route"]').fill('limited');
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.waitForURL(/#\/fleet\?route=limited/);
      await page.locator('table.requests tbody tr').first().waitFor();
      const routes = await page.locator('table.requests tbody td.path').allInnerTexts();
      assert.ok(routes.length > 0 && routes.every((t) => /limited/.test(t)), routes.slice(0, 3).join(' | '));
      assert.deepEqual(browser.problems, []);
      if (process.env.TOLLGATE_SCREENSHOTS !== undefined)
        await page.screenshot({ path: path.join(process.env.TOLLGATE_SCREENSHOTS, 'fleet.png') });
    } finally {
      await browser.close();
    }
  });

  it('SIGKILL of one instance under load loses none of its answered requests: they are in its store, and in PostgreSQL once it is back; the fleet drops it and keeps serving', async () => {
    const victim = fleet[2]!;
    const answered: string[] = [];
    let stop = false;
    const loops = Array.from({ length: 3 }, async () => {
      while (!stop) {
        try {
          const r = await request(victim.tg.url('/'), { dispatcher: agent });
          await r.body.dump();
          if (r.statusCode === 200) answered.push(r.headers['x-request-id'] as string);
        } catch {
          return; // the instance is gone
        }
      }
    });
    const t0 = Date.now();
    while (answered.length < 50 && Date.now() - t0 < 15_000) await sleep(20);
    await victim.tg.kill();
    stop = true;
    await Promise.all(loops);
    assert.ok(answered.length >= 50, `${answered.length} answered before the kill`);
    const stored = new Set(readStore(victim.dataDir).requests.map((r) => r.http.request.id));
    const missing = answered.filter((id) => !stored.has(id));
    assert.deepEqual(missing, [], 'with durability: strict every answered request is in the store');
    // the others keep serving; the dead instance's lease runs out
    assert.equal((await get(fleet[0]!.tg.url('/'))).status, 200);
    const killedAt = Date.now();
    let names: string[] = [];
    while (Date.now() - killedAt < 8000) {
      names = ((await admin(fleet[0]!, 'GET', '/api/v1/fleet')).json.items as { instance: string }[]).map(
        (i) => i.instance,
      );
      if (names.length === 2) break;
      await sleep(200);
    }
    assert.deepEqual(names, ['edge-1', 'edge-2'], 'edge-3 leaves the list when its lease expires');
    console.log(
      `SIGKILL: ${answered.length} answered, all in the store; lease gone after ${Date.now() - killedAt} ms`,
    );
    // back on the same data dir: the same instance, its chain goes on, and what PostgreSQL missed arrives
    await launch(victim);
    await shipped();
    const central = new Set(
      pg
        .psql("SELECT request_id FROM tollgate_records WHERE instance = 'edge-3' AND kind = 'request'")
        .split('\n'),
    );
    assert.deepEqual(
      answered.filter((id) => !central.has(id)),
      [],
      'every answered request of the killed instance is in PostgreSQL',
    );
    const v = await cliAsync(['verify', '--store', pg.url, '--instance', 'edge-3']);
    assert.equal(v.code, 0, v.stdout);
    assert.match(v.stdout, /^edge-3: ok: \d+ records, seq 1\.\.\d+, chain intact$/m);
  });
});

describe('fleet: etcd and Redis down when an instance starts', () => {
  it('it serves its own file, says what is missing, and joins (seeding the fleet config) once they answer', async () => {
    const [etcd, redis] = await Promise.all([startEtcd(), startRedis()]);
    await Promise.all([etcd.stop(), redis.stop()]);
    const backend = await startBackend('a', (_req, res) => res.end('a'));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-fleet-cold-'));
    const dataDir = path.join(dir, 'data');
    let tg: LiveTollgate | null = null;
    try {
      const t = await cliAsync(['token', 'create', '--name', 'ops', '--role', 'viewer', '--data', dataDir]);
      assert.equal(t.code, 0, t.stderr);
      const adminPort = await freePort();
      const fleetApi = async () => {
        const r = await request(`http://127.0.0.1:${adminPort}/api/v1/fleet`, {
          headers: { authorization: `Bearer ${t.stdout.trim()}` },
          dispatcher: agent,
        });
        return { status: r.statusCode, json: (await r.body.json()) as Record<string, unknown> };
      };
      const events = async (action: string) => {
        for (let n = 0; n < 100; n++) {
          const found = readStore(dataDir).admin.filter((e) => e.event.action === action);
          if (found.length > 0) return found;
          await sleep(100);
        }
        assert.fail(`no ${action} event`);
      };
      tg = await launchTollgate(
        dir,
        dataDir,
        `routes: [ { name: web, match: { path_prefix: / }, pool: a } ]
pools: [ { name: a, backends: [ { name: a1, address: ${backend.address} } ] } ]
admin: { address: 127.0.0.1:${adminPort} }
fleet:
  instance: cold-1
  etcd: { endpoints: [${etcd.url}], prefix: /cold/ }
  redis: { url: ${redis.url}, timeout: 300ms }
`,
      );
      assert.equal((await get(tg.url('/'))).text, 'a', 'it serves the config of its own file');
      const etcdDown = await events('fleet_etcd_down');
      assert.match(
        etcdDown[0]!.event.reason ?? '',
        /^etcd is unreachable at http:\/\/127\.0\.0\.1:\d+ \(.+\); this instance keeps its running config/,
      );
      const redisDown = await events('fleet_redis_down');
      assert.match(redisDown[0]!.event.reason ?? '', /^Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable/);
      assert.match(tg.stderr(), /"code":"TG_ERR_FLEET_ETCD"/);
      const unavailable = await fleetApi();
      assert.equal(unavailable.status, 503);
      assert.equal(unavailable.json.error, 'fleet_unavailable');

      await Promise.all([etcd.start(), redis.start()]);
      const seeded = await events('fleet_config_seeded');
      await events('fleet_etcd_up');
      await events('fleet_redis_up');
      const doc = JSON.parse(etcd.etcdctl('get', '/cold/config', '--print-value-only')) as {
        shared: { routes: { name: string }[] };
        instance: string;
      };
      assert.equal(doc.instance, 'cold-1');
      assert.deepEqual(
        doc.shared.routes.map((r) => r.name),
        ['web'],
      );
      let view = await fleetApi();
      for (let n = 0; n < 50 && (view.json.items as unknown[] | undefined)?.length !== 1; n++) {
        await sleep(100);
        view = await fleetApi();
      }
      assert.equal(view.status, 200);
      const items = view.json.items as { instance: string; applied_revision: number; redis: string }[];
      assert.equal(items[0]!.instance, 'cold-1');
      assert.equal(items[0]!.applied_revision, seeded[0]!.tollgate.labels.fleet_revision);
      assert.equal((await get(tg.url('/'))).text, 'a');
      // a clean stop revokes the lease: the instance leaves the fleet at once, not after lease_ttl
      assert.match(etcd.etcdctl('get', '--prefix', '/cold/instances/', '--keys-only'), /cold-1/);
      assert.equal(await tg.stop(), 0);
      assert.equal(etcd.etcdctl('get', '--prefix', '/cold/instances/', '--keys-only').trim(), '');
    } finally {
      await tg?.stop();
      await backend.close();
      await Promise.all([etcd.destroy(), redis.destroy()]);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
