import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { openStore } from '../../src/store/index.js';
import type { LiveTollgate } from '../helpers/audit.js';
import { cli, cliAsync, launchTollgate, tempDir } from '../helpers/audit.js';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { buildDist } from '../helpers/process.js';

/**
 * kill -9 under load (issue 3, "Show it"): the chain on disk still verifies, the restarted
 * process continues it gap-free, and every request that completed more than two commit intervals
 * before the kill has its record. Batched durability commits within 50 ms (SPEC: "at most 50 ms");
 * 100 ms is the bound checked here. Requests that completed inside the last 100 ms may be lost;
 * their number is printed, not asserted.
 */
const GRACE_MS = 100;
const CLIENTS = 8;
const LOAD_MS = 3000;

interface Done {
  id: string;
  at: number;
}

/** Every request id in the store with its seq, and the seqs of every row (any kind), ascending. */
function storeIndex(dataDir: string): { ids: Map<string, number>; seqs: number[] } {
  const store = openStore(path.join(dataDir, 'audit.db'), { readonly: true });
  try {
    const ids = new Map<string, number>();
    const seqs: number[] = [];
    for (let from = 1; ; ) {
      const rows = store.rowsFrom(from, 10_000);
      if (rows.length === 0) break;
      for (const r of rows) {
        seqs.push(r.seq);
        if (r.kind === 'request' && r.requestId !== null) ids.set(r.requestId, r.seq);
      }
      from = rows[rows.length - 1]!.seq + 1;
    }
    return { ids, seqs };
  } finally {
    store.close();
  }
}

function assertGapFree(seqs: number[]): void {
  assert.ok(seqs.length > 0, 'the store has rows');
  assert.equal(seqs[0], 1, 'the chain starts at seq 1');
  for (let i = 1; i < seqs.length; i++) {
    if (seqs[i] !== seqs[i - 1]! + 1) assert.fail(`seq ${seqs[i - 1]! + 1} missing (next is ${seqs[i]})`);
  }
}

describe('audit trail: kill -9 under load', () => {
  let backend: TestBackend;
  let dir: string;
  let dataDir: string;
  let tg: LiveTollgate | null = null;
  const yaml = (address: string) => `routes: [{ name: r, pool: p }]
pools: [{ name: p, backends: [{ name: b1, address: ${address} }] }]
audit: { chain: { enabled: true, checkpoint_interval: 1s } }
`;

  before(async () => {
    buildDist();
    backend = await startBackend('b1');
    dir = tempDir('tollgate-crash-');
    dataDir = path.join(dir, 'data');
  });
  after(async () => {
    await tg?.kill();
    await backend.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps a verifiable chain and every record committed before the kill, and continues it gap-free after a restart', async () => {
    tg = await launchTollgate(dir, dataDir, yaml(backend.address));
    const first = tg;
    const dispatcher = new Agent({ connections: CLIENTS, pipelining: 1 });
    const done: Done[] = [];
    const otherStatus: number[] = [];
    let stop = false;
    let n = 0;
    const client = async () => {
      while (!stop) {
        try {
          const res = await request(first.url(`/load/${n++}`), { dispatcher });
          await res.body.dump();
          const at = Date.now();
          if (res.statusCode === 200) done.push({ id: res.headers['x-request-id'] as string, at });
          else otherStatus.push(res.statusCode);
        } catch {
          // the connection died with the process: this request never completed
          if (stop) return;
          await sleep(1);
        }
      }
    };
    const clients = Array.from({ length: CLIENTS }, client);
    await sleep(LOAD_MS);
    const killedAt = Date.now();
    first.child.kill('SIGKILL');
    await first.exited;
    stop = true;
    await Promise.all(clients);
    await dispatcher.close();
    tg = null;

    assert.deepEqual(otherStatus, [], 'every answer before the kill was a 200');
    assert.ok(done.length > 50, `a steady load ran: ${done.length} requests completed`);
    assert.ok(
      fs.existsSync(path.join(dataDir, 'checkpoints.jsonl')),
      'at least one interval checkpoint was written before the kill',
    );

    // 1. the chain on disk verifies as it was left
    const v1 = cli(['verify', '--data', dataDir]);
    assert.equal(v1.code, 0, `verify after kill -9: ${v1.stdout}${v1.stderr}`);
    assert.match(v1.stdout, /^ok: \d+ records, seq 1\.\.\d+, chain intact; [1-9]\d* signed checkpoints hold/);

    // 2. every request that completed more than GRACE_MS before the kill has its record
    const afterKill = storeIndex(dataDir);
    assertGapFree(afterKill.seqs);
    const early = done.filter((d) => d.at < killedAt - GRACE_MS);
    const late = done.filter((d) => d.at >= killedAt - GRACE_MS);
    const lostEarly = early.filter((d) => !afterKill.ids.has(d.id));
    const lostLate = late.filter((d) => !afterKill.ids.has(d.id));
    console.log(
      `kill -9: ${done.length} requests completed with 200; ${early.length} more than ${GRACE_MS} ms before the kill ` +
        `(${lostEarly.length} without a record); ${late.length} in the last ${GRACE_MS} ms ` +
        `(${lostLate.length} without a record${lostLate.length === 0 ? '' : `, the oldest completed ${Math.max(...lostLate.map((d) => killedAt - d.at))} ms before the kill`}); ` +
        `store holds seq 1..${afterKill.seqs.at(-1)}`,
    );
    assert.deepEqual(
      lostEarly.map((d) => `${d.id} completed ${killedAt - d.at} ms before the kill`),
      [],
      'no record of a request completed more than two commit intervals before the kill is lost',
    );
    const lastSeqBefore = afterKill.seqs.at(-1)!;

    // 3. restart on the same data dir, a few requests, a clean stop
    const second = await launchTollgate(dir, dataDir, yaml(backend.address));
    tg = second;
    const again: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await request(second.url(`/after/${i}`));
      await res.body.dump();
      assert.equal(res.statusCode, 200);
      again.push(res.headers['x-request-id'] as string);
    }
    assert.equal(await second.stop(), 0, `clean stop: ${second.stderr()}`);
    tg = null;

    const v2 = cli(['verify', '--data', dataDir]);
    assert.equal(v2.code, 0, `verify after the restart: ${v2.stdout}${v2.stderr}`);
    assert.match(v2.stdout, /^ok: \d+ records, seq 1\.\.\d+, chain intact/);
    assert.doesNotMatch(v2.stdout, /not yet covered/, 'the clean stop signed the head of the chain');
    const afterRestart = storeIndex(dataDir);
    assertGapFree(afterRestart.seqs);
    for (const id of again) {
      const seq = afterRestart.ids.get(id);
      assert.ok(seq !== undefined, `request ${id} after the restart has its record`);
      assert.ok(
        seq > lastSeqBefore,
        `request ${id} continues the chain after seq ${lastSeqBefore} (got ${seq})`,
      );
    }
    for (const [id, seq] of afterKill.ids)
      assert.equal(afterRestart.ids.get(id), seq, 'old records untouched');
  });

  it('verify passes while Tollgate is committing under load', async () => {
    const d = path.join(dir, 'live');
    const live = await launchTollgate(dir, d, yaml(backend.address));
    tg = live;
    const dispatcher = new Agent({ connections: 4 });
    let stop = false;
    const load = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const res = await request(live.url('/live'), { dispatcher });
        await res.body.dump();
      }
    });
    try {
      await sleep(1200); // past the first interval checkpoint
      for (let i = 0; i < 3; i++) {
        const results = await Promise.all([0, 1].map(() => cliAsync(['verify', '--data', d, '--quiet'])));
        for (const r of results) {
          assert.equal(r.code, 0, `verify while running: ${r.stdout}${r.stderr}`);
          assert.match(r.stdout, /^ok: /);
        }
      }
    } finally {
      stop = true;
      await Promise.all(load);
      await dispatcher.close();
      assert.equal(await live.stop(), 0, live.stderr());
      tg = null;
    }
    const r = cli(['verify', '--data', d]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('a torn last line in checkpoints.jsonl (a crash while appending) does not swallow the next checkpoint', async () => {
    const d = path.join(dir, 'torn');
    let t = await launchTollgate(dir, d, yaml(backend.address));
    tg = t;
    await (await request(t.url('/one'))).body.dump();
    assert.equal(await t.stop(), 0);
    const file = path.join(d, 'checkpoints.jsonl');
    // what an interrupted append leaves: part of a line, no newline
    fs.appendFileSync(file, '{"seq":2,"hash":"0f3a');
    t = await launchTollgate(dir, d, yaml(backend.address));
    tg = t;
    for (let i = 0; i < 3; i++) await (await request(t.url(`/two/${i}`))).body.dump();
    assert.equal(await t.stop(), 0);
    tg = null;
    const parsed: { seq: number }[] = [];
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      try {
        parsed.push(JSON.parse(line));
      } catch {
        // the torn line itself
      }
    }
    const store = openStore(path.join(d, 'audit.db'), { readonly: true });
    let inTable: number[];
    let last: number;
    try {
      inTable = store.checkpoints().map((c) => c.seq);
      last = store.last()!.seq;
    } finally {
      store.close();
    }
    assert.equal(inTable.at(-1), last, 'the second clean stop signed the head');
    assert.deepEqual(
      parsed.map((c) => c.seq),
      inTable,
      `every checkpoint of the table is a readable line of checkpoints.jsonl:\n${fs.readFileSync(file, 'utf8')}`,
    );
  });
});
