import { withHash } from '../audit/index.js';
import type { PoolPlan } from '../config/index.js';
import { ErrorCode, isoMicros, isTollgateError, parseDuration } from '../core/index.js';
import type { EventFilters, FilterText, QueryFilters, StoredRow } from '../store/index.js';
import { FILTER_KEYS, paramName, parseFilters, parseTime, rowMatcher } from '../store/index.js';
import type { AdminContext } from './host.js';
import type { Reply } from './http.js';
import { ApiError, ok } from './http.js';
import type { Call } from './routes.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/** Query-string value, or undefined when absent; a repeated parameter is refused. */
export function param(call: Call, name: string): string | undefined {
  const all = call.url.searchParams.getAll(name);
  if (all.length > 1)
    throw new ApiError(400, 'bad_request', `query parameter ${name} is given more than once`);
  return all[0];
}

function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isTollgateError(err)) throw new ApiError(400, 'bad_request', err.message);
    throw err;
  }
}

function limitOf(call: Call): number {
  const text = param(call, 'limit');
  if (text === undefined) return DEFAULT_LIMIT;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT)
    throw new ApiError(400, 'bad_request', `limit: "${text}" is not a whole number from 1 to ${MAX_LIMIT}`);
  return n;
}

function cursorOf(call: Call): number | undefined {
  const text = param(call, 'cursor');
  if (text === undefined) return undefined;
  if (!/^\d{1,15}$/.test(text))
    throw new ApiError(400, 'bad_request', `cursor: "${text}" is not a cursor this API gave out`);
  return Number(text);
}

/** `{"items": [...], "next": CURSOR|null}` (SPEC §6), newest first: the next page starts below the last seq. */
function page(rows: StoredRow[], limit: number): Reply {
  const items = rows.map((r) => JSON.parse(withHash(r.rec, r.hash)) as unknown);
  const next = rows.length === limit ? String(rows[rows.length - 1]!.seq) : null;
  return ok({ items, next });
}

/** The query filters of SPEC §1, spelled as query parameters: since, until, status, client_ip, … */
export function filtersOf(call: Call, now: number): QueryFilters {
  const t: FilterText = {};
  for (const key of FILTER_KEYS) {
    const v = param(call, paramName(key));
    if (v !== undefined) t[key] = v;
  }
  return usage(() => parseFilters(t, now, paramName));
}

export function streamMatcher(call: Call, now: number): (row: StoredRow) => boolean {
  const f = filtersOf(call, now);
  const requests = rowMatcher(f);
  if (param(call, 'events') !== 'true') return requests;
  return (r) => r.kind === 'admin' || requests(r);
}

export function status(_call: Call, ctx: AdminContext): Reply {
  const h = ctx.host;
  const plan = h.plan();
  const now = ctx.clock.now();
  return ok({
    instance: h.instance,
    version: '0.1.0',
    started: isoMicros(h.startedAt),
    uptime_s: Math.round((now - h.startedAt) / 1000),
    config: { source: plan.source },
    listeners: h.listeners(),
    workers: h.workers(),
    routes: plan.routes.length,
    pools: plan.pools.size,
    inflight: h.inflight(),
    audit: h.auditHealth(),
  });
}

function backendView(ctx: AdminContext, pool: PoolPlan) {
  const slow = ctx.host.alerts().slowBackends();
  return pool.backends.map((b) => {
    const s = ctx.host.backend(pool.name, b.name);
    return {
      name: b.name,
      address: b.address,
      weight: b.weight,
      healthy: s?.healthy ?? null,
      draining: s?.draining ?? null,
      ejected: s === undefined ? null : s.ejectedUntil !== 0,
      ready: s?.ready() ?? null,
      inflight: s?.inflight ?? 0,
      ewma_ms: s === undefined ? null : Math.round(s.ewmaMs * 1000) / 1000,
      consecutive_failures: s?.consecutiveFailures ?? 0,
      last_check_error: s?.lastCheckError ?? null,
      slow: slow.has(`${pool.name}/${b.name}`),
    };
  });
}

export function pools(_call: Call, ctx: AdminContext): Reply {
  const items = [...ctx.host.plan().pools.values()].map((p) => {
    const backends = backendView(ctx, p);
    return {
      name: p.name,
      algorithm: p.algorithm,
      backends: backends.length,
      ready: backends.filter((b) => b.ready === true).length,
      health_check: p.healthCheck !== null,
      max_connections: p.maxConnections,
    };
  });
  return ok({ items, next: null });
}

export function poolOf(call: Call, ctx: AdminContext): PoolPlan {
  const pool = ctx.host.plan().pools.get(call.params.pool!);
  if (pool === undefined) throw new ApiError(404, 'not_found', `no pool named ${call.params.pool}`);
  return pool;
}

export function backends(call: Call, ctx: AdminContext): Reply {
  return ok({ items: backendView(ctx, poolOf(call, ctx)), next: null });
}

export function requests(call: Call, ctx: AdminContext): Reply | Promise<Reply> {
  const filters = filtersOf(call, ctx.clock.now());
  const limit = limitOf(call);
  const scope = param(call, 'scope') ?? 'instance';
  if (scope === 'fleet') return fleetRequests(call, ctx, filters, limit);
  if (scope !== 'instance')
    throw new ApiError(400, 'bad_request', `scope: "${scope}" is not instance or fleet`);
  const before = cursorOf(call);
  if (before !== undefined) filters.beforeSeq = before;
  return page(ctx.store.query(filters, limit), limit);
}

/**
 * `GET /api/v1/requests?scope=fleet`: the same filters over every instance's records in the
 * fleet's query store (the postgres sink), newest first; one page (`next` is null: narrow the
 * filters or the time range to see older ones).
 */
async function fleetRequests(
  call: Call,
  ctx: AdminContext,
  filters: QueryFilters,
  limit: number,
): Promise<Reply> {
  if (param(call, 'cursor') !== undefined)
    throw new ApiError(
      400,
      'bad_request',
      'cursor: scope=fleet answers one page; narrow since/until instead',
    );
  const central = ctx.central();
  if (central === null)
    throw new ApiError(
      400,
      'bad_request',
      'scope=fleet reads the fleet query store, and this config has no postgres sink (docs/fleet.md)',
    );
  try {
    const rows = await central.query(filters, limit);
    return ok({ scope: 'fleet', items: rows.map((r) => JSON.parse(r.record) as unknown), next: null });
  } catch (err) {
    throw new ApiError(
      503,
      'store_unavailable',
      `cannot read the fleet query store: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

export function requestById(call: Call, ctx: AdminContext): Reply {
  const rows = ctx.store.byRequestId(call.params.id!);
  if (rows.length === 0) throw new ApiError(404, 'not_found', `no record of request ${call.params.id}`);
  const r = rows[rows.length - 1]!;
  return ok(JSON.parse(withHash(r.rec, r.hash)));
}

export function events(call: Call, ctx: AdminContext): Reply {
  const now = ctx.clock.now();
  const f: EventFilters = {};
  const since = param(call, 'since');
  const until = param(call, 'until');
  if (since !== undefined) f.since = usage(() => parseTime('since', since, now));
  if (until !== undefined) f.until = usage(() => parseTime('until', until, now));
  const action = param(call, 'action');
  const actor = param(call, 'actor') ?? param(call, 'user');
  if (action !== undefined) {
    const list = action.split(',').filter((a) => a !== '');
    if (list.length === 0) throw new ApiError(400, 'bad_request', 'action: name at least one action');
    if (list.length === 1) f.action = list[0]!;
    else f.actions = list;
  }
  const reads = param(call, 'reads');
  if (reads !== undefined && reads !== 'true' && reads !== 'false')
    throw new ApiError(400, 'bad_request', `reads: "${reads}" is not true or false`);
  if (reads === 'false') f.withoutReads = true;
  if (actor !== undefined) f.user = actor;
  const before = cursorOf(call);
  if (before !== undefined) f.beforeSeq = before;
  const limit = limitOf(call);
  return page(ctx.store.events(f, limit), limit);
}

/**
 * `GET /api/v1/clients/top?window=1m|5m|15m&by=client_ip|user&limit=N[&scope=instance|fleet]`:
 * heavy hitters from this instance's sketch, or (`scope=fleet`) merged from every instance's.
 */
export function topClients(call: Call, ctx: AdminContext): Reply | Promise<Reply> {
  const by = param(call, 'by') ?? 'client_ip';
  if (by !== 'client_ip' && by !== 'user')
    throw new ApiError(400, 'bad_request', `by: "${by}" is not client_ip or user`);
  const windowText = param(call, 'window') ?? '1m';
  let windowMs: number;
  try {
    windowMs = parseDuration(windowText);
  } catch {
    throw new ApiError(400, 'bad_request', `window: "${windowText}" is not a duration like 1m`);
  }
  const limitText = param(call, 'limit') ?? '10';
  const limit = Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100)
    throw new ApiError(400, 'bad_request', `limit: "${limitText}" is not a whole number from 1 to 100`);
  const scope = param(call, 'scope') ?? 'instance';
  if (scope === 'fleet') return fleetTop(ctx, by, windowText, windowMs, limit);
  if (scope !== 'instance')
    throw new ApiError(400, 'bad_request', `scope: "${scope}" is not instance or fleet`);
  const items = usage(() => ctx.host.topClients(by).top(windowMs, limit));
  return ok({ window: windowText, by, items, next: null });
}

async function fleetTop(
  ctx: AdminContext,
  by: 'client_ip' | 'user',
  windowText: string,
  windowMs: number,
  limit: number,
): Promise<Reply> {
  const read = ctx.host.fleetTop;
  if (read === null)
    throw new ApiError(400, 'bad_request', 'scope=fleet needs fleet mode with fleet.redis (docs/fleet.md)');
  try {
    const { instances, items } = await read(by, windowMs, limit);
    return ok({ window: windowText, by, scope: 'fleet', instances, items, next: null });
  } catch (err) {
    if (isTollgateError(err) && err.code === ErrorCode.USAGE)
      throw new ApiError(400, 'bad_request', err.message);
    throw new ApiError(503, 'fleet_unavailable', err instanceof Error ? err.message : String(err));
  }
}
