import type Database from 'better-sqlite3';
import { TollgateError } from '../core/index.js';
import { StoreErrorCode } from './errors.js';

/**
 * Numbered schema migrations, applied in order, each once, in one transaction with its
 * `schema_migrations` row. Never edit a shipped migration: add the next number.
 *
 * Indexes as of version 2 (see store.ts and queries.ts for how they are read):
 * - `records_ts (kind, ts, route, backend, termination, user_name)`: time-only queries, admin
 *   events, and the low-cardinality filters, checked on the index entries while a time range
 *   is read newest first. It grows at its right edge only (ts rises with seq), so a commit
 *   touches a few of its pages.
 * - `records_status_ts (status, ts)` and `records_request_id_ts (request_id, ts)`, partial on
 *   `kind = 'request'`; the status index also gives the count by status and the statuses of a
 *   class in a few seeks.
 * - client IPs and user names: `run_keys (run, key, rseq)`, key `i<address>` or `u<user>`, one
 *   sorted run per RUN_ROWS records, each described in `runs`; the records after the last run
 *   are read from the table.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'init',
    sql: `
      CREATE TABLE records (
        seq INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        ts INTEGER NOT NULL,
        rec TEXT NOT NULL,
        hash TEXT NOT NULL,
        request_id TEXT,
        client_ip TEXT,
        status INTEGER,
        route TEXT,
        backend TEXT,
        termination TEXT,
        user_name TEXT,
        action TEXT
      );
      CREATE INDEX records_kind_ts ON records(kind, ts);
      CREATE INDEX records_client_ip_ts ON records(client_ip, ts) WHERE kind = 'request';
      CREATE INDEX records_status_ts ON records(status, ts) WHERE kind = 'request';
      CREATE INDEX records_route_ts ON records(route, ts) WHERE kind = 'request';
      CREATE INDEX records_backend_ts ON records(backend, ts) WHERE kind = 'request';
      CREATE INDEX records_termination_ts ON records(termination, ts) WHERE kind = 'request';
      CREATE INDEX records_user_name_ts ON records(user_name, ts) WHERE kind = 'request';
      CREATE INDEX records_request_id_ts ON records(request_id, ts) WHERE kind = 'request';

      CREATE TABLE checkpoints (
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL,
        ts INTEGER NOT NULL,
        signature TEXT NOT NULL,
        reason TEXT NOT NULL
      );
      CREATE INDEX checkpoints_seq ON checkpoints(seq);

      CREATE TABLE cursors (
        sink TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        updated_at INTEGER
      );

      CREATE TABLE anchors (
        seq INTEGER PRIMARY KEY,
        hash TEXT NOT NULL,
        ts INTEGER NOT NULL,
        signature TEXT NOT NULL
      );

      CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT
      );
    `,
  },
  {
    version: 2,
    name: 'tokens',
    sql: `
      CREATE TABLE tokens (
        name TEXT PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER,
        revoked_by TEXT
      );

      CREATE TABLE pending_events (
        id INTEGER PRIMARY KEY,
        event TEXT NOT NULL
      );
      `,
  },
  {
    // Version 1 had one index per filter (eight): each inserted row cost eight index inserts, and
    // the client-IP and user indexes, with many distinct keys, had each commit rewrite one of
    // their pages per row (16 KiB for a ~40-byte entry). Version 3: one covering time index
    // serves time-only, route, backend and termination queries; client IPs and users are indexed
    // in runs (see RUN_ROWS in store.ts), appended whole. Upgrading builds both from the table.
    version: 3,
    name: 'covering time index, key runs',
    sql: `
      DROP INDEX records_kind_ts;
      DROP INDEX records_route_ts;
      DROP INDEX records_backend_ts;
      DROP INDEX records_termination_ts;
      DROP INDEX records_user_name_ts;
      DROP INDEX records_client_ip_ts;
      CREATE INDEX records_ts ON records(kind, ts, route, backend, termination, user_name);

      CREATE TABLE runs (
        run INTEGER PRIMARY KEY,
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        min_ts INTEGER NOT NULL,
        max_ts INTEGER NOT NULL
      );
      CREATE TABLE run_keys (
        run INTEGER NOT NULL,
        key TEXT NOT NULL,
        rseq INTEGER NOT NULL,
        PRIMARY KEY (run, key, rseq)
      ) WITHOUT ROWID;
      INSERT INTO runs(run, first_seq, last_seq, min_ts, max_ts)
        SELECT seq / 16384, min(seq), max(seq), min(ts), max(ts) FROM records GROUP BY seq / 16384;
      INSERT INTO run_keys(run, key, rseq)
        SELECT seq / 16384, 'i' || client_ip, seq FROM records
          WHERE kind = 'request' AND client_ip IS NOT NULL
        UNION ALL
        SELECT seq / 16384, 'u' || user_name, seq FROM records
          WHERE kind = 'request' AND user_name IS NOT NULL
        ORDER BY 1, 2, 3;
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at INTEGER NOT NULL
)`;

function tooNew(file: string, version: number): TollgateError {
  return new TollgateError(
    StoreErrorCode.SCHEMA,
    `the audit store ${file} has schema version ${version}, newer than this Tollgate knows (${SCHEMA_VERSION}); run the newer Tollgate that wrote it`,
  );
}

/** Brings the store to the newest schema; a no-op when it is there already. Returns the versions applied. */
export function migrate(db: Database.Database, file: string, now: () => number): number[] {
  const run = db.transaction(() => {
    db.exec(CREATE_TABLE);
    const current =
      (db.prepare('SELECT max(version) FROM schema_migrations').pluck().get() as number | null) ?? 0;
    if (current > SCHEMA_VERSION) throw tooNew(file, current);
    const record = db.prepare('INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)');
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      record.run(m.version, m.name, now());
      applied.push(m.version);
    }
    return applied;
  });
  // IMMEDIATE: two writers opening a fresh store at once cannot both apply migration 1.
  return run.immediate();
}

/** For read-only connections, which cannot migrate: the store must be at this build's version. */
export function checkSchema(db: Database.Database, file: string): void {
  const table = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
    .pluck()
    .get();
  const version =
    table === undefined
      ? 0
      : ((db.prepare('SELECT max(version) FROM schema_migrations').pluck().get() as number | null) ?? 0);
  if (version > SCHEMA_VERSION) throw tooNew(file, version);
  if (version < SCHEMA_VERSION) {
    throw new TollgateError(
      StoreErrorCode.SCHEMA,
      `the audit store ${file} is at schema version ${version}, this Tollgate reads version ${SCHEMA_VERSION}; start Tollgate on this data dir once to upgrade it`,
      { source: 'usage' },
    );
  }
}
