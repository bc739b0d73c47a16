import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { cli, launchTollgate, tempDir } from '../helpers/audit.js';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { smallDisk } from '../helpers/disk.js';
import { buildDist } from '../helpers/process.js';
import { readStore } from '../helpers/store.js';
import { startTollgate } from '../helpers/tollgate.js';

/**
 * Faults (issue 9.3) not covered elsewhere: a file sink whose disk fills up, and Tollgate killed
 * with SIGKILL while a request is in flight. Each test states what the client saw, what was
 * recorded, and that `tollgate verify` passes. The others live beside the behaviour they test:
 * a backend dying mid-response or never answering (failures.test.ts, with the store and verify
 * checked), the store's disk full (audit-pipeline.test.ts), a network sink down
 * (sinks-*.test.ts), kill -9 under load (audit-crash.test.ts).
 */
async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

describe('faults', () => {
  let backend: TestBackend;
  before(async () => {
    buildDist();
    backend = await startBackend('b1');
  });
  after(async () => {
    await backend.close();
  });

  it('a jsonl sink on a full disk: requests are served, the sink reports down, and once space is back the file has every record exactly once, with no torn line', async (t) => {
    const disk = smallDisk(1024);
    if (disk === null) return t.skip('mounting a tmpfs needs root');
    const file = path.join(disk.dir, 'requests.jsonl');
    const tg = await startTollgate(`
listeners: [{ name: public, address: 127.0.0.1:0 }]
routes: [{ name: r, pool: p }]
pools: [{ name: p, backends: [{ name: b1, address: ${backend.address} }] }]
audit: { sinks: [{ type: jsonl, path: ${file} }] }
`);
    const sink = `jsonl:${file}`;
    const get = async (p: string) => {
      const res = await request(tg.url(p));
      await res.body.dump();
      return res.statusCode;
    };
    try {
      for (let i = 0; i < 10; i++) assert.equal(await get(`/before/${i}`), 200);
      await tg.app.audit.committed();
      // a few KiB stay free: the next batch is written in part, then ENOSPC
      disk.fill(6000);
      const pad = 'p'.repeat(400);
      for (let i = 0; i < 150; i++) assert.equal(await get(`/full/${i}?${pad}`), 200, 'served meanwhile');
      await until(
        'the sink to report the full disk',
        () => tg.app.audit.health.sinkErrors[sink] !== undefined,
      );
      assert.match(tg.app.audit.health.sinkErrors[sink]!, /ENOSPC/);
      assert.match(tg.app.metrics.render(), new RegExp(`tollgate_audit_sink_up\\{sink="${sink}"\\} 0`));
      assert.equal(tg.app.audit.health.state, 'ok', 'the store itself is fine');
      disk.free();
      for (let i = 0; i < 5; i++) assert.equal(await get(`/after/${i}`), 200);
      await tg.app.audit.committed();
      await until('the sink to catch up', () => tg.app.audit.health.sinkErrors[sink] === undefined);
      await tg.app.stop(1000);
      const { requests, admin } = readStore(tg.dataDir);
      const seqs = [...requests, ...admin].map((r) => r.tollgate.chain.seq!).sort((a, b) => a - b);
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      assert.equal(lines.pop(), '', 'the file ends with a whole line');
      const shipped: number[] = [];
      for (const [i, l] of lines.entries()) {
        let rec: { tollgate: { chain: { seq: number } } };
        try {
          rec = JSON.parse(l);
        } catch {
          assert.fail(`line ${i + 1} is torn: ${JSON.stringify(l.slice(0, 80))}`);
        }
        shipped.push(rec.tollgate.chain.seq);
      }
      assert.deepEqual(shipped, seqs, 'every record of the store, once, in order');
      assert.equal(requests.length, 165, 'one record per request');
      const v = cli(['verify', '--data', tg.dataDir, '--quiet']);
      assert.equal(v.code, 0, `verify: ${v.stdout}${v.stderr}`);
    } finally {
      await tg.close().catch(() => {});
      disk.close();
    }
  });

  it('SIGKILL with a request in flight: the client sees the connection fail, the chain still verifies, and after a restart recording continues', async () => {
    const dir = tempDir('tollgate-kill-');
    const dataDir = path.join(dir, 'data');
    const yaml = `routes: [{ name: r, pool: p }]
pools: [{ name: p, backends: [{ name: b1, address: ${backend.address} }] }]
audit: { chain: { enabled: true, checkpoint_interval: 200ms } }
`;
    let tg = await launchTollgate(dir, dataDir, yaml);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await request(tg.url(`/k/${i}`));
        await res.body.dump();
        ids.push(res.headers['x-request-id'] as string);
      }
      await sleep(500); // committed and covered by a checkpoint
      const inFlight = request(tg.url('/stall')).then(
        () => 'answered',
        (e: Error & { code?: string }) => e.code ?? e.message,
      );
      await until('the stalled request to reach the backend', () => backend.hits.get('/stall') === 1);
      await tg.kill();
      const seen = await inFlight;
      assert.match(seen, /UND_ERR_SOCKET|ECONNRESET|other side closed/, `the client saw: ${seen}`);
      const v1 = cli(['verify', '--data', dataDir]);
      assert.equal(v1.code, 0, `verify after SIGKILL: ${v1.stdout}${v1.stderr}`);
      const killed = readStore(dataDir);
      const stored = new Set(killed.requests.map((r) => r.http.request.id));
      for (const id of ids) assert.ok(stored.has(id), `record ${id}, committed before the kill, survived`);
      // the request in flight had no outcome yet: SIGKILL leaves it without a record (docs/security.md)
      assert.equal(
        killed.requests.filter((r) => r.url.path === '/stall').length,
        0,
        'no record for the request in flight',
      );
      tg = await launchTollgate(dir, dataDir, yaml);
      const res = await request(tg.url('/after-restart'));
      await res.body.dump();
      assert.equal(res.statusCode, 200);
      assert.equal(await tg.stop(), 0);
      const restarted = readStore(dataDir);
      const last = restarted.requests.at(-1)!;
      assert.equal(last.url.path, '/after-restart');
      assert.ok(last.tollgate.chain.seq! > killed.requests.at(-1)!.tollgate.chain.seq!);
      const v2 = cli(['verify', '--data', dataDir]);
      assert.equal(v2.code, 0, `verify after the restart: ${v2.stdout}${v2.stderr}`);
    } finally {
      await tg.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
