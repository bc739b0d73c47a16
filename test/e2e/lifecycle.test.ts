import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { compileConfigText } from '../../src/config/index.js';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { freePort } from '../helpers/process.js';
import { readStore } from '../helpers/store.js';
import { startTollgate } from '../helpers/tollgate.js';

const MAIN = path.resolve('dist/cli/main.js');

function config(port: number, backends: TestBackend[], extra = ''): string {
  return `listeners: [{ name: public, address: 127.0.0.1:${port} }]
routes: [{ name: r, pool: p, owner: team-a }]
pools:
  - name: p
    backends: [${backends.map((b) => `{ name: ${b.name}, address: ${b.address} }`).join(', ')}]
${extra}`;
}

async function waitForPort(port: number, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`port ${port} did not open`);
}

describe('lifecycle: reload and drain', () => {
  let b1: TestBackend;
  let b2: TestBackend;
  before(async () => {
    b1 = await startBackend('b1');
    b2 = await startBackend('b2');
  });
  after(async () => {
    await b1.close();
    await b2.close();
  });

  it('loses no request across ten reloads during a steady load, and keeps backend state', async () => {
    const tg = await startTollgate(config(0, [b1, b2]));
    const dispatcher = new Agent({ connections: 8 });
    try {
      tg.app.proxy.backends.get('p', 'b2')!.setDraining(true, 'test');
      let stop = false;
      let sent = 0;
      const failures: string[] = [];
      const worker = async () => {
        while (!stop) {
          sent++;
          try {
            const res = await request(tg.url(`/load?i=${sent}`), { dispatcher });
            await res.body.dump();
            if (res.statusCode !== 200) failures.push(String(res.statusCode));
          } catch (err) {
            failures.push(String(err));
          }
        }
      };
      const workers = Array.from({ length: 8 }, worker);
      const base = tg.app.plan;
      try {
        for (let i = 0; i < 10; i++) {
          await sleep(60);
          const text = config(tg.port, [b1, b2], `    timeouts: { connect: ${1 + (i % 3)}s }`);
          await tg.app.reload(
            compileConfigText(`data_dir: ${base.dataDir}\n${text}`, path.join(tg.dataDir, 'tollgate.yaml')),
            'test',
          );
        }
        await sleep(60);
      } finally {
        stop = true;
        await Promise.all(workers);
      }
      assert.deepEqual(failures, []);
      const records = await tg.waitForRecords(sent);
      assert.equal(records.length, sent, 'one record per request');
      assert.ok(records.every((r) => r.tollgate.termination === 'ok'));
      assert.ok(
        records.every((r) => r.tollgate.backend.name === 'b1'),
        'the drain of b2 survived every reload',
      );
      assert.equal(
        tg.events.filter((e) => e.action === 'config_reload' && e.outcome === 'success').length,
        10,
      );
    } finally {
      await dispatcher.close();
      await tg.close();
    }
  });

  it('finishes requests in flight on the plan they started with', async () => {
    const tg = await startTollgate(config(0, [b1]));
    try {
      const pending = request(tg.url('/slow?ms=300'));
      await sleep(50);
      const text = `data_dir: ${tg.dataDir}\n${config(tg.port, [b2])}`.replace(
        'owner: team-a',
        'owner: team-b',
      );
      await tg.app.reload(compileConfigText(text, path.join(tg.dataDir, 'tollgate.yaml')), 'test');
      const res = await pending;
      assert.equal(((await res.body.json()) as { backend: string }).backend, 'b1');
      const r = await tg.record(res.headers['x-request-id'] as string);
      assert.equal(r.tollgate.owner, 'team-a');
      const next = await request(tg.url('/after'));
      assert.equal(((await next.body.json()) as { backend: string }).backend, 'b2');
    } finally {
      await tg.close();
    }
  });

  describe('as a process', () => {
    let dir: string;
    let child: ChildProcess | null = null;
    let stderr = '';
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-proc-'));
    });
    after(() => {
      child?.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('reloads on SIGHUP, refuses an invalid config with the check messages and keeps serving, and drains on SIGTERM', async () => {
      const port = await freePort();
      const file = path.join(dir, 'tollgate.yaml');
      fs.writeFileSync(file, `data_dir: ${dir}/data\n${config(port, [b1])}`);
      child = spawn(process.execPath, [MAIN, 'start', '-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      await waitForPort(port);
      const first = await request(`http://127.0.0.1:${port}/one`);
      assert.equal(((await first.body.json()) as { backend: string }).backend, 'b1');

      // a valid change: now b2
      fs.writeFileSync(file, `data_dir: ${dir}/data\n${config(port, [b2])}`);
      child.kill('SIGHUP');
      const until = Date.now() + 5000;
      let backend = 'b1';
      while (backend !== 'b2' && Date.now() < until) {
        await sleep(50);
        const res = await request(`http://127.0.0.1:${port}/two`);
        backend = ((await res.body.json()) as { backend: string }).backend;
      }
      assert.equal(backend, 'b2');

      // an invalid change: refused, b2 keeps serving
      fs.writeFileSync(
        file,
        `data_dir: ${dir}/data\n${config(port, [b1])}    weight: 0\n`.replace('backends: [', 'bakends: ['),
      );
      child.kill('SIGHUP');
      for (let i = 0; i < 100 && !/reload refused/.test(stderr); i++) await sleep(50);
      assert.match(stderr, /reload refused/);
      assert.match(stderr, /tollgate\.yaml:\d+:\d+ pools\[0\]/);
      const still = await request(`http://127.0.0.1:${port}/three`);
      assert.equal(((await still.body.json()) as { backend: string }).backend, 'b2');

      // SIGTERM while a request is in flight: it finishes, then the process exits 0
      const inflight = request(`http://127.0.0.1:${port}/slow?ms=500`);
      await sleep(100);
      const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      const res = await inflight;
      assert.equal(res.statusCode, 200);
      await res.body.dump();
      assert.equal(await exited, 0);
      child = null;
      const { requests: records, admin: events } = readStore(path.join(dir, 'data'));
      assert.equal(records.length, 4);
      assert.ok(records.every((r) => r.tollgate.termination === 'ok'));
      const reloads = events.filter((e) => e.event.action === 'config_reload');
      assert.deepEqual(
        reloads.map((e) => [e.event.outcome, e.user.name]),
        [
          ['success', 'local-operator'],
          ['failure', 'local-operator'],
        ],
      );
      assert.match(reloads[1]!.event.reason!, /unknown key "bakends"/);
    });
  });
});

describe('lifecycle: drain under keep-alive load', () => {
  it('answers with Connection: close once draining, so busy keep-alive clients cannot hold the drain open', async () => {
    const b1 = await startBackend('b1');
    const tg = await startTollgate(`listeners: [{ name: public, address: 127.0.0.1:0 }]
routes: [{ name: r, pool: p }]
pools: [{ name: p, backends: [{ name: b1, address: ${b1.address} }] }]
`);
    const dispatcher = new Agent({ connections: 2, pipelining: 1 });
    let stop = false;
    let closes = 0;
    let answered = 0;
    const client = async () => {
      while (!stop) {
        try {
          const res = await request(tg.url('/x'), { dispatcher });
          await res.body.dump();
          answered++;
          if (res.headers.connection === 'close') closes++;
        } catch {
          await sleep(5);
        }
      }
    };
    const clients = [client(), client()];
    try {
      await sleep(300);
      assert.ok(answered > 0);
      const t0 = Date.now();
      await tg.app.stop(20_000); // the drain deadline: a keep-alive client must not be able to reach it
      const took = Date.now() - t0;
      assert.ok(took < 5000, `the drain took ${took} ms`);
      // (whether a client saw `connection: close` or found its idle connection closed depends on timing)
      assert.ok(answered > closes);
    } finally {
      stop = true;
      await Promise.all(clients);
      await dispatcher.close();
      await tg.close();
      await b1.close();
    }
  });
});
