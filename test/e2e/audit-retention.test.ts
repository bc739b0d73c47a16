import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { request } from 'undici';
import * as chain from '../../src/audit/chain.js';
import type { Store } from '../../src/store/index.js';
import { openStore } from '../../src/store/index.js';
import { cli, copyDir, launchTollgate, tempDir } from '../helpers/audit.js';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { buildDist } from '../helpers/process.js';

/**
 * Retention (issue 3, "Deliver" 4): pruning the oldest records leaves a signed anchor, so what is
 * left still verifies from there; a row deleted at the new head is still a missing seq, and an
 * anchor that is not signed by the chain's key is refused. Tollgate prunes once a minute, so the
 * test prunes a stopped instance's store with the store's own `prune` and the chain's key.
 */
/** How the writer signs a retention anchor: `signAnchor` once anchors get their own signed text, else `signCheckpoint`. */
const signAnchor = ((chain as Record<string, unknown>).signAnchor ??
  chain.signCheckpoint) as typeof chain.signCheckpoint;

describe('audit trail: retention keeps the rest verifiable', () => {
  let backend: TestBackend;
  let dir: string;
  let pristine: string;
  let copies = 0;
  let total: number;
  let lastCheckpointSeq: number;
  const yaml = (address: string) => `routes: [{ name: r, pool: p }]
pools: [{ name: p, backends: [{ name: b1, address: ${address} }] }]
audit: { chain: { enabled: true, checkpoint_interval: 200ms } }
`;
  const copy = (): string => copyDir(pristine, path.join(dir, `copy-${++copies}`));
  const verify = (dataDir: string) => cli(['verify', '--data', dataDir, '--quiet']);
  const key = (dataDir: string) => fs.readFileSync(path.join(dataDir, 'chain-key.pem'), 'utf8');
  const withStore = <T>(dataDir: string, fn: (s: Store) => T): T => {
    const s = openStore(path.join(dataDir, 'audit.db'));
    try {
      return fn(s);
    } finally {
      s.close();
    }
  };
  /** Prunes every record with ts below that of `keepFrom` (batch rows per transaction), signing with the data dir's key. */
  const pruneBefore = (dataDir: string, keepFrom: number, batch: number): number =>
    withStore(dataDir, (s) => {
      const ts = s.rowsFrom(keepFrom, 1)[0]!.ts;
      const pem = key(dataDir);
      return s.prune(ts, batch, (last) => {
        const now = Date.now();
        return { ts: now, signature: signAnchor(pem, last.seq, last.hash, now) };
      });
    });

  before(async () => {
    buildDist();
    backend = await startBackend('b1');
    dir = tempDir('tollgate-retention-');
    pristine = path.join(dir, 'data');
    const tg = await launchTollgate(dir, pristine, yaml(backend.address));
    try {
      // three bursts with gaps, so record times step and a prune boundary falls cleanly between them
      for (let burst = 0; burst < 3; burst++) {
        for (let i = 0; i < 15; i++) {
          const res = await request(tg.url(`/r/${burst}/${i}`));
          await res.body.dump();
        }
        await sleep(300);
      }
    } finally {
      assert.equal(await tg.stop(), 0, tg.stderr());
    }
    const s = openStore(path.join(pristine, 'audit.db'), { readonly: true });
    try {
      total = s.count();
      lastCheckpointSeq = s.lastCheckpoint()!.seq;
    } finally {
      s.close();
    }
    assert.equal(lastCheckpointSeq, total);
    const r = verify(pristine);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
  after(async () => {
    await backend.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a pruned store verifies from its signed anchor and reports the first remaining seq', () => {
    const d = copy();
    const keepFrom = 20;
    const deleted = pruneBefore(d, keepFrom, 7);
    const { first, anchor, count, checkpoints } = withStore(d, (s) => ({
      first: s.firstSeq()!,
      anchor: s.anchor()!,
      count: s.count(),
      checkpoints: s.checkpoints().length,
    }));
    assert.ok(deleted > 0 && deleted < keepFrom, `pruned ${deleted} records`);
    assert.equal(anchor.seq, first - 1, 'the anchor is the last pruned record');
    assert.equal(first, deleted + 1);
    assert.equal(count, total - deleted);
    assert.ok(checkpoints > 0);
    const r = verify(d);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`^ok: ${total - deleted} records, seq ${first}\\.\\.${total}, chain intact`),
    );
    assert.match(r.stdout, /signed checkpoints hold \(last at seq \d+/);
  });

  it('only one anchor is kept, however many batches the prune took', () => {
    const d = copy();
    pruneBefore(d, 30, 3);
    const db = new Database(path.join(d, 'audit.db'), { readonly: true });
    try {
      assert.equal((db.prepare('SELECT count(*) AS n FROM anchors').get() as { n: number }).n, 1);
    } finally {
      db.close();
    }
    assert.equal(verify(d).code, 0);
  });

  it('a row deleted at the new head is reported missing', () => {
    const d = copy();
    pruneBefore(d, 20, 50);
    const first = withStore(d, (s) => s.firstSeq()!);
    const db = new Database(path.join(d, 'audit.db'));
    try {
      db.prepare('DELETE FROM records WHERE seq = ?').run(first);
    } finally {
      db.close();
    }
    const r = verify(d);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.stdout, `FAIL: seq ${first} missing\n`);
  });

  it('records deleted from the head without an anchor are reported missing from seq 1', () => {
    const d = copy();
    const db = new Database(path.join(d, 'audit.db'));
    try {
      db.prepare('DELETE FROM records WHERE seq <= 10').run();
    } finally {
      db.close();
    }
    const r = verify(d);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, 'FAIL: seq 1 missing\n');
  });

  it('an anchor not signed by the chain key is refused', () => {
    const d = copy();
    pruneBefore(d, 20, 50);
    const db = new Database(path.join(d, 'audit.db'));
    let seq: number;
    try {
      // someone prunes more and moves the anchor forward without the key
      const a = db.prepare('SELECT seq, hash, ts, signature FROM anchors').get() as {
        seq: number;
        signature: string;
      };
      const next = db.prepare('SELECT seq, hash FROM records WHERE seq = ?').get(a.seq + 3) as {
        seq: number;
        hash: string;
      };
      db.transaction(() => {
        db.prepare('DELETE FROM records WHERE seq <= ?').run(next.seq);
        db.prepare('UPDATE anchors SET seq = ?, hash = ?').run(next.seq, next.hash);
      })();
      seq = next.seq;
    } finally {
      db.close();
    }
    const r = verify(d);
    assert.equal(r.code, 1, r.stdout);
    assert.equal(r.stdout, `FAIL: the retention anchor at seq ${seq} has an invalid signature\n`);
  });

  it('a checkpoint signature replayed as a retention anchor does not make a deleted head verify', () => {
    // Without the key, someone deletes every record up to a signed checkpoint and files that
    // checkpoint as the retention anchor. Nothing was pruned by Tollgate: verify must not pass.
    const d = copy();
    const db = new Database(path.join(d, 'audit.db'));
    let c: { seq: number; hash: string; ts: number; signature: string };
    try {
      c = db
        .prepare('SELECT seq, hash, ts, signature FROM checkpoints WHERE seq > 10 ORDER BY seq LIMIT 1')
        .get() as typeof c;
      db.transaction(() => {
        db.prepare('DELETE FROM records WHERE seq <= ?').run(c.seq);
        db.prepare('INSERT INTO anchors(seq, hash, ts, signature) VALUES (?, ?, ?, ?)').run(
          c.seq,
          c.hash,
          c.ts,
          c.signature,
        );
      })();
    } finally {
      db.close();
    }
    const r = verify(d);
    assert.equal(
      r.code,
      1,
      `records 1..${c.seq} were deleted without the key, yet verify says: ${r.stdout}${r.stderr}`,
    );
    assert.match(r.stdout, new RegExp(`^FAIL: .*(anchor at seq ${c.seq}|seq 1 missing)`));
  });

  it('a truncated tail is still caught after pruning', () => {
    const d = copy();
    pruneBefore(d, 20, 50);
    const db = new Database(path.join(d, 'audit.db'));
    try {
      db.prepare('DELETE FROM records WHERE seq > ?').run(total - 5);
    } finally {
      db.close();
    }
    const r = verify(d);
    assert.equal(r.code, 1);
    assert.equal(
      r.stdout,
      `FAIL: truncated: records end at seq ${total - 5}, checkpoint signs ${lastCheckpointSeq}\n`,
    );
  });

  it('Tollgate restarted on a pruned store continues the chain, and it verifies', async () => {
    const d = copy();
    const deleted = pruneBefore(d, 20, 50);
    const tg = await launchTollgate(path.join(dir), d, yaml(backend.address));
    try {
      for (let i = 0; i < 5; i++) {
        const res = await request(tg.url(`/after-prune/${i}`));
        await res.body.dump();
      }
    } finally {
      assert.equal(await tg.stop(), 0, tg.stderr());
    }
    const r = verify(d);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^ok: \\d+ records, seq ${deleted + 1}\\.\\.\\d+, chain intact`));
  });

  it('Tollgate restarted on a store pruned to nothing continues from the anchor, and it verifies', async () => {
    const d = copy();
    const deleted = withStore(d, (s) => {
      const pem = key(d);
      return s.prune(Date.now() + 60_000, 10, (last) => {
        const now = Date.now();
        return { ts: now, signature: signAnchor(pem, last.seq, last.hash, now) };
      });
    });
    assert.equal(deleted, total);
    const empty = verify(d);
    assert.equal(empty.code, 0, empty.stdout + empty.stderr);
    assert.match(empty.stdout, /^ok: 0 records/);
    const tg = await launchTollgate(path.join(dir), d, yaml(backend.address));
    try {
      for (let i = 0; i < 3; i++) {
        const res = await request(tg.url(`/after-empty/${i}`));
        await res.body.dump();
      }
    } finally {
      assert.equal(await tg.stop(), 0, tg.stderr());
    }
    const r = verify(d);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^ok: \\d+ records, seq ${total + 1}\\.\\.\\d+, chain intact`));
  });
});
