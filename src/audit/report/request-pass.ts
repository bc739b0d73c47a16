import type { ReportRequestRow, Store } from '../../store/index.js';
import { DurationHistogram } from './histogram.js';
import { type Counter, SpaceSaving } from './top-k.js';
import type { StatusClasses } from './types.js';

/**
 * The one pass over a window's request rows: every figure of traffic, routes, error groups,
 * clients, auth failures and backends is added up here, row by row, in memory bounded by the
 * number of groups (routes, backends, error groups: at most MAX_GROUPS each, then "(other)")
 * and the sketches' fixed capacity — never by the number of rows.
 */
export const MAX_GROUPS = 10_000;
/** Counters per Space-Saving sketch (clients, users, auth failure pairs). */
export const SKETCH_CAPACITY = 4096;
export const OTHER = '(other)';
export const AUTH_TERMINATIONS = ['auth_failed', 'forbidden', 'rate_limited'] as const;
export type AuthTermination = (typeof AUTH_TERMINATIONS)[number];

export interface RouteAgg {
  requests: number;
  serverErrors: number;
  bytesIn: number;
  bytesOut: number;
  durations: DurationHistogram;
}

export interface BackendAgg {
  durations: DurationHistogram;
}

/** One sample: [ts, seq, request id]. */
export type Sample = [number, number, string | null];

export interface ErrorAgg {
  route: string | null;
  backend: string | null;
  termination: string;
  count: number;
  statuses: Map<number, number>;
  firstTs: number;
  lastTs: number;
  /** Up to 3, the newest (any order until the pass ends). */
  samples: Sample[];
}

export interface ClientStats {
  clientErrors: number;
  serverErrors: number;
  bytesIn: number;
  bytesOut: number;
  firstTs: number;
  lastTs: number;
  lastSeq: number;
}

export interface AuthStats {
  byTermination: Record<AuthTermination, number>;
  firstTs: number;
  lastTs: number;
}

const clientStats = (): ClientStats => ({
  clientErrors: 0,
  serverErrors: 0,
  bytesIn: 0,
  bytesOut: 0,
  firstTs: Number.POSITIVE_INFINITY,
  lastTs: Number.NEGATIVE_INFINITY,
  lastSeq: 0,
});

const authStats = (): AuthStats => ({
  byTermination: { auth_failed: 0, forbidden: 0, rate_limited: 0 },
  firstTs: Number.POSITIVE_INFINITY,
  lastTs: Number.NEGATIVE_INFINITY,
});

interface Attempt {
  backend?: unknown;
  duration_ms?: unknown;
}

export class RequestPass {
  requests = 0;
  readonly classes: StatusClasses = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 };
  readonly terminations = new Map<string, number>();
  bytesIn = 0;
  bytesOut = 0;
  readonly durations = new DurationHistogram();
  readonly routes = new Map<string | null, RouteAgg>();
  /** pool → backend → attempt durations. */
  readonly backends = new Map<string | null, Map<string, BackendAgg>>();
  #backendGroups = 0;
  readonly errors = new Map<string, ErrorAgg>();
  readonly clients = new SpaceSaving<ClientStats>(SKETCH_CAPACITY, clientStats);
  readonly users = new SpaceSaving<ClientStats>(SKETCH_CAPACITY, clientStats);
  /** Keyed by JSON [route, client address]. */
  readonly auth = new SpaceSaving<AuthStats>(SKETCH_CAPACITY, authStats);
  authTotal = 0;

  run(store: Store, since: number, until: number): this {
    for (const row of store.report.requestRows(since, until)) this.#add(row);
    return this;
  }

  #add(row: ReportRequestRow): void {
    const [seq, ts, status, route, backend, termination, clientIp, user, requestId] = row;
    const durationMs = row[9] === null ? null : row[9] / 1e6;
    const bytesIn = row[10] ?? 0;
    const bytesOut = row[11] ?? 0;
    const code = status ?? 0;
    const term = termination ?? 'unknown';
    this.requests++;
    const cls = Math.floor(code / 100);
    if (cls === 1) this.classes['1xx']++;
    else if (cls === 2) this.classes['2xx']++;
    else if (cls === 3) this.classes['3xx']++;
    else if (cls === 4) this.classes['4xx']++;
    else if (cls === 5) this.classes['5xx']++;
    else this.classes.other++;
    this.terminations.set(term, (this.terminations.get(term) ?? 0) + 1);
    this.bytesIn += bytesIn;
    this.bytesOut += bytesOut;
    if (durationMs !== null) this.durations.add(durationMs);

    const r = this.#route(route);
    r.requests++;
    if (code >= 500) r.serverErrors++;
    r.bytesIn += bytesIn;
    r.bytesOut += bytesOut;
    if (durationMs !== null) r.durations.add(durationMs);

    const pool = row[12];
    if (row[14] !== null) this.#attempts(pool, row[14]);
    else if (row[13] !== null && backend !== null) this.#backend(pool, backend).durations.add(row[13]);

    if (term !== 'ok' || code >= 500) this.#error(route, backend, term, code, ts, seq, requestId);

    addClient(this.clients.add(clientIp ?? '-'), code, bytesIn, bytesOut, ts, seq);
    if (user !== null) addClient(this.users.add(user), code, bytesIn, bytesOut, ts, seq);
    if (term === 'auth_failed' || term === 'forbidden' || term === 'rate_limited') {
      this.authTotal++;
      const s = this.auth.add(JSON.stringify([route, clientIp])).stats;
      s.byTermination[term]++;
      if (ts < s.firstTs) s.firstTs = ts;
      if (ts > s.lastTs) s.lastTs = ts;
    }
  }

  #route(name: string | null): RouteAgg {
    let r = this.routes.get(name);
    if (r === undefined) {
      if (this.routes.size >= MAX_GROUPS && name !== OTHER) return this.#route(OTHER);
      r = { requests: 0, serverErrors: 0, bytesIn: 0, bytesOut: 0, durations: new DurationHistogram() };
      this.routes.set(name, r);
    }
    return r;
  }

  #backend(pool: string | null, name: string): BackendAgg {
    let inPool = this.backends.get(pool);
    if (inPool === undefined) {
      inPool = new Map();
      this.backends.set(pool, inPool);
    }
    let b = inPool.get(name);
    if (b === undefined) {
      if (this.#backendGroups >= MAX_GROUPS && name !== OTHER) return this.#backend(pool, OTHER);
      b = { durations: new DurationHistogram() };
      inPool.set(name, b);
      this.#backendGroups++;
    }
    return b;
  }

  #attempts(pool: string | null, json: string): void {
    let list: unknown;
    try {
      list = JSON.parse(json);
    } catch {
      return;
    }
    if (!Array.isArray(list)) return;
    for (const a of list as Attempt[]) {
      if (typeof a?.backend !== 'string') continue;
      const b = this.#backend(pool, a.backend);
      if (typeof a.duration_ms === 'number') b.durations.add(a.duration_ms);
    }
  }

  #error(
    route: string | null,
    backend: string | null,
    termination: string,
    status: number,
    ts: number,
    seq: number,
    requestId: string | null,
  ): void {
    let key = JSON.stringify([route, backend, termination]);
    let g = this.errors.get(key);
    if (g === undefined) {
      const full = this.errors.size >= MAX_GROUPS;
      if (full) {
        key = JSON.stringify([OTHER, OTHER, OTHER]);
        g = this.errors.get(key);
      }
      if (g === undefined) {
        g = {
          route: full ? OTHER : route,
          backend: full ? OTHER : backend,
          termination: full ? OTHER : termination,
          count: 0,
          statuses: new Map(),
          firstTs: ts,
          lastTs: ts,
          samples: [],
        };
        this.errors.set(key, g);
      }
    }
    g.count++;
    g.statuses.set(status, (g.statuses.get(status) ?? 0) + 1);
    if (ts < g.firstTs) g.firstTs = ts;
    if (ts > g.lastTs) g.lastTs = ts;
    const s = g.samples;
    if (s.length < 3) s.push([ts, seq, requestId]);
    else {
      let oldest = 0;
      for (let i = 1; i < 3; i++) if (older(s[i]!, s[oldest]!)) oldest = i;
      if (older(s[oldest]!, [ts, seq, requestId])) s[oldest] = [ts, seq, requestId];
    }
  }
}

/** a came before b (by ts, then seq). */
export function older(a: Sample, b: Sample): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

function addClient(
  c: Counter<ClientStats>,
  status: number,
  bytesIn: number,
  bytesOut: number,
  ts: number,
  seq: number,
): void {
  const s = c.stats;
  if (status >= 400 && status < 500) s.clientErrors++;
  else if (status >= 500) s.serverErrors++;
  s.bytesIn += bytesIn;
  s.bytesOut += bytesOut;
  if (ts < s.firstTs) s.firstTs = ts;
  if (ts > s.lastTs || (ts === s.lastTs && seq > s.lastSeq)) {
    s.lastTs = ts;
    s.lastSeq = seq;
  }
}
