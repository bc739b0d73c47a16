import type Database from 'better-sqlite3';
import { usageError } from './errors.js';

type Statement = Database.Statement<unknown[], unknown>;

/**
 * One request row of `tollgate report`'s pass over a time window: the filter columns and the
 * few record fields the report needs, pulled out of `rec` by SQLite (one JSON parse per row, in
 * C). When the only attempt answered (the common case) `attempts` is null and `attemptMs` is
 * that attempt's duration; otherwise `attempts` is the record's `tollgate.attempts` array as
 * JSON text (and `attemptMs` is to be ignored).
 */
export type ReportRequestRow = [
  seq: number,
  ts: number,
  status: number | null,
  route: string | null,
  backend: string | null,
  termination: string | null,
  clientIp: string | null,
  userName: string | null,
  requestId: string | null,
  durationNs: number | null,
  bytesIn: number | null,
  bytesOut: number | null,
  pool: string | null,
  attemptMs: number | null,
  attempts: string | null,
];

/** One admin row of the report's window; `rec` only for the actions the report lists one by one. */
export type ReportAdminRow = [
  seq: number,
  ts: number,
  action: string | null,
  actor: string | null,
  outcome: string | null,
  sourceAddress: string | null,
  status: number | null,
  rec: string | null,
];

/** Exact figures over the request rows of one client, user or (client, route) in a window. */
export interface RequestTotals {
  count: number;
  clientErrors: number;
  serverErrors: number;
  bytesIn: number;
  bytesOut: number;
  /** The newest matching row (by ts, then seq), or null when none matched. */
  lastSeq: number | null;
  firstTs: number | null;
  lastTs: number | null;
}

/** Which rows `totals` sums: every field given must match (`route: null` matches rows without a route). */
export interface TotalsFilter {
  clientIp?: string | null;
  user?: string;
  route?: string | null;
  terminations?: readonly string[];
}

const REQUEST_ROWS = `
  SELECT seq, ts, status, route, backend, termination, client_ip, user_name, request_id,
    rec ->> '$.event.duration',
    rec ->> '$.http.request.body.size',
    rec ->> '$.http.response.body.size',
    rec ->> '$.tollgate.pool',
    rec ->> '$.tollgate.attempts[0].duration_ms',
    CASE WHEN backend IS NOT NULL AND json_array_length(rec, '$.tollgate.attempts') = 1
      THEN NULL ELSE rec -> '$.tollgate.attempts' END
  FROM records WHERE kind = 'request' AND ts >= ? AND ts < ? AND (rec ->> '$.tollgate.canary') IS NOT 1`;

/** Admin actions whose whole record the report reads (they are listed one by one). */
const LISTED = `action = 'config_reload' OR action LIKE 'alert\\_%' ESCAPE '\\' OR action LIKE 'audit\\_%' ESCAPE '\\'`;

const ADMIN_ROWS = `
  SELECT seq, ts, action, user_name,
    rec ->> '$.event.outcome',
    rec ->> '$.source.address',
    rec ->> '$.tollgate.labels.status',
    CASE WHEN ${LISTED} THEN rec END
  FROM records WHERE kind = 'admin' AND ts >= ? AND ts < ?`;

const TOTALS_COLUMNS = `count(*) AS count,
    coalesce(sum(status BETWEEN 400 AND 499), 0) AS clientErrors,
    coalesce(sum(status >= 500), 0) AS serverErrors,
    coalesce(sum(rec ->> '$.http.request.body.size'), 0) AS bytesIn,
    coalesce(sum(rec ->> '$.http.response.body.size'), 0) AS bytesOut,
    min(ts) AS firstTs, max(ts) AS lastTs`;

/**
 * The SQL of `tollgate report` (src/audit/report/): a streaming pass over a window's request
 * rows and one over its admin rows, exact totals for the few clients a bounded sketch nominated,
 * and records by seq. Statements are prepared on first use, so connections that never report
 * pay nothing. Reads only; it never sorts or groups a whole window in SQLite.
 */
export class ReportQueries {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Statement>();

  constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Every request row with ts in [since, until), in index order (not sorted). */
  requestRows(since: number, until: number): IterableIterator<ReportRequestRow> {
    window(since, until);
    return this.#stmt('requests', REQUEST_ROWS, true).iterate(
      since,
      until,
    ) as IterableIterator<ReportRequestRow>;
  }

  /** Every admin row with ts in [since, until), in index order (not sorted). */
  adminRows(since: number, until: number): IterableIterator<ReportAdminRow> {
    window(since, until);
    return this.#stmt('admin', ADMIN_ROWS, true).iterate(since, until) as IterableIterator<ReportAdminRow>;
  }

  /** Exact totals of the request rows in [since, until) that match `f` (read through the client or user index). */
  totals(f: TotalsFilter, since: number, until: number): RequestTotals {
    window(since, until);
    const terms = ["kind = 'request'", 'ts >= ?', 'ts < ?'];
    const params: (string | number)[] = [since, until];
    const shape: string[] = [];
    if (f.clientIp !== undefined) {
      shape.push(f.clientIp === null ? 'ip0' : 'ip');
      if (f.clientIp === null) terms.push('client_ip IS NULL');
      else {
        terms.push('client_ip = ?');
        params.push(f.clientIp);
      }
    }
    if (f.user !== undefined) {
      shape.push('user');
      terms.push('user_name = ?');
      params.push(f.user);
    }
    if (f.route !== undefined) {
      shape.push(f.route === null ? 'route0' : 'route');
      if (f.route === null) terms.push('route IS NULL');
      else {
        terms.push('route = ?');
        params.push(f.route);
      }
    }
    if (f.terminations !== undefined) {
      shape.push(`t${f.terminations.length}`);
      terms.push(`termination IN (${f.terminations.map(() => '?').join(', ')})`);
      params.push(...f.terminations);
    }
    const where = terms.join(' AND ');
    const sums = this.#stmt(
      `totals:${shape.join(',')}`,
      `SELECT ${TOTALS_COLUMNS} FROM records WHERE ${where}`,
    );
    const row = sums.get(...params) as Omit<RequestTotals, 'lastSeq'>;
    if (row.count === 0) return { ...row, lastSeq: null };
    const newest = this.#stmt(
      `newest:${shape.join(',')}`,
      `SELECT seq FROM records WHERE ${where} ORDER BY ts DESC, seq DESC LIMIT 1`,
    ).pluck();
    return { ...row, lastSeq: newest.get(...params) as number };
  }

  /** The record text of each of these seqs that exists (a handful: samples, the newest of a group). */
  records(seqs: readonly number[]): Map<number, string> {
    const out = new Map<number, string>();
    if (seqs.length === 0) return out;
    const rows = this.#stmt(
      'bySeq',
      'SELECT seq, rec FROM records WHERE seq IN (SELECT value FROM json_each(?))',
      true,
    ).all(JSON.stringify(seqs)) as [number, string][];
    for (const [seq, rec] of rows) out.set(seq, rec);
    return out;
  }

  #stmt(key: string, sql: string, raw = false): Statement {
    let s = this.#statements.get(key);
    if (s === undefined) {
      s = this.#db.prepare(sql);
      if (raw) s.raw(true);
      this.#statements.set(key, s);
    }
    return s;
  }
}

function window(since: number, until: number): void {
  if (!Number.isFinite(since) || !Number.isFinite(until))
    throw usageError(`a report window needs two times in epoch ms, not ${since} and ${until}`);
}
