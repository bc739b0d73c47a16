import type Database from 'better-sqlite3';
import { TERMINATIONS } from '../core/index.js';

/** Requests that failed in a time range, grouped by route, backend and termination. */
export interface ErrorGroupRow {
  route: string | null;
  /** The backend that answered, else the last one tried; null when none was. */
  backend: string | null;
  termination: string;
  count: number;
  statuses: number[];
  /** Epoch ms of the first and last failure in the range. */
  first: number;
  last: number;
  /** The newest few, newest first. */
  samples: { requestId: string; status: number; ts: number; message: string | null }[];
}

/** The codes are fixed identifiers, written into the SQL so the planner can seek each one. */
const FAILED_CODES = TERMINATIONS.filter((t) => t !== 'ok')
  .map((t) => `'${t}'`)
  .join(', ');

/** The backend that answered, else the last one tried (a failed attempt leaves the record's backend null). */
const BACKEND = "coalesce(backend, json_extract(rec, '$.tollgate.attempts[#-1].backend'))";

/**
 * A failed request ended in any termination but `ok`, or passed a backend's 5xx through. The first
 * arm scans the time range in the covering (kind, ts, route, backend, termination, user_name)
 * index, checking the termination from the index alone; the second reads only 5xx rows from the
 * (status, ts) index.
 */
const FAILED = `
  failed AS (
    SELECT seq, ts, route, ${BACKEND} AS backend, termination, status, request_id FROM records INDEXED BY records_ts
     WHERE kind = 'request' AND termination IN (${FAILED_CODES})
       AND ts >= @since AND ts < @until
    UNION ALL
    SELECT seq, ts, route, ${BACKEND} AS backend, termination, status, request_id FROM records INDEXED BY records_status_ts
     WHERE kind = 'request' AND status >= 500 AND status <= 599 AND ts >= @since AND ts < @until
       AND termination = 'ok'
  )`;

const GROUPS = `WITH ${FAILED}
  SELECT route, backend, termination, count(*) AS count, min(ts) AS first, max(ts) AS last,
         json_group_array(DISTINCT status) AS statuses
    FROM failed GROUP BY route, backend, termination ORDER BY count DESC, last DESC`;

const SAMPLES = `WITH ${FAILED}
  SELECT s.route, s.backend, s.termination, s.request_id AS requestId, s.status, s.ts,
         json_extract(r.rec, '$.error.message') AS message
    FROM (SELECT failed.*, row_number() OVER (PARTITION BY route, backend, termination ORDER BY seq DESC) AS n
            FROM failed) s
    JOIN records r ON r.seq = s.seq
   WHERE s.n <= @samples
   ORDER BY s.seq DESC`;

const keyOf = (route: string | null, backend: string | null, termination: string) =>
  JSON.stringify([route, backend, termination]);

export class ErrorGroups {
  readonly #groups: Database.Statement<unknown[], unknown>;
  readonly #samples: Database.Statement<unknown[], unknown>;

  constructor(db: Database.Database) {
    this.#groups = db.prepare(GROUPS);
    this.#samples = db.prepare(SAMPLES);
  }

  /** The groups in [since, until), most failures first, at most `limit`, each with `samples` newest requests. */
  groups(
    since: number,
    until: number,
    limit: number,
    samples = 3,
  ): { total: number; groups: ErrorGroupRow[] } {
    const params = { since, until };
    const rows = this.#groups.all(params) as {
      route: string | null;
      backend: string | null;
      termination: string;
      count: number;
      first: number;
      last: number;
      statuses: string;
    }[];
    let total = 0;
    for (const r of rows) total += r.count;
    const groups = new Map<string, ErrorGroupRow>();
    for (const r of rows.slice(0, limit))
      groups.set(keyOf(r.route, r.backend, r.termination), {
        route: r.route,
        backend: r.backend,
        termination: r.termination,
        count: r.count,
        statuses: (JSON.parse(r.statuses) as number[]).sort((a, b) => a - b),
        first: r.first,
        last: r.last,
        samples: [],
      });
    if (groups.size > 0 && samples > 0) {
      const found = this.#samples.all({ ...params, samples }) as {
        route: string | null;
        backend: string | null;
        termination: string;
        requestId: string;
        status: number;
        ts: number;
        message: string | null;
      }[];
      for (const s of found)
        groups.get(keyOf(s.route, s.backend, s.termination))?.samples.push({
          requestId: s.requestId,
          status: s.status,
          ts: s.ts,
          message: s.message,
        });
    }
    return { total, groups: [...groups.values()] };
  }
}
