import type { ClientIpMatch } from './client-ip.js';
import { usageError } from './errors.js';
import type { EventFilters, QueryFilters } from './types.js';

/**
 * SQL for `query`, `events` and `countByStatus`. A WHERE clause's text depends only on which
 * filters are set (its `shape`), so the store prepares each shape once and reuses it.
 * `kind = '…'` is written as a literal: the filter indexes are partial on `kind = 'request'` and
 * SQLite uses them only when it can see that term. Matches are streamed `ORDER BY ts DESC`, the
 * order of every index (each ends in `ts`), so SQLite never sorts them (see newest.ts, which
 * needs time order only, not the seq order of equal times).
 */
export const ROW_COLUMNS =
  'seq, kind, ts, rec, hash, request_id AS requestId, client_ip AS clientIp, status, route, backend, ' +
  'termination, user_name AS userName, action';

export interface Where {
  readonly shape: string;
  readonly sql: string;
  readonly params: (string | number)[];
}

function invalid(name: string, value: unknown, want: string): Error {
  return usageError(`the ${name} filter must be ${want}, not ${JSON.stringify(value)}`);
}

class Builder {
  readonly #names: string[] = [];
  readonly #terms: string[] = [];
  readonly params: (string | number)[] = [];

  constructor(kind: 'request' | 'admin') {
    this.#terms.push(`kind = '${kind}'`);
  }

  number(name: string, value: number | undefined, term: string, want = 'a time in epoch ms'): void {
    if (value === undefined) return;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(name, value, want);
    this.add(name, term, value);
  }

  text(name: string, value: string | undefined, column: string): void {
    if (value === undefined) return;
    if (typeof value !== 'string') throw invalid(name, value, 'a string');
    this.add(name, `${column} = ?`, value);
  }

  /** A filter that changes the statement but adds no term (a CIDR checked only in JS). */
  mark(name: string): void {
    this.#names.push(name);
  }

  add(name: string, term: string, ...values: (string | number)[]): void {
    this.#names.push(name);
    this.#terms.push(term);
    this.params.push(...values);
  }

  build(): Where {
    return { shape: this.#names.join(','), sql: this.#terms.join(' AND '), params: this.params };
  }
}

/**
 * Request rows matching every filter but `status` (the caller adds one `status = ?` per wanted
 * status) and a CIDR (checked in JS; this narrows to its text range at most).
 */
export function requestWhere(filters: QueryFilters, ip: ClientIpMatch | null): Where {
  const b = new Builder('request');
  b.number('since', filters.since, 'ts >= ?');
  b.number('until', filters.until, 'ts < ?');
  if (ip?.type === 'exact') b.add('ip', 'client_ip = ?', ip.address);
  else if (ip?.type === 'cidr') {
    if (ip.textRange === null) b.mark('cidr');
    else b.add('cidr..', 'client_ip >= ? AND client_ip < ?', ...ip.textRange);
  }
  b.text('user', filters.user, 'user_name');
  b.text('route', filters.route, 'route');
  b.text('backend', filters.backend, 'backend');
  b.text('termination', filters.termination, 'termination');
  b.text('requestId', filters.requestId, 'request_id');
  b.number('beforeSeq', filters.beforeSeq, 'seq < ?', 'a sequence number');
  return b.build();
}

export function eventWhere(filters: EventFilters): Where {
  const b = new Builder('admin');
  b.number('since', filters.since, 'ts >= ?');
  b.number('until', filters.until, 'ts < ?');
  b.text('action', filters.action, 'action');
  if (filters.actions !== undefined) {
    const list = filters.actions;
    if (!Array.isArray(list) || list.length === 0 || list.some((a) => typeof a !== 'string'))
      throw invalid('actions', list, 'a non-empty list of strings');
    b.add(`actions${list.length}`, `action IN (${list.map(() => '?').join(', ')})`, ...list);
  }
  b.text('user', filters.user, 'user_name');
  if (filters.withoutReads === true)
    b.add(
      'withoutReads',
      "NOT (action = 'admin_request' AND json_extract(rec, '$.event.outcome') = 'success' " +
        "AND json_extract(rec, '$.http.request.method') IN ('GET', 'HEAD'))",
    );
  b.number('beforeSeq', filters.beforeSeq, 'seq < ?', 'a sequence number');
  return b.build();
}

/**
 * Matches as [seq, ts] (plus client_ip for a CIDR), newest first by ts. With `statuses` > 0 it
 * is one arm per status, each `status = ?` on the (status, ts) index, and SQLite merges the
 * arms' ordered streams (MERGE UNION ALL) instead of sorting a whole status class.
 */
export function streamSql(where: Where, withClientIp: boolean, statuses: number): string {
  const head = `SELECT seq, ts${withClientIp ? ', client_ip' : ''} FROM records WHERE ${where.sql}`;
  const arms = statuses === 0 ? [head] : Array.from({ length: statuses }, () => `${head} AND status = ?`);
  return `${arms.join(' UNION ALL ')} ORDER BY ts DESC`;
}

/** Rows by a JSON array of seqs, newest first. */
export const ROWS_BY_SEQS = `SELECT ${ROW_COLUMNS} FROM records WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq DESC`;

/** The statuses present in [@min, @max]: a few seeks on the (status, ts) index (a skip scan). */
export const STATUSES_BETWEEN = `
  WITH RECURSIVE codes(status) AS (
    SELECT min(status) FROM records INDEXED BY records_status_ts WHERE kind = 'request' AND status >= @min
    UNION ALL
    SELECT (SELECT min(status) FROM records INDEXED BY records_status_ts
            WHERE kind = 'request' AND status > codes.status)
    FROM codes WHERE codes.status < @max
  )
  SELECT status FROM codes WHERE status IS NOT NULL AND status <= @max`;

/**
 * Requests per status in [@since, @until): walks the distinct statuses on the (status, ts) index
 * (a few dozen seeks) and counts each one's time range from the same index, so the cost is the
 * range's entries in one index, never a scan of the table.
 */
export const COUNT_BY_STATUS = `
  WITH RECURSIVE codes(status) AS (
    SELECT min(status) FROM records INDEXED BY records_status_ts WHERE kind = 'request' AND status IS NOT NULL
    UNION ALL
    SELECT (SELECT min(status) FROM records INDEXED BY records_status_ts
            WHERE kind = 'request' AND status > codes.status)
    FROM codes WHERE codes.status IS NOT NULL
  )
  SELECT status, count FROM (
    SELECT codes.status AS status,
      (SELECT count(*) FROM records INDEXED BY records_status_ts
        WHERE kind = 'request' AND status = codes.status AND ts >= @since AND ts < @until) AS count
    FROM codes WHERE codes.status IS NOT NULL
  ) WHERE count > 0 ORDER BY status`;

/** The newest ts stored (of any kind), from the records_ts index (kind, ts, …). */
export const MAX_TS = `
  SELECT max(ts) FROM (
    SELECT max(ts) AS ts FROM records WHERE kind = 'request'
    UNION ALL SELECT max(ts) FROM records WHERE kind = 'admin'
  )`;

/** The last seq in a run (none before the first run): records after it are the tail. */
export const RUNS_THROUGH = 'SELECT last_seq FROM runs ORDER BY run DESC LIMIT 1';

/** The runs, newest first. */
export const RUNS =
  'SELECT run, first_seq AS firstSeq, last_seq AS lastSeq, min_ts AS minTs, max_ts AS maxTs FROM runs ORDER BY run DESC';

/** `where` narrowed to a status range (checked on the row; `query` validated the range). */
export function withStatus(where: Where, status: { min: number; max: number } | undefined): Where {
  if (status === undefined) return where;
  return {
    shape: `${where.shape},status..`,
    sql: `${where.sql} AND status >= ? AND status <= ?`,
    params: [...where.params, status.min, status.max],
  };
}

/** A run key: `i` + client IP, `u` + user name (the tag keeps the two apart). */
export function runKey(type: 'ip' | 'user', value: string): string {
  return (type === 'ip' ? 'i' : 'u') + value;
}

/**
 * Seqs of request rows matching `where`, newest first, in the tail after the last run (a rowid
 * range of the table; `where` includes the key's own column term).
 */
export function tailSql(where: Where): string {
  return `SELECT seq FROM records NOT INDEXED WHERE seq > ? AND ${where.sql} ORDER BY seq DESC LIMIT ?`;
}

/** The same in one run: its entries for one key, newest first, each row looked up by seq. */
export function runSql(where: Where): string {
  // CROSS JOIN keeps run_keys the outer loop (SQLite does not reorder it)
  return `SELECT seq FROM run_keys CROSS JOIN records ON seq = rseq WHERE run = ? AND key = ? AND ${where.sql} ORDER BY rseq DESC LIMIT ?`;
}
