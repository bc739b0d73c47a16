import postgres from 'postgres';
import type { QueryFilters, StoredRow } from '../store/index.js';
import { chainHash, embeddedSeq, GENESIS, withHash, withoutHash } from './chain.js';

/** One record as the central store holds it: which instance wrote it, its place in that instance's chain. */
export interface CentralRow {
  instance: string;
  seq: number;
  kind: string;
  /** The chained record with its hash, exactly as the instance's store and `query --format json` give it. */
  record: string;
}

/** One instance's chain as the central store holds it (`tollgate verify --store`). */
export interface CentralChain {
  instance: string;
  ok: boolean;
  records: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** The first record is not seq 1 (the sink started later, or the instance name changed): it is trusted as the anchor. */
  anchored: boolean;
  problem: string | null;
  firstBadSeq: number | null;
}

const DAY_MS = 86_400_000;

function day(ms: number): string {
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}

/**
 * The fleet's central audit store in PostgreSQL (issue 6): one table partitioned by day on the
 * record time, a partition created the first time a day is seen; the key (ts, instance, seq)
 * makes a replay after an at-least-once retry insert nothing twice; indexes match the `query`
 * filters. `rec` keeps the record's exact canonical text (jsonb would reorder its keys and break
 * the chain); `rec::jsonb` in SQL reads it as JSON.
 */
export class CentralStore {
  readonly #sql: postgres.Sql;
  readonly #table: string;
  readonly #days = new Set<string>();
  #schema: Promise<void> | null = null;

  constructor(url: string, table: string) {
    this.#table = table;
    this.#sql = postgres(url, { max: 2, onnotice: () => {}, connect_timeout: 5, idle_timeout: 30 });
  }

  ensureSchema(): Promise<void> {
    this.#schema ??= this.#createSchema().catch((err) => {
      this.#schema = null;
      throw err;
    });
    return this.#schema;
  }

  async #createSchema(): Promise<void> {
    const t = this.#table;
    await this.#sql.unsafe(`
      CREATE TABLE IF NOT EXISTS ${t} (
        instance text NOT NULL,
        seq bigint NOT NULL,
        kind text NOT NULL,
        ts timestamptz NOT NULL,
        request_id text,
        client_ip inet,
        status integer,
        route text,
        backend text,
        termination text,
        user_name text,
        action text,
        hash text NOT NULL,
        rec text NOT NULL,
        PRIMARY KEY (ts, instance, seq)
      ) PARTITION BY RANGE (ts);
      CREATE INDEX IF NOT EXISTS ${t}_client_ip_ts ON ${t} (client_ip, ts);
      CREATE INDEX IF NOT EXISTS ${t}_status_ts ON ${t} (status, ts);
      CREATE INDEX IF NOT EXISTS ${t}_route_ts ON ${t} (route, ts);
      CREATE INDEX IF NOT EXISTS ${t}_backend_ts ON ${t} (backend, ts);
      CREATE INDEX IF NOT EXISTS ${t}_termination_ts ON ${t} (termination, ts);
      CREATE INDEX IF NOT EXISTS ${t}_user_name_ts ON ${t} (user_name, ts);
      CREATE INDEX IF NOT EXISTS ${t}_request_id ON ${t} (request_id);
      CREATE INDEX IF NOT EXISTS ${t}_instance_seq ON ${t} (instance, seq);
    `);
  }

  async #partition(d: string): Promise<void> {
    if (this.#days.has(d)) return;
    const next = day(Date.parse(`${d}T00:00:00Z`) + DAY_MS);
    const name = `${this.#table}_${d.replaceAll('-', '')}`;
    try {
      await this.#sql.unsafe(
        `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF ${this.#table} FOR VALUES FROM ('${d}') TO ('${next}')`,
      );
    } catch (err) {
      // another instance created it between our check and our create
      if ((err as { code?: string }).code !== '42P07') throw err;
    }
    this.#days.add(d);
  }

  /** Inserts an instance's rows; rows already there (a replay) are left as they are. */
  async insert(instance: string, rows: readonly StoredRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.ensureSchema();
    for (const d of new Set(rows.map((r) => day(r.ts)))) await this.#partition(d);
    // one JSON document per batch: a native stringify here and a native parse there, instead of
    // fourteen array literals of escaped strings
    const doc = JSON.stringify(
      rows.map((r) => [
        r.seq,
        r.kind,
        new Date(r.ts).toISOString(),
        r.requestId,
        r.clientIp,
        r.status,
        r.route,
        r.backend,
        r.termination,
        r.userName,
        r.action,
        r.hash,
        withHash(r.rec, r.hash),
      ]),
    );
    await this.#sql.unsafe(
      `INSERT INTO ${this.#table} (instance, seq, kind, ts, request_id, client_ip, status, route, backend, termination, user_name, action, hash, rec)
       SELECT $1, (e->>0)::bigint, e->>1, (e->>2)::timestamptz, e->>3, (e->>4)::inet, (e->>5)::int, e->>6, e->>7, e->>8,
         e->>9, e->>10, e->>11, e->>12
       FROM json_array_elements($2::text::json) AS e
       ON CONFLICT DO NOTHING`,
      [instance, doc],
    );
  }

  /** The `query` filters across every instance's request records, newest first. */
  async query(f: QueryFilters, limit: number): Promise<CentralRow[]> {
    await this.ensureSchema();
    const where: string[] = ["kind = 'request'"];
    const params: unknown[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    if (f.since !== undefined) where.push(`ts >= ${p(new Date(f.since).toISOString())}::timestamptz`);
    if (f.until !== undefined) where.push(`ts < ${p(new Date(f.until).toISOString())}::timestamptz`);
    if (f.status !== undefined)
      where.push(`status BETWEEN ${p(f.status.min)}::int AND ${p(f.status.max)}::int`);
    if (f.clientIp !== undefined) where.push(`client_ip <<= ${p(f.clientIp)}::inet`);
    if (f.user !== undefined) where.push(`user_name = ${p(f.user)}`);
    if (f.route !== undefined) where.push(`route = ${p(f.route)}`);
    if (f.backend !== undefined) where.push(`backend = ${p(f.backend)}`);
    if (f.termination !== undefined) where.push(`termination = ${p(f.termination)}`);
    if (f.requestId !== undefined) where.push(`request_id = ${p(f.requestId)}`);
    const rows = await this.#sql.unsafe(
      `SELECT instance, seq, kind, rec FROM ${this.#table} WHERE ${where.join(' AND ')}
       ORDER BY ts DESC, instance, seq DESC LIMIT ${p(limit)}::int`,
      params as never[],
    );
    return rows.map((r) => ({
      instance: r.instance as string,
      seq: Number(r.seq),
      kind: r.kind as string,
      record: r.rec as string,
    }));
  }

  /** The instances with records here, by name. */
  async instances(): Promise<string[]> {
    await this.ensureSchema();
    const rows = await this.#sql.unsafe(`SELECT DISTINCT instance FROM ${this.#table} ORDER BY instance`);
    return rows.map((r) => r.instance as string);
  }

  /**
   * Recomputes one instance's chain from the records here, in seq order: every seq present once
   * (`seq N missing`), each record at its own seq (`out of order`), each hash the SHA-256 of the
   * previous hash and the record (`altered`). Signed checkpoints stay in the instance's data dir.
   */
  async verifyChain(instance: string): Promise<CentralChain> {
    await this.ensureSchema();
    const r: CentralChain = {
      instance,
      ok: false,
      records: 0,
      firstSeq: null,
      lastSeq: null,
      anchored: false,
      problem: null,
      firstBadSeq: null,
    };
    const bad = (seq: number, problem: string): CentralChain => {
      r.problem = problem;
      r.firstBadSeq = seq;
      return r;
    };
    let prev: string | null = null;
    let expected = 0;
    for (let after = 0; ; ) {
      const rows = await this.#sql.unsafe(
        `SELECT seq, hash, rec FROM ${this.#table} WHERE instance = $1 AND seq > $2 ORDER BY seq LIMIT 10000`,
        [instance, after],
      );
      if (rows.length === 0) break;
      for (const row of rows) {
        const seq = Number(row.seq);
        if (prev === null) {
          expected = seq;
          r.anchored = seq !== 1;
        }
        if (seq !== expected) return bad(expected, `seq ${expected} missing`);
        const parsed = withoutHash(row.rec as string);
        if (parsed === null || parsed.hash !== row.hash) return bad(seq, `seq ${seq} altered`);
        if (embeddedSeq(parsed.canonical) !== seq)
          return bad(seq, `seq ${seq} out of order (the record says seq ${embeddedSeq(parsed.canonical)})`);
        const h: string =
          prev === null && r.anchored ? parsed.hash : chainHash(prev ?? GENESIS, parsed.canonical);
        if (h !== parsed.hash) return bad(seq, `seq ${seq} altered`);
        r.firstSeq ??= seq;
        r.lastSeq = seq;
        r.records++;
        prev = h;
        expected = seq + 1;
      }
      after = expected - 1;
    }
    r.ok = true;
    return r;
  }

  async close(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
  }
}
