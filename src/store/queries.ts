import type Database from 'better-sqlite3';
import { cidrMatches, parseClientIp } from './client-ip.js';
import { positiveInt, usageError } from './errors.js';
import type { StreamEntry } from './newest.js';
import { newestSeqs } from './newest.js';
import {
  COUNT_BY_STATUS,
  eventWhere,
  IP_RUNS,
  IP_THROUGH,
  ipRunSql,
  ipTailSql,
  ROWS_BY_SEQS,
  requestWhere,
  STATUSES_BETWEEN,
  streamSql,
} from './query-sql.js';
import type { EventFilters, QueryFilters, StatusCount, StoredRow } from './types.js';

type Statement = Database.Statement<unknown[], unknown>;

interface IpRun {
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
  readonly #ipThrough: Statement;
  readonly #ipRuns: Statement;
  readonly #clientIpNewest: (filters: QueryFilters, address: string, limit: number) => number[];

  constructor(db: Database.Database) {
    this.#db = db;
    this.#lag = db.prepare('SELECT value FROM meta WHERE key = ?').pluck();
    this.#rowsBySeqs = db.prepare(ROWS_BY_SEQS);
    this.#statusesBetween = db.prepare(STATUSES_BETWEEN).pluck();
    this.#countByStatus = db.prepare(COUNT_BY_STATUS);
    this.#ipThrough = db.prepare(IP_THROUGH).pluck();
    this.#ipRuns = db.prepare(IP_RUNS);
    // one read transaction: the runs, the tail and the rows are read from the same snapshot
    this.#clientIpNewest = db.transaction((f: QueryFilters, address: string, limit: number) =>
      this.#byClientIp(f, address, limit),
    );
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
    if (ip?.type === 'exact' && statuses === null) {
      const seqs = this.#clientIpNewest(filters, ip.address, limit);
      return seqs.length === 0 ? [] : (this.#rowsBySeqs.all(JSON.stringify(seqs)) as StoredRow[]);
    }
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
   * One client IP, newest first by seq, without a status filter: the tail (records after the
   * last client-IP run) from the table, then each run that can hold a match, newest run first.
   * Runs cover ascending, disjoint seq ranges below the tail, so the first `limit` matches in
   * that order are the answer; reading stops there.
   */
  #byClientIp(filters: QueryFilters, address: string, limit: number): number[] {
    const where = requestWhere({ ...filters, clientIp: undefined }, null);
    const tail = this.#plucked(`ipt:${where.shape}`, () => ipTailSql(where));
    const run = this.#plucked(`ipr:${where.shape}`, () => ipRunSql(where));
    const since = filters.since ?? Number.NEGATIVE_INFINITY;
    const until = filters.until ?? Number.POSITIVE_INFINITY;
    const before = filters.beforeSeq ?? Number.POSITIVE_INFINITY;
    const through = (this.#ipThrough.get() as number | undefined) ?? 0;
    const seqs = tail.all(through, address, ...where.params, limit) as number[];
    for (const r of this.#ipRuns.all() as IpRun[]) {
      if (seqs.length >= limit) break;
      if (r.maxTs < since || r.minTs >= until || r.firstSeq >= before) continue;
      for (const seq of run.all(r.run, address, ...where.params, limit - seqs.length) as number[])
        seqs.push(seq);
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
