import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { openStore } from '../../src/store/index.js';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { smallDisk } from '../helpers/disk.js';
import { readStore } from '../helpers/store.js';
import type { Harness } from '../helpers/tollgate.js';
import { startTollgate } from '../helpers/tollgate.js';

const MAIN = path.resolve('dist/cli/main.js');

function config(b: TestBackend, audit: string, dataDir?: string): string {
  return `${dataDir === undefined ? '' : `data_dir: ${dataDir}\n`}listeners: [{ name: public, address: 127.0.0.1:0 }]
routes: [{ name: r, pool: p }]
pools: [{ name: p, backends: [{ name: b1, address: ${b.address} }] }]
audit:
${audit}`;
}

async function get(tg: Harness, p: string) {
  const res = await request(tg.url(p));
  return { status: res.statusCode, body: await res.body.text(), id: res.headers['x-request-id'] as string };
}

async function until(check: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe('audit pipeline', () => {
  let b: TestBackend;
  before(async () => {
    b = await startBackend('b1');
  });
  after(async () => {
    await b.close();
  });

  it('durability strict: the record is committed before the client has the response', async () => {
    const tg = await startTollgate(config(b, '  durability: strict'));
    const reader = openStore(path.join(tg.dataDir, 'audit.db'), { readonly: true });
    try {
      for (let i = 0; i < 20; i++) {
        const r = await get(tg, i % 4 === 3 ? '/status/503' : `/s/${i}`);
        assert.equal(
          reader.byRequestId(r.id).length,
          1,
          `request ${i} is in the store when its response arrives`,
        );
      }
      const nope = await request(tg.url('/x'), { method: 'BREW' as 'GET' });
      await nope.body.dump();
    } finally {
      reader.close();
      await tg.close();
    }
  });

  it('records its own start and stop as admin events in the same chain, and verify passes', async () => {
    const tg = await startTollgate(config(b, '  chain: { checkpoint_interval: 200ms }'));
    await get(tg, '/one');
    await tg.close().catch(() => {});
    // close() removed the data dir in the harness; run a second one that keeps its dir
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-keep-'));
    try {
      const tg2 = await startTollgate(config(b, '  chain: { checkpoint_interval: 200ms }', dir));
      await get(tg2, '/two');
      await tg2.app.stop(1000);
      const { requests, admin } = readStore(dir);
      assert.equal(requests.length, 1);
      const actions = admin.map((a) => a.event.action);
      assert.deepEqual(actions, [
        'audit_pipeline_started',
        'tollgate_started',
        'tollgate_stopped',
        'audit_pipeline_stopped',
      ]);
      const v = spawnSync(process.execPath, [MAIN, 'verify', '--data', dir, '--quiet'], { encoding: 'utf8' });
      assert.equal(v.status, 0, v.stdout + v.stderr);
      assert.match(
        v.stdout,
        /^ok: 5 records, seq 1\.\.5, chain intact; \d+ signed checkpoints hold \(last at seq 5/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fail_closed: a full disk refuses traffic with 503 audit_unavailable, then recovers with every record kept', async (t) => {
    const disk = smallDisk(4096);
    if (disk === null) return t.skip('mounting a tmpfs needs root');
    const tg = await startTollgate(config(b, '  on_failure: fail_closed', disk.dir));
    try {
      assert.equal((await get(tg, '/before')).status, 200);
      await tg.app.audit.committed();
      disk.fill();
      // requests until the writer reports the failure (the first ones after the fill are served, their records wait)
      const served: string[] = [];
      await until(
        () => {
          void get(tg, '/during').then((r) => r.status === 200 && served.push(r.id));
          return tg.app.audit.health.state === 'failing';
        },
        10_000,
        'the pipeline to report the full disk',
      );
      const refused = await get(tg, '/refused');
      assert.equal(refused.status, 503);
      assert.equal(JSON.parse(refused.body).error, 'audit_unavailable');
      assert.match(JSON.parse(refused.body).message, /audit trail cannot record it.*fail_closed/);
      disk.free();
      await until(() => tg.app.audit.health.state === 'ok', 10_000, 'recovery');
      assert.equal((await get(tg, '/after')).status, 200);
      await tg.app.audit.committed();
      assert.equal(tg.app.audit.health.lost, 0);
      await tg.app.stop(1000);
      const { requests, admin } = readStore(disk.dir);
      const byId = new Map(requests.map((r) => [r.http.request.id, r]));
      assert.equal(
        byId.get(refused.id)?.tollgate.termination,
        'audit_unavailable',
        'the refused request is recorded too',
      );
      for (const id of served) assert.ok(byId.has(id), `served request ${id} kept`);
      const actions = admin.map((a) => a.event.action);
      assert.ok(actions.includes('audit_pipeline_failed'));
      assert.ok(actions.includes('audit_pipeline_recovered'));
      const v = spawnSync(process.execPath, [MAIN, 'verify', '--data', disk.dir, '--quiet'], {
        encoding: 'utf8',
      });
      assert.equal(v.status, 0, v.stdout);
    } finally {
      await tg.close().catch(() => {});
      disk.close();
    }
  });

  it('fail_open: a full disk keeps serving and counts what cannot be kept as lost', async (t) => {
    const disk = smallDisk(4096);
    if (disk === null) return t.skip('mounting a tmpfs needs root');
    const tg = await startTollgate(config(b, '  on_failure: fail_open\n  max_queue: 5', disk.dir));
    try {
      await get(tg, '/before');
      await tg.app.audit.committed();
      disk.fill();
      await until(
        () => {
          void get(tg, '/during');
          return tg.app.audit.health.state === 'failing';
        },
        10_000,
        'the pipeline to report the full disk',
      );
      for (let i = 0; i < 12; i++)
        assert.equal((await get(tg, `/open/${i}`)).status, 200, 'fail_open serves');
      assert.ok(tg.app.audit.health.lost >= 7, `lost ${tg.app.audit.health.lost}`);
      disk.free();
      await until(() => tg.app.audit.health.state === 'ok', 10_000, 'recovery');
      // once space is back, records resume and the chain (with its gap-free seqs) verifies
      const resumed = await get(tg, '/after-open');
      assert.equal(resumed.status, 200);
      await tg.app.audit.committed();
      await tg.app.stop(1000);
      const { requests, admin } = readStore(disk.dir);
      assert.ok(admin.some((a) => a.event.action === 'audit_records_lost'));
      assert.ok(
        requests.some((r) => r.http.request.id === resumed.id),
        'recording resumed',
      );
      const v = spawnSync(process.execPath, [MAIN, 'verify', '--data', disk.dir, '--quiet'], {
        encoding: 'utf8',
      });
      assert.equal(v.status, 0, v.stdout + v.stderr);
    } finally {
      await tg.close().catch(() => {});
      disk.close();
    }
  });

  it('the combined sink is read by goaccess with the same request count', async (t) => {
    const goaccess = spawnSync('goaccess', ['--version']);
    if (goaccess.status !== 0) return t.skip('goaccess is not installed (scripts/test.sh installs it)');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-goaccess-'));
    try {
      const tg = await startTollgate(config(b, '  sinks: [{ type: combined, path: access.log }]', dir));
      const n = 37;
      for (let i = 0; i < n; i++) await get(tg, i % 5 === 0 ? '/status/404' : `/page/${i % 7}?q=${i}`);
      await tg.app.stop(1000);
      const out = execFileSync(
        'goaccess',
        [path.join(dir, 'access.log'), '--log-format=COMBINED', '--no-progress', '-o', 'json'],
        {
          encoding: 'utf8',
        },
      );
      const report = JSON.parse(out);
      assert.equal(report.general.total_requests, n);
      assert.equal(report.general.failed_requests, 0, 'every line parsed');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
