import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { chainHash, GENESIS } from '../../src/audit/chain.js';
import { cli, copyDir, launchTollgate, tempDir } from '../helpers/audit.js';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { buildDist } from '../helpers/process.js';

/**
 * Tamper tests (issue 3, "Show it"; SPEC §6 `verify`): one store with ~50 records and several
 * signed checkpoints, copied once per case and altered with SQLite directly, the way someone with
 * write access to the data dir but without the private key could. `verify` must exit 1 and name
 * the first bad seq with the SPEC's words.
 */
interface Row {
  seq: number;
  kind: string;
  rec: string;
  hash: string;
}
interface CheckpointRow {
  seq: number;
  hash: string;
  ts: number;
  signature: string;
  reason: string;
}

describe('audit trail: tamper evidence', () => {
  let backend: TestBackend;
  let dir: string;
  let pristine: string;
  let rows: Row[];
  let checkpoints: CheckpointRow[];
  let copies = 0;

  /** A fresh copy of the pristine data dir. */
  const copy = (): string => copyDir(pristine, path.join(dir, `copy-${++copies}`));
  const withDb = <T>(dataDir: string, fn: (db: Database.Database) => T): T => {
    const db = new Database(path.join(dataDir, 'audit.db'));
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };
  const verify = (dataDir: string) => cli(['verify', '--data', dataDir, '--quiet']);
  const assertFails = (dataDir: string, message: RegExp) => {
    const r = verify(dataDir);
    assert.equal(r.code, 1, `verify exits 1: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, message, `stderr: ${r.stderr}`);
    assert.equal(r.stdout.trim().split('\n').length, 1, `one line: ${r.stdout}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  };
  /** A request row strictly between two checkpoints (so the chain before it is vouched for). */
  const requestSeqAfter = (seq: number): number => {
    const r = rows.find((x) => x.seq > seq && x.kind === 'request');
    assert.ok(r !== undefined, `a request record after seq ${seq}`);
    return r.seq;
  };

  before(async () => {
    buildDist();
    backend = await startBackend('b1');
    dir = tempDir('tollgate-tamper-');
    pristine = path.join(dir, 'data');
    const tg = await launchTollgate(
      dir,
      pristine,
      `routes: [{ name: r, pool: p }]
pools: [{ name: p, backends: [{ name: b1, address: ${backend.address} }] }]
audit: { chain: { enabled: true, checkpoint_interval: 300ms } }
`,
    );
    try {
      for (let i = 0; i < 50; i++) {
        const res = await request(tg.url(`/t/${i}`));
        await res.body.dump();
        assert.equal(res.statusCode, 200);
        await sleep(25);
      }
    } finally {
      assert.equal(await tg.stop(), 0, tg.stderr());
    }
    withDb(pristine, (db) => {
      rows = db.prepare('SELECT seq, kind, rec, hash FROM records ORDER BY seq').all() as Row[];
      checkpoints = db
        .prepare('SELECT seq, hash, ts, signature, reason FROM checkpoints ORDER BY seq')
        .all() as CheckpointRow[];
    });
    assert.ok(rows.filter((r) => r.kind === 'request').length >= 50, `${rows.length} records`);
    assert.ok(checkpoints.length >= 3, `at least three signed checkpoints: ${JSON.stringify(checkpoints)}`);
    assert.equal(checkpoints.at(-1)!.seq, rows.at(-1)!.seq, 'the clean stop signed the head');
    assert.equal(checkpoints.at(-1)!.reason, 'shutdown');
  });
  after(async () => {
    await backend.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('verifies the untouched store: exit 0 and ok', () => {
    const r = verify(copy());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        `^ok: ${rows.length} records, seq 1\\.\\.${rows.length}, chain intact; ${checkpoints.length} signed checkpoints hold`,
      ),
    );
  });

  it('the store on disk is the chain: every hash recomputes from the genesis', () => {
    let prev = GENESIS;
    for (const r of rows) {
      prev = chainHash(prev, r.rec);
      assert.equal(r.hash, prev, `seq ${r.seq}`);
    }
  });

  it('(a) one changed field inside a record: seq K altered', () => {
    const d = copy();
    const k = requestSeqAfter(checkpoints[0]!.seq);
    const rec = rows[k - 1]!.rec;
    assert.ok(rec.includes('"status_code":200'));
    withDb(d, (db) =>
      db
        .prepare('UPDATE records SET rec = ? WHERE seq = ?')
        .run(rec.replace('"status_code":200', '"status_code":201'), k),
    );
    assertFails(d, new RegExp(`^FAIL: seq ${k} altered\\n$`));
  });

  it('(a) a changed hash alone: seq K altered', () => {
    const d = copy();
    const k = requestSeqAfter(5);
    withDb(d, (db) => db.prepare('UPDATE records SET hash = ? WHERE seq = ?').run('f'.repeat(64), k));
    assertFails(d, new RegExp(`^FAIL: seq ${k} altered\\n$`));
  });

  it('(b) a deleted row: seq K missing', () => {
    const d = copy();
    const k = requestSeqAfter(10);
    withDb(d, (db) => db.prepare('DELETE FROM records WHERE seq = ?').run(k));
    assertFails(d, new RegExp(`^FAIL: seq ${k} missing\\n$`));
  });

  it('(b) the first row deleted: seq 1 missing', () => {
    const d = copy();
    withDb(d, (db) => db.prepare('DELETE FROM records WHERE seq = 1').run());
    assertFails(d, /^FAIL: seq 1 missing\n$/);
  });

  it('(c) two rows swapped (rec and hash moved, seq column kept): seq K out of order', () => {
    const d = copy();
    const k = requestSeqAfter(12);
    const a = rows[k - 1]!;
    const b = rows[k]!;
    withDb(d, (db) => {
      const set = db.prepare('UPDATE records SET rec = ?, hash = ? WHERE seq = ?');
      db.transaction(() => {
        set.run(b.rec, b.hash, a.seq);
        set.run(a.rec, a.hash, b.seq);
      })();
    });
    assertFails(d, new RegExp(`^FAIL: seq ${k} out of order\\b.*\\n$`));
  });

  it('(c) a row inserted in the middle (the rest renumbered): seq K out of order', () => {
    const d = copy();
    const k = requestSeqAfter(20);
    withDb(d, (db) => {
      db.transaction(() => {
        // move rows k.. up by one (from the top, so the primary key never collides), then re-insert row k-1's text at k
        db.prepare('UPDATE records SET seq = -seq WHERE seq >= ?').run(k);
        db.prepare('UPDATE records SET seq = 1 - seq WHERE seq <= ?').run(-k);
        db.prepare(
          'INSERT INTO records(seq, kind, ts, rec, hash) SELECT ?, kind, ts, rec, hash FROM records WHERE seq = ?',
        ).run(k, k - 1);
      })();
    });
    assertFails(d, new RegExp(`^FAIL: seq ${k} out of order\\b.*\\n$`));
  });

  it('(d) the tail truncated past the last checkpoint: truncated, records end at seq S, checkpoint signs M', () => {
    const d = copy();
    const m = checkpoints.at(-1)!.seq;
    const s = checkpoints[1]!.seq + 2;
    assert.ok(s < m);
    withDb(d, (db) => db.prepare('DELETE FROM records WHERE seq > ?').run(s));
    assertFails(d, new RegExp(`^FAIL: truncated: records end at seq ${s}, checkpoint signs ${m}\\n$`));
  });

  it('(d) only the last record removed: truncated, records end at seq M-1', () => {
    const d = copy();
    const m = checkpoints.at(-1)!.seq;
    withDb(d, (db) => db.prepare('DELETE FROM records WHERE seq = ?').run(m));
    assertFails(d, new RegExp(`^FAIL: truncated: records end at seq ${m - 1}, checkpoint signs ${m}\\n$`));
  });

  it('(e) the tail truncated and every checkpoint row deleted: still detected from checkpoints.jsonl', () => {
    const d = copy();
    const m = checkpoints.at(-1)!.seq;
    const s = checkpoints[0]!.seq + 3;
    withDb(d, (db) => {
      db.prepare('DELETE FROM records WHERE seq > ?').run(s);
      db.prepare('DELETE FROM checkpoints').run();
    });
    const file = fs.readFileSync(path.join(d, 'checkpoints.jsonl'), 'utf8').trim().split('\n');
    assert.equal(file.length, checkpoints.length, 'checkpoints.jsonl holds every checkpoint');
    assertFails(d, new RegExp(`^FAIL: truncated: records end at seq ${s}, checkpoint signs ${m}\\n$`));
  });

  it('(e) every record and every checkpoint row deleted: still detected from checkpoints.jsonl', () => {
    const d = copy();
    const m = checkpoints.at(-1)!.seq;
    withDb(d, (db) => {
      db.prepare('DELETE FROM records').run();
      db.prepare('DELETE FROM checkpoints').run();
    });
    assertFails(d, new RegExp(`^FAIL: truncated: records end at seq 0, checkpoint signs ${m}\\n$`));
  });

  it('(f) a record altered and every following hash recomputed (no private key): caught by the next signed checkpoint', () => {
    const d = copy();
    const c0 = checkpoints[0]!;
    const k = requestSeqAfter(c0.seq);
    // the first checkpoint that signs the altered record is the one that catches it
    const c1 = checkpoints.find((c) => c.seq >= k)!;
    assert.ok(k <= c1.seq, `seq ${k} lies between the checkpoints at ${c0.seq} and ${c1.seq}`);
    withDb(d, (db) => {
      const set = db.prepare('UPDATE records SET rec = ?, hash = ? WHERE seq = ?');
      db.transaction(() => {
        let prev = rows[k - 2]!.hash;
        for (const r of rows.slice(k - 1)) {
          const rec = r.seq === k ? r.rec.replace('"status_code":200', '"status_code":500') : r.rec;
          assert.ok(r.seq !== k || rec !== r.rec);
          prev = chainHash(prev, rec);
          set.run(rec, prev, r.seq);
        }
      })();
    });
    assertFails(
      d,
      new RegExp(
        `^FAIL: seq ${c0.seq + 1}\\.\\.${c1.seq} altered\\b.*checkpoint signed at seq ${c1.seq}\\n$`,
      ),
    );
  });

  it('(f) the same forgery with the checkpoints table emptied is still caught from checkpoints.jsonl', () => {
    const d = copy();
    const c0 = checkpoints[0]!;
    const k = requestSeqAfter(c0.seq);
    // the first checkpoint that signs the altered record is the one that catches it
    const c1 = checkpoints.find((c) => c.seq >= k)!;
    withDb(d, (db) => {
      const set = db.prepare('UPDATE records SET rec = ?, hash = ? WHERE seq = ?');
      db.transaction(() => {
        let prev = rows[k - 2]!.hash;
        for (const r of rows.slice(k - 1)) {
          const rec = r.seq === k ? r.rec.replace('"status_code":200', '"status_code":500') : r.rec;
          prev = chainHash(prev, rec);
          set.run(rec, prev, r.seq);
        }
        db.prepare('DELETE FROM checkpoints').run();
      })();
    });
    assertFails(d, new RegExp(`^FAIL: seq ${c0.seq + 1}\\.\\.${c1.seq} altered\\b`));
  });

  it('(g) a checkpoint whose signature was changed: checkpoint at seq N has an invalid signature', () => {
    const d = copy();
    const c = checkpoints[1]!;
    const forged = `${c.signature[0] === 'A' ? 'B' : 'A'}${c.signature.slice(1)}`;
    withDb(d, (db) => db.prepare('UPDATE checkpoints SET signature = ? WHERE seq = ?').run(forged, c.seq));
    assertFails(d, new RegExp(`^FAIL: checkpoint at seq ${c.seq} has an invalid signature\\n$`));
  });

  it('(g) a checkpoint re-pointed at a recomputed chain without the key: invalid signature', () => {
    const d = copy();
    const c = checkpoints[1]!;
    withDb(d, (db) => db.prepare('UPDATE checkpoints SET hash = ? WHERE seq = ?').run('0'.repeat(64), c.seq));
    assertFails(d, new RegExp(`^FAIL: checkpoint at seq ${c.seq} has an invalid signature\\n$`));
  });

  it('(g) a forged signature in checkpoints.jsonl, with the table row gone: invalid signature', () => {
    const d = copy();
    const c = checkpoints[0]!;
    const file = path.join(d, 'checkpoints.jsonl');
    const lines = fs
      .readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as CheckpointRow)
      .map((x) =>
        x.seq === c.seq
          ? { ...x, signature: `${x.signature[0] === 'A' ? 'B' : 'A'}${x.signature.slice(1)}` }
          : x,
      );
    fs.writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    withDb(d, (db) => db.prepare('DELETE FROM checkpoints WHERE seq = ?').run(c.seq));
    assertFails(d, new RegExp(`^FAIL: checkpoint at seq ${c.seq} has an invalid signature\\n$`));
  });

  it('a replaced public key (someone re-signed with their own key) makes every checkpoint invalid', async () => {
    const d = copy();
    const { generateKeyPairSync } = await import('node:crypto');
    const { publicKey } = generateKeyPairSync('ed25519');
    fs.writeFileSync(path.join(d, 'chain-key.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    assertFails(
      d,
      new RegExp(`^FAIL: checkpoint at seq ${checkpoints[0]!.seq} has an invalid signature\\n$`),
    );
  });

  it('a record appended after the last checkpoint is not vouched for, and verify says so', () => {
    // Nothing signed covers it (the same as records written after a crash, before the next
    // checkpoint): verify cannot call it forged, but must not present it as covered.
    const d = copy();
    const last = rows.at(-1)!;
    const lastRequest = rows.filter((r) => r.kind === 'request').at(-1)!;
    const seq = last.seq + 1;
    const rec = lastRequest.rec.replace(
      /"chain":\{"seq":\d+,"hash":null\}\}\}$/,
      `"chain":{"seq":${seq},"hash":null}}}`,
    );
    assert.notEqual(rec, lastRequest.rec);
    withDb(d, (db) =>
      db
        .prepare("INSERT INTO records(seq, kind, ts, rec, hash) VALUES (?, 'request', ?, ?, ?)")
        .run(seq, Date.now(), rec, chainHash(last.hash, rec)),
    );
    const r = verify(d);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^ok: ${seq} records, seq 1\\.\\.${seq}, chain intact`));
    assert.match(
      r.stdout,
      new RegExp(
        `\\nnote: seq ${seq}\\.\\.${seq} are chained but not yet covered by a signed checkpoint\\n$`,
      ),
    );
  });

  it('a data dir that does not exist is one clear line on stderr and a non-zero exit', () => {
    const missing = path.join(dir, 'no-such-dir');
    const r = verify(missing);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^tollgate: .*no-such-dir/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it('a data dir whose store is gone (keys left) is one clear line and a non-zero exit', () => {
    const d = copy();
    for (const f of fs.readdirSync(d)) if (f.startsWith('audit.db')) fs.rmSync(path.join(d, f));
    const r = verify(d);
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^tollgate: .*audit\.db/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});
