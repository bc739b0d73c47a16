import type Database from 'better-sqlite3';
import type { ErrorGroupRow } from './error-groups.js';
import { ErrorGroups } from './error-groups.js';
import { positiveInt, writeError } from './errors.js';
import { LAG_KEY, RecordQueries } from './queries.js';
import { MAX_TS, ROW_COLUMNS, RUNS_THROUGH, runKey } from './query-sql.js';
import { ReportQueries } from './report-queries.js';
import { TokenTable } from './tokens.js';
import type { Anchor, Checkpoint, EventFilters, QueryFilters, StatusCount, StoredRow } from './types.js';

type Statement = Database.Statement<unknown[], unknown>;

/**
 * Client IPs and user names are indexed in runs: once this many records have been inserted after
 * the last run, the insert's transaction appends one run, their (key, seq) entries sorted, at the
 * end of the `run_keys` b-tree (`run` leads its key). A run is written once, in fresh pages,
 * however many distinct addresses and users it holds, where a (client_ip, ts) index had each
 * commit rewrite one page per row. `query` seeks each run that overlaps its time range and reads
 * the records after the last run (fewer than this many, plus one batch) from the table.
 */
export const RUN_ROWS = 16_384;

/** Run keys per multi-row INSERT into run_keys (3 × 128 = 384 parameters). */
const RUN_KEY_ROWS = 128;

/**
 * The records inserted since the last run, as the next run needs them: their seq and ts span
 * and their (key, seq) pairs. Kept by this connection's `insertBatch` from the rows it inserts,
 * so writing a run does not read back ~16,000 records of ~1.8 KB from the table three times.
 */
interface PendingRun {
  /** The last seq of the last run (the pending records are those after it). */
  through: number;
  minSeq: number;
  maxSeq: number;
  minTs: number;
  maxTs: number;
  keys: string[];
  seqs: number[];
}

/** Columns bound per record, and records per multi-row INSERT (13 × 32 = 416 parameters). */
const INSERT_FIELDS = 13;
const INSERT_ROWS = 32;

function bindRow(args: unknown[], at: number, r: StoredRow): void {
  args[at] = r.seq;
  args[at + 1] = r.kind;
  args[at + 2] = r.ts;
  args[at + 3] = r.rec;
  args[at + 4] = r.hash;
  args[at + 5] = r.requestId;
  args[at + 6] = r.clientIp;
  args[at + 7] = r.status;
  args[at + 8] = r.route;
  args[at + 9] = r.backend;
  args[at + 10] = r.termination;
  args[at + 11] = r.userName;
  args[at + 12] = r.action;
}

function emptyRun(through: number): PendingRun {
  return {
    through,
    minSeq: Number.POSITIVE_INFINITY,
    maxSeq: through,
    minTs: Number.POSITIVE_INFINITY,
    maxTs: Number.NEGATIVE_INFINITY,
    keys: [],
    seqs: [],
  };
}

/** What the run's SQL (addRun, addRunKeys) would read back from the table for this row. */
function addToRun(run: PendingRun, r: StoredRow): void {
  if (r.seq < run.minSeq) run.minSeq = r.seq;
  if (r.seq > run.maxSeq) run.maxSeq = r.seq;
  if (r.ts < run.minTs) run.minTs = r.ts;
  if (r.ts > run.maxTs) run.maxTs = r.ts;
  if (r.kind !== 'request') return;
  if (r.clientIp !== null) {
    run.keys.push(runKey('ip', r.clientIp));
    run.seqs.push(r.seq);
  }
  if (r.userName !== null) {
    run.keys.push(runKey('user', r.userName));
    run.seqs.push(r.seq);
  }
}

export interface StoreContext {
  readonly file: string;
  readonly readonly: boolean;
  readonly now: () => number;
}

/** What `prune`'s callback returns: the signature over the new anchor, made by the chain's key. */
export interface AnchorSignature {
  ts: number;
  signature: string;
}

/**
 * The audit store over one better-sqlite3 connection: the writer's (one per store) or a reader's.
 * Statements are prepared once; `query` and `events` prepare one statement per combination of
 * filters the first time it is used. Every method is synchronous: the writer calls them from its
 * worker thread, the CLI from its only thread.
 */
export class Store {
  readonly file: string;
  readonly readonly: boolean;
  /** Admin API tokens and the admin events waiting to be chained. */
  readonly tokens: TokenTable;
  /** The window passes and totals of `tollgate report` (statements prepared on first use). */
  readonly report: ReportQueries;
  readonly #db: Database.Database;
  readonly #now: () => number;
  readonly #queries: RecordQueries;
  #errorGroups: ErrorGroups | null = null;
  readonly #insert: Statement;
  readonly #insertMany: Statement;
  readonly #insertBatch: (rows: StoredRow[], known: PendingRun | null) => PendingRun | null;
  /** The next run as far as this connection knows it (null: read it from the table when due). */
  #pending: PendingRun | null = null;
  readonly #runsThrough: Statement;
  readonly #last: Statement;
  readonly #rowsFrom: Statement;
  readonly #count: Statement;
  readonly #firstSeq: Statement;
  readonly #byRequestId: Statement;
  readonly #maxTs: Statement;
  readonly #addCheckpoint: Statement;
  readonly #checkpoints: Statement;
  readonly #lastCheckpoint: Statement;
  readonly #cursor: Statement;
  readonly #setCursor: Statement;
  readonly #anchor: Statement;
  readonly #oldest: Statement;
  readonly #pruneBatch: (last: Anchor) => number;
  readonly #meta: Statement;
  readonly #setMeta: Statement;

  constructor(db: Database.Database, context: StoreContext) {
    this.#db = db;
    this.file = context.file;
    this.readonly = context.readonly;
    this.#now = context.now;
    this.#queries = new RecordQueries(db);
    this.tokens = new TokenTable(db, context.file);
    this.report = new ReportQueries(db);
    const p = (sql: string): Statement => db.prepare(sql);
    const columns =
      'INSERT INTO records(seq, kind, ts, rec, hash, request_id, client_ip, status, route, backend, ' +
      'termination, user_name, action) VALUES ';
    const values = `(${Array(INSERT_FIELDS).fill('?').join(', ')})`;
    this.#insert = p(columns + values);
    this.#insertMany = p(columns + Array(INSERT_ROWS).fill(values).join(', '));
    this.#runsThrough = p(RUNS_THROUGH).pluck();
    const addRun = p(
      'INSERT INTO runs(run, first_seq, last_seq, min_ts, max_ts) ' +
        'SELECT coalesce((SELECT max(run) FROM runs), -1) + 1, min(seq), max(seq), min(ts), max(ts) ' +
        'FROM records NOT INDEXED WHERE seq > ?',
    );
    const addRunKeys = p(
      'INSERT INTO run_keys(run, key, rseq) ' +
        "SELECT (SELECT max(run) FROM runs), 'i' || client_ip, seq FROM records NOT INDEXED " +
        "WHERE seq > ? AND kind = 'request' AND client_ip IS NOT NULL " +
        "UNION ALL SELECT (SELECT max(run) FROM runs), 'u' || user_name, seq FROM records NOT INDEXED " +
        "WHERE seq > ? AND kind = 'request' AND user_name IS NOT NULL ORDER BY 2, 3",
    );
    const putRun = p('INSERT INTO runs(run, first_seq, last_seq, min_ts, max_ts) VALUES (?, ?, ?, ?, ?)');
    const lastRun = p('SELECT max(run) FROM runs').pluck();
    const putKeys = p(
      `INSERT INTO run_keys(run, key, rseq) VALUES ${Array(RUN_KEY_ROWS).fill('(?, ?, ?)').join(', ')}`,
    );
    const putKey = p('INSERT INTO run_keys(run, key, rseq) VALUES (?, ?, ?)');
    const keyArgs: unknown[] = new Array(3 * RUN_KEY_ROWS);
    /** Appends the run of `pending` (which holds every record after the last run) from memory. */
    const writeRun = (pending: PendingRun): void => {
      const run = ((lastRun.get() as number | null) ?? -1) + 1;
      putRun.run(run, pending.minSeq, pending.maxSeq, pending.minTs, pending.maxTs);
      // sorted by (key, seq), as the b-tree orders them, so each entry lands at its right edge:
      // the seqs of one key are in insertion order already, so only the distinct keys are sorted
      const { keys, seqs } = pending;
      const byKey = new Map<string, number[]>();
      for (let k = 0; k < keys.length; k++) {
        const list = byKey.get(keys[k]!);
        if (list === undefined) byKey.set(keys[k]!, [seqs[k]!]);
        else list.push(seqs[k]!);
      }
      let n = 0;
      for (const key of [...byKey.keys()].sort()) {
        for (const seq of byKey.get(key)!) {
          keyArgs[3 * n] = run;
          keyArgs[3 * n + 1] = key;
          keyArgs[3 * n + 2] = seq;
          if (++n === RUN_KEY_ROWS) {
            putKeys.run(keyArgs);
            n = 0;
          }
        }
      }
      for (let k = 0; k < n; k++) putKey.run(run, keyArgs[3 * k + 1], keyArgs[3 * k + 2]);
    };
    const many: unknown[] = new Array(INSERT_FIELDS * INSERT_ROWS);
    const one: unknown[] = new Array(INSERT_FIELDS);
    this.#insertBatch = db.transaction((rows: StoredRow[], known: PendingRun | null): PendingRun | null => {
      let newest = (this.#maxTs.get() as number | null) ?? Number.NEGATIVE_INFINITY;
      let lag = 0;
      for (const r of rows) {
        if (r.ts > newest) newest = r.ts;
        else if (newest - r.ts > lag) lag = newest - r.ts;
      }
      // INSERT_ROWS rows per statement: one bind-and-step per group instead of per row
      let i = 0;
      for (; i + INSERT_ROWS <= rows.length; i += INSERT_ROWS) {
        for (let k = 0; k < INSERT_ROWS; k++) bindRow(many, k * INSERT_FIELDS, rows[i + k]!);
        this.#insertMany.run(many);
      }
      for (; i < rows.length; i++) {
        bindRow(one, 0, rows[i]!);
        this.#insert.run(one);
      }
      if (lag > this.#queries.lag()) this.#setMeta.run(LAG_KEY, String(lag));
      const through = (this.#runsThrough.get() as number | undefined) ?? 0;
      // the keys kept in memory stand for the table only if they start right after the last run
      // (not so after an open, or if the rows did not follow on) and nothing else wrote in between
      let pending = known;
      if (pending !== null && (pending.through !== through || rows[0]!.seq !== pending.maxSeq + 1))
        pending = null;
      if (pending === null && rows[0]!.seq === through + 1) pending = emptyRun(through);
      // changed in place: if this transaction fails, insertBatch forgets it (see there)
      if (pending !== null) for (const r of rows) addToRun(pending, r);
      let next = pending;
      if (rows[rows.length - 1]!.seq - through >= RUN_ROWS) {
        if (pending !== null) writeRun(pending);
        else {
          addRun.run(through);
          addRunKeys.run(through, through);
        }
        next = emptyRun(rows[rows.length - 1]!.seq);
      }
      return next;
    });
    this.#last = p('SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1');
    this.#rowsFrom = p(`SELECT ${ROW_COLUMNS} FROM records WHERE seq >= ? ORDER BY seq LIMIT ?`);
    this.#count = p('SELECT count(*) FROM records').pluck();
    this.#firstSeq = p('SELECT min(seq) FROM records').pluck();
    this.#byRequestId = p(
      `SELECT ${ROW_COLUMNS} FROM records WHERE request_id = ? AND kind = 'request' ORDER BY seq`,
    );
    this.#maxTs = p(MAX_TS).pluck();
    this.#addCheckpoint = p(
      'INSERT INTO checkpoints(seq, hash, ts, signature, reason) VALUES (?, ?, ?, ?, ?)',
    );
    const checkpointColumns = 'SELECT seq, hash, ts, signature, reason FROM checkpoints';
    this.#checkpoints = p(`${checkpointColumns} ORDER BY seq, rowid`);
    this.#lastCheckpoint = p(`${checkpointColumns} ORDER BY seq DESC, rowid DESC LIMIT 1`);
    this.#cursor = p('SELECT seq FROM cursors WHERE sink = ?').pluck();
    this.#setCursor = p(
      'INSERT INTO cursors(sink, seq, updated_at) VALUES (?, ?, ?) ' +
        'ON CONFLICT(sink) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at',
    );
    this.#anchor = p('SELECT seq, hash, ts, signature FROM anchors ORDER BY seq DESC LIMIT 1');
    this.#oldest = p('SELECT seq, hash, ts FROM records ORDER BY seq LIMIT ?');
    const putAnchor = p('INSERT OR REPLACE INTO anchors(seq, hash, ts, signature) VALUES (?, ?, ?, ?)');
    const dropAnchors = p('DELETE FROM anchors WHERE seq < ?');
    const deleteUpTo = p('DELETE FROM records WHERE seq <= ?');
    // a run goes once all its records are gone (its keys are one range of run_keys)
    const deleteRunKeys = p('DELETE FROM run_keys WHERE run IN (SELECT run FROM runs WHERE last_seq <= ?)');
    const deleteRuns = p('DELETE FROM runs WHERE last_seq <= ?');
    this.#pruneBatch = db.transaction((a: Anchor) => {
      putAnchor.run(a.seq, a.hash, a.ts, a.signature);
      dropAnchors.run(a.seq);
      deleteRunKeys.run(a.seq);
      deleteRuns.run(a.seq);
      return deleteUpTo.run(a.seq).changes;
    });
    this.#meta = p('SELECT value FROM meta WHERE key = ?').pluck();
    this.#setMeta = p(
      'INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    );
  }

  // ---- records

  /** Appends rows (already numbered and chained by the writer) in one transaction: all or none. */
  insertBatch(rows: StoredRow[]): void {
    if (rows.length === 0) return;
    const pending = this.#pending;
    // a failed transaction may have added its rows to the in-memory run: forget it (the next
    // run is then read from the table, as after an open)
    this.#pending = null;
    this.#pending = this.#write('a batch of records', () => this.#insertBatch(rows, pending));
  }

  /** The chain's head: the newest record, or the retention anchor when every record was pruned. */
  last(): { seq: number; hash: string } | null {
    const row = this.#last.get() as { seq: number; hash: string } | undefined;
    if (row !== undefined) return row;
    const anchor = this.anchor();
    return anchor === null ? null : { seq: anchor.seq, hash: anchor.hash };
  }

  /** Up to `limit` rows from `seq` on, ascending (every kind): for verify and the sinks. */
  rowsFrom(seq: number, limit: number): StoredRow[] {
    return this.#rowsFrom.all(seq, positiveInt('limit', limit)) as StoredRow[];
  }

  count(): number {
    return this.#count.get() as number;
  }

  firstSeq(): number | null {
    return (this.#firstSeq.get() as number | null | undefined) ?? null;
  }

  /**
   * Request rows matching every filter, newest first by seq; page on with `beforeSeq`. `status`
   * is a range (min = max for one status); `clientIp` an address or a CIDR range, v4 or v6.
   */
  query(filters: QueryFilters, limit: number): StoredRow[] {
    return this.#queries.query(filters, limit);
  }

  /** Every request row with this request id, oldest first (ids are unique in practice, not by force). */
  byRequestId(id: string): StoredRow[] {
    return this.#byRequestId.all(id) as StoredRow[];
  }

  /** Admin rows, newest first by seq; page on with `beforeSeq`. */
  events(filters: EventFilters, limit: number): StoredRow[] {
    return this.#queries.events(filters, limit);
  }

  /** Requests per status code with ts in [since, until), ascending by status; statuses with none are left out. */
  countByStatus(since: number, until: number): StatusCount[] {
    return this.#queries.countByStatus(since, until);
  }

  /**
   * Failed requests (any termination but `ok`, or a 5xx) with ts in [since, until), grouped by
   * route, backend and termination, most failures first, with the newest few of each.
   */
  errorGroups(since: number, until: number, limit: number): { total: number; groups: ErrorGroupRow[] } {
    positiveInt('limit', limit);
    this.#errorGroups ??= new ErrorGroups(this.#db);
    return this.#errorGroups.groups(since, until, limit);
  }

  // ---- checkpoints, cursors, anchors, meta

  addCheckpoint(c: Checkpoint): void {
    this.#write(`the checkpoint at seq ${c.seq}`, () =>
      this.#addCheckpoint.run(c.seq, c.hash, c.ts, c.signature, c.reason),
    );
  }

  /** Every checkpoint, ascending by seq (then in the order they were added). */
  checkpoints(): Checkpoint[] {
    return this.#checkpoints.all() as Checkpoint[];
  }

  lastCheckpoint(): Checkpoint | null {
    return (this.#lastCheckpoint.get() as Checkpoint | undefined) ?? null;
  }

  /** The last seq a sink has shipped; 0 when it never shipped anything. */
  cursor(sink: string): number {
    return (this.#cursor.get(sink) as number | undefined) ?? 0;
  }

  setCursor(sink: string, seq: number): void {
    this.#write(`the cursor of sink ${sink}`, () => this.#setCursor.run(sink, seq, this.#now()));
  }

  /** Where the remaining chain starts after pruning; null when nothing was ever pruned. */
  anchor(): Anchor | null {
    return (this.#anchor.get() as Anchor | undefined) ?? null;
  }

  /**
   * Retention: deletes the oldest records while their ts is below `beforeTs`, `batch` rows per
   * transaction, so the writer and readers are held up by one small batch at a time. It deletes
   * from the start of the chain only and stops at the first record not older than `beforeTs`, so
   * the records left are gap-free (an old record behind a newer one waits for the next prune).
   * Before each batch is deleted, in the same transaction, the anchor moves to the batch's last
   * record, signed by `sign`, so the remaining chain verifies from there. `maxBatches` bounds one
   * call's work (the writer can prune a backlog a few batches per turn); nothing past `maxSeq` is
   * deleted (the writer passes the lowest cursor of its sinks: a record not yet shipped stays).
   * Returns the rows deleted.
   */
  prune(
    beforeTs: number,
    batch: number,
    sign: (last: { seq: number; hash: string }) => AnchorSignature,
    maxBatches = Number.POSITIVE_INFINITY,
    maxSeq = Number.POSITIVE_INFINITY,
  ): number {
    positiveInt('batch', batch);
    let deleted = 0;
    for (let round = 0; round < maxBatches; round++) {
      const oldest = this.#oldest.all(batch) as { seq: number; hash: string; ts: number }[];
      let end = 0;
      while (end < oldest.length && oldest[end]!.ts < beforeTs && oldest[end]!.seq <= maxSeq) end++;
      if (end === 0) break;
      const last = oldest[end - 1]!;
      const signed = sign({ seq: last.seq, hash: last.hash });
      const anchor: Anchor = { seq: last.seq, hash: last.hash, ts: signed.ts, signature: signed.signature };
      deleted += this.#write(`the retention anchor at seq ${last.seq}`, () => this.#pruneBatch(anchor));
      if (end < batch) break;
    }
    return deleted;
  }

  meta(key: string): string | null {
    return (this.#meta.get(key) as string | null | undefined) ?? null;
  }

  setMeta(key: string, value: string): void {
    this.#write(`meta ${key}`, () => this.#setMeta.run(key, value));
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  // ---- internals

  #write<T>(what: string, fn: () => T): T {
    if (this.readonly) {
      throw writeError(
        this.file,
        what,
        new Error('the store is open read-only (only the audit writer writes)'),
      );
    }
    try {
      return fn();
    } catch (err) {
      throw writeError(this.file, what, err);
    }
  }
}
