import type Database from 'better-sqlite3';
import type { ClientIpMatch } from './client-ip.js';
import { cidrMatches, parseClientIp } from './client-ip.js';
import { positiveInt, usageError } from './errors.js';
import type { StreamEntry } from './newest.js';
import { newestSeqs } from './newest.js';
import {
  COUNT_BY_STATUS,
  eventWhere,
  ROWS_BY_SEQS,
  RUNS,
  RUNS_THROUGH,
  requestWhere,
  runKey,
  runSql,
  STATUSES_BETWEEN,
  streamSql,
  tailSql,
  withStatus,
} from './query-sql.js';
import type { EventFilters, QueryFilters, StatusCount, StoredRow } from './types.js';

type Statement = Database.Statement<unknown[], unknown>;

interface Run {
  run: number;
  firstSeq: number;
  lastSeq: number;
  minTs: number;
  maxTs: number;
}

/** Meta key of the largest ts lag ever inserted (see newest.ts); kept by `Store.insertBatch`. */
export const LAG_KEY = 'store.ts_lag_ms';

/**
 * The read side of `query`, `events` and `countByStatus` on one connection. Each combination of
 * filters gets its statement prepared the first time it is used, then reused.
 */
export class RecordQueries {
  readonly #db: Database.Database;
  readonly #shapes = new Map<string, Statement>();
  readonly #lag: Statement;
  readonly #rowsBySeqs: Statement;
  readonly #statusesBetween: Statement;
  readonly #countByStatus: Statement;
  readonly #runsThrough: Statement;
  readonly #runs: Statement;
  readonly #newestByKey: (filters: QueryFilters, ip: ClientIpMatch | null, limit: number) => StoredRow[];

  constructor(db: Database.Database) {
    this.#db = db;
    this.#lag = db.prepare('SELECT value FROM meta WHERE key = ?').pluck();
    this.#rowsBySeqs = db.prepare(ROWS_BY_SEQS);
    this.#statusesBetween = db.prepare(STATUSES_BETWEEN).pluck();
    this.#countByStatus = db.prepare(COUNT_BY_STATUS);
    this.#runsThrough = db.prepare(RUNS_THROUGH).pluck();
    this.#runs = db.prepare(RUNS);
    // one read transaction: the runs, the tail and the rows are read from the same snapshot
    this.#newestByKey = db.transaction((f: QueryFilters, ip: ClientIpMatch | null, limit: number) => {
      const seqs = this.#byKey(f, ip, limit);
      return seqs.length === 0 ? [] : (this.#rowsBySeqs.all(JSON.stringify(seqs)) as StoredRow[]);
    });
  }

  /** The largest ts lag ever inserted, in ms (0 while records always came in ts order). */
  lag(): number {
    const value = this.#lag.get(LAG_KEY) as string | null | undefined;
    return value == null ? 0 : Number(value);
  }

  query(filters: QueryFilters, limit: number): StoredRow[] {
    positiveInt('limit', limit);
    const ip = filters.clientIp === undefined ? null : parseClientIp(filters.clientIp);
    const where = requestWhere(filters, ip);
    const statuses = this.#statuses(filters.status);
    if (statuses !== null && statuses.length === 0) return [];
    // one client IP (the status, if any, checked on its rows: an address is rarer than a status),
    // or one user without a status: the key runs; else the indexes, in time order
    if (ip?.type === 'exact' || (ip === null && statuses === null && filters.user !== undefined))
      return this.#newestByKey(filters, ip, limit);
    const arms = statuses?.length ?? 0;
    const cidr = ip?.type === 'cidr' ? ip : null;
    const stream = this.#shape(`q:${where.shape}:${arms}`, () => streamSql(where, cidr !== null, arms));
    const params = statuses === null ? where.params : statuses.flatMap((s) => [...where.params, s]);
    const accept = cidr === null ? null : (e: StreamEntry) => e[2] != null && cidrMatches(cidr.list, e[2]);
    return this.#newest(stream, params, limit, accept);
  }

  events(filters: EventFilters, limit: number): StoredRow[] {
    positiveInt('limit', limit);
    const where = eventWhere(filters);
    const stream = this.#shape(`e:${where.shape}`, () => streamSql(where, false, 0));
    return this.#newest(stream, where.params, limit, null);
  }

  countByStatus(since: number, until: number): StatusCount[] {
    if (!Number.isFinite(since) || !Number.isFinite(until)) {
      throw usageError(`countByStatus needs two times in epoch ms, not ${since} and ${until}`);
    }
    return this.#countByStatus.all({ since, until }) as StatusCount[];
  }

  /**
   * One client IP (else one user), newest first by seq: the tail (records after the last run)
   * from the table, then each run that can hold a match, newest run first. Runs cover ascending,
   * disjoint seq ranges below the tail, so the first `limit` matches in that order are the
   * answer; reading stops there.
   */
  #byKey(filters: QueryFilters, ip: ClientIpMatch | null, limit: number): number[] {
    const key = ip?.type === 'exact' ? runKey('ip', ip.address) : runKey('user', filters.user as string);
    const all = withStatus(requestWhere(filters, ip), filters.status);
    // the run's key stands for its own filter; every other filter is checked on the row
    const rest = withStatus(
      ip?.type === 'exact'
        ? requestWhere({ ...filters, clientIp: undefined }, null)
        : requestWhere({ ...filters, user: undefined }, null),
      filters.status,
    );
    const tail = this.#plucked(`kt:${all.shape}`, () => tailSql(all));
    const run = this.#plucked(`kr:${rest.shape}`, () => runSql(rest));
    const since = filters.since ?? Number.NEGATIVE_INFINITY;
    const until = filters.until ?? Number.POSITIVE_INFINITY;
    const before = filters.beforeSeq ?? Number.POSITIVE_INFINITY;
    const through = (this.#runsThrough.get() as number | undefined) ?? 0;
    const seqs = tail.all(through, ...all.params, limit) as number[];
    for (const r of this.#runs.all() as Run[]) {
      if (seqs.length >= limit) break;
      if (r.maxTs < since || r.minTs >= until || r.firstSeq >= before) continue;
      for (const seq of run.all(r.run, key, ...rest.params, limit - seqs.length) as number[]) seqs.push(seq);
    }
    return seqs;
  }

  #plucked(key: string, sql: () => string): Statement {
    let stmt = this.#shapes.get(key);
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql()).pluck();
      this.#shapes.set(key, stmt);
    }
    return stmt;
  }

  #shape(key: string, sql: () => string): Statement {
    let stmt = this.#shapes.get(key);
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql()).raw(true);
      this.#shapes.set(key, stmt);
    }
    return stmt;
  }

  /** null: no status filter; else the statuses to look up (an exact one, or those present in a class). */
  #statuses(range: QueryFilters['status']): number[] | null {
    if (range === undefined) return null;
    const { min, max } = range;
    if (!Number.isInteger(min) || !Number.isInteger(max) || min > max) {
      throw usageError(
        `the status filter must be a status or a range like {min: 500, max: 599}, not ${JSON.stringify(range)}`,
      );
    }
    if (min === max) return [min];
    return this.#statusesBetween.all({ min, max }) as number[];
  }

  #newest(
    stream: Statement,
    params: unknown[],
    limit: number,
    accept: ((e: StreamEntry) => boolean) | null,
  ): StoredRow[] {
    const entries = stream.iterate(...params) as Iterable<StreamEntry>;
    const seqs = newestSeqs(entries, limit, this.lag(), accept);
    if (seqs.length === 0) return [];
    return this.#rowsBySeqs.all(JSON.stringify(seqs)) as StoredRow[];
  }
}
