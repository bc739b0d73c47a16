import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { chainHash, GENESIS, sealLine, signCheckpoint, verifyChain } from '../../src/audit/index.js';
import { isTollgateError } from '../../src/core/index.js';
import { MIGRATIONS, openStore, SCHEMA_VERSION } from '../../src/store/index.js';

/**
 * A store written by a version-1 Tollgate (eight filter indexes) is upgraded in place by the
 * writer's first open (migrations 2 and 3: tokens; the covering index and key runs): its records, checkpoints and chain are kept, every query
 * filter answers as before, and `verify` still passes. Readers refuse a store not yet upgraded.
 */
const T0 = Date.UTC(2025, 0, 1);
const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

interface Row {
  seq: number;
  kind: 'request' | 'admin';
  ts: number;
  rec: string;
  hash: string;
  requestId: string | null;
  clientIp: string | null;
  status: number | null;
  route: string | null;
  backend: string | null;
  termination: string | null;
  userName: string | null;
  action: string | null;
}

/** N chained records as a version-1 writer stored them: every 10th an admin event. */
function chainedRows(n: number): Row[] {
  const rows: Row[] = [];
  let prev = GENESIS;
  for (let seq = 1; seq <= n; seq++) {
    const admin = seq % 10 === 0;
    const ip = seq % 3 === 0 ? '203.0.113.7' : `10.1.${seq % 5}.${seq % 7}`;
    const status = seq % 7 === 0 ? 502 : 200;
    const route = seq % 2 === 0 ? 'api' : 'web';
    const line = admin
      ? `{"schema":"tollgate.admin/1","event":{"action":"config.update"},"tollgate":{"chain":{"seq":null,"hash":null}}}`
      : `{"schema":"tollgate.request/1","n":${seq},"client":"${ip}","tollgate":{"chain":{"seq":null,"hash":null}}}`;
    const rec = sealLine(line, seq);
    prev = chainHash(prev, rec);
    rows.push({
      seq,
      kind: admin ? 'admin' : 'request',
      ts: T0 + seq * 1000,
      rec,
      hash: prev,
      requestId: admin ? null : `req-${seq}`,
      clientIp: admin ? null : ip,
      status: admin ? null : status,
      route: admin ? null : route,
      backend: admin ? null : `${route}-${seq % 3}`,
      termination: admin ? null : status === 200 ? 'ok' : 'upstream_connect_refused',
      userName: admin ? 'alice' : seq % 4 === 0 ? 'bob' : null,
      action: admin ? 'config.update' : null,
    });
  }
  return rows;
}

/** A store exactly as Tollgate with schema version 1 left it: migration 1 only, rows, a checkpoint. */
function versionOneStore(rows: Row[], privateKey: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-upgrade-'));
  dirs.push(dir);
  const file = path.join(dir, 'audit.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  const v1 = MIGRATIONS.find((m) => m.version === 1)!;
  db.exec(v1.sql);
  db.exec(
    'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  db.prepare('INSERT INTO schema_migrations VALUES (1, ?, ?)').run(v1.name, T0);
  const insert = db.prepare(
    'INSERT INTO records(seq, kind, ts, rec, hash, request_id, client_ip, status, route, backend, termination, user_name, action) ' +
      'VALUES (@seq, @kind, @ts, @rec, @hash, @requestId, @clientIp, @status, @route, @backend, @termination, @userName, @action)',
  );
  db.transaction(() => {
    for (const r of rows) insert.run(r);
  })();
  const last = rows[rows.length - 1]!;
  const ts = T0 + 10_000_000;
  db.prepare('INSERT INTO checkpoints(seq, hash, ts, signature, reason) VALUES (?, ?, ?, ?, ?)').run(
    last.seq,
    last.hash,
    ts,
    signCheckpoint(privateKey, last.seq, last.hash, ts),
    'shutdown',
  );
  db.close();
  return file;
}

function indexes(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' AND sql IS NOT NULL ORDER BY name",
      )
      .pluck()
      .all() as string[];
  } finally {
    db.close();
  }
}

describe('upgrading a version-1 store', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const priv = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const pub = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const rows = chainedRows(250);

  it('readers refuse a version-1 store until a writer has opened it once', () => {
    const file = versionOneStore(rows, priv);
    assert.equal(SCHEMA_VERSION, 3);
    assert.throws(
      () => openStore(file, { readonly: true }),
      (err: unknown) =>
        isTollgateError(err) &&
        err.code === 'TG_ERR_STORE_SCHEMA' &&
        err.message.includes('schema version 1') &&
        err.message.includes('start Tollgate on this data dir once to upgrade it'),
    );
  });

  it('the writer upgrades it in place: same records and chain, new indexes, every filter answers', () => {
    const file = versionOneStore(rows, priv);
    assert.equal(indexes(file).length, 8);
    const writer = openStore(file);
    writer.close();
    assert.deepEqual(indexes(file), ['records_request_id_ts', 'records_status_ts', 'records_ts']);
    const db = new Database(file, { readonly: true });
    assert.deepEqual(
      db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all(),
      [1, 2, 3],
    );
    // the client IPs and users of the existing records are in runs already: nothing is left to the tail
    assert.deepEqual(db.prepare('SELECT run, first_seq, last_seq FROM runs').raw().all(), [[0, 1, 250]]);
    assert.equal(
      db.prepare('SELECT count(*) FROM run_keys').pluck().get(),
      rows.filter((r) => r.kind === 'request').length +
        rows.filter((r) => r.kind === 'request' && r.userName !== null).length,
    );
    db.close();

    const store = openStore(file, { readonly: true });
    try {
      assert.equal(store.count(), 250);
      assert.deepEqual(store.rowsFrom(1, 1000), rows);
      const requests = rows.filter((r) => r.kind === 'request');
      const expect = (pred: (r: Row) => boolean, limit = 1000) =>
        requests
          .filter(pred)
          .map((r) => r.seq)
          .reverse()
          .slice(0, limit);
      const got = (f: Parameters<typeof store.query>[0], limit = 1000) =>
        store.query(f, limit).map((r) => r.seq);
      const since = T0 + 100_000;
      assert.deepEqual(
        got({}, 20),
        expect(() => true, 20),
      );
      assert.deepEqual(
        got({ since }),
        expect((r) => r.ts >= since),
      );
      assert.deepEqual(
        got({ clientIp: '203.0.113.7', since }),
        expect((r) => r.clientIp === '203.0.113.7' && r.ts >= since),
      );
      assert.deepEqual(
        got({ clientIp: '10.1.0.0/16' }),
        expect((r) => r.clientIp!.startsWith('10.1.')),
      );
      assert.deepEqual(
        got({ status: { min: 500, max: 599 } }),
        expect((r) => r.status === 502),
      );
      assert.deepEqual(
        got({ route: 'api', backend: 'api-1' }),
        expect((r) => r.backend === 'api-1'),
      );
      assert.deepEqual(
        got({ termination: 'ok', until: since }),
        expect((r) => r.termination === 'ok' && r.ts < since),
      );
      assert.deepEqual(
        got({ user: 'bob' }),
        expect((r) => r.userName === 'bob'),
      );
      assert.deepEqual(got({ requestId: 'req-77' }), [77]);
      assert.deepEqual(
        store.byRequestId('req-77').map((r) => r.seq),
        [77],
      );
      assert.deepEqual(
        store.events({ user: 'alice' }, 1000).map((r) => r.seq),
        rows
          .filter((r) => r.kind === 'admin')
          .map((r) => r.seq)
          .reverse(),
      );
      const counts = store.countByStatus(T0, T0 + 1_000_000);
      assert.deepEqual(counts, [
        { status: 200, count: requests.filter((r) => r.status === 200).length },
        { status: 502, count: requests.filter((r) => r.status === 502).length },
      ]);
      const result = verifyChain(store, pub, null);
      assert.equal(result.problem, null);
      assert.equal(result.ok, true);
      assert.equal(result.records, 250);
      assert.equal(result.checkpoints, 1);
    } finally {
      store.close();
    }

    // the upgraded store goes on: the writer continues the chain from the last record
    const next = openStore(file);
    assert.deepEqual(next.last(), { seq: 250, hash: rows[249]!.hash });
    next.close();
  });
});
