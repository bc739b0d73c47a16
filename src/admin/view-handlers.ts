import type {
  AuditHealthAnswer,
  ChainProgressView,
  ErrorGroupsView,
  StatsView,
  Whoami,
} from '../core/index.js';
import { isoMicros, parseDuration } from '../core/index.js';
import { parseTime } from '../store/index.js';
import type { AdminContext } from './host.js';
import type { Reply } from './http.js';
import { ApiError, ok } from './http.js';
import { param } from './read-handlers.js';
import { covers } from './roles.js';
import type { Call } from './routes.js';

/** `GET /api/v1/whoami`: the calling token's name and role, so a page knows which buttons exist. */
export function whoami(call: Call, ctx: AdminContext): Reply {
  const g = ctx.elevations.active(call.actor);
  const body: Whoami = {
    name: call.actor,
    role: call.role,
    base_role: call.baseRole,
    elevation:
      g === null || covers(call.baseRole, g.role)
        ? null
        : { role: g.role, reason: g.reason, expires: isoMicros(g.expiresAt) },
    can: {
      drain: covers(call.role, 'operator'),
      silence: covers(call.role, 'operator'),
      elevate: covers(call.baseRole, 'operator') && call.baseRole !== 'admin',
      config: covers(call.role, 'admin'),
      tokens: covers(call.role, 'admin'),
    },
    instance: ctx.host.instance,
  };
  return ok(body);
}

const MIN_WINDOW_MS = 60_000;

/**
 * `GET /api/v1/stats?window=15m[&step=10s]`: requests/s, requests/s by status class and p50/p99
 * latency over the window, from the in-process history of the metrics counters (1 s steps up to
 * 15 min, 10 s up to 6 h, 1 min up to 48 h; `step` asks for a coarser one).
 */
export function stats(call: Call, ctx: AdminContext): Reply {
  const history = ctx.host.history();
  const text = param(call, 'window') ?? '15m';
  let windowMs: number;
  try {
    windowMs = parseDuration(text);
  } catch {
    throw new ApiError(400, 'bad_request', `window: "${text}" is not a duration like 15m`);
  }
  if (windowMs < MIN_WINDOW_MS || windowMs > history.maxWindowMs)
    throw new ApiError(
      400,
      'bad_request',
      `window: from 1m to ${Math.round(history.maxWindowMs / 3600_000)}h (the history kept)`,
    );
  const stepText = param(call, 'step');
  let stepMs = 0;
  if (stepText !== undefined) {
    try {
      stepMs = parseDuration(stepText);
    } catch {
      throw new ApiError(400, 'bad_request', `step: "${stepText}" is not a duration like 10s`);
    }
    if (!history.stepsMs.includes(stepMs))
      throw new ApiError(
        400,
        'bad_request',
        `step: one of ${history.stepsMs.map((ms) => `${ms / 1000}s`).join(', ')}`,
      );
  }
  const s = history.series(windowMs, ctx.clock.now(), stepMs);
  const r3 = (n: number) => Math.round(n * 1000) / 1000;
  const q = (n: number | null) => (n === null ? null : r3(n));
  const body: StatsView = {
    window_s: windowMs / 1000,
    step_s: s.stepMs / 1000,
    since: isoMicros(s.since),
    t: s.t.map((t) => t / 1000),
    rps: s.rps.map(r3),
    by_class: {
      '1xx': s.byClass['1xx'].map(r3),
      '2xx': s.byClass['2xx'].map(r3),
      '3xx': s.byClass['3xx'].map(r3),
      '4xx': s.byClass['4xx'].map(r3),
      '5xx': s.byClass['5xx'].map(r3),
      none: s.byClass.none.map(r3),
    },
    p50_ms: s.p50Ms.map(q),
    p99_ms: s.p99Ms.map(q),
    requests: s.requests,
  };
  return ok(body);
}

/**
 * `GET /api/v1/errors?since=1h&until=…&limit=50`: failed requests (any termination but `ok`, or
 * a 5xx passed through) grouped by route, backend and termination, with the newest three of each.
 */
export function errors(call: Call, ctx: AdminContext): Reply {
  const now = ctx.clock.now();
  const sinceText = param(call, 'since') ?? '1h';
  const untilText = param(call, 'until');
  let since: number;
  let until: number;
  try {
    since = parseTime('since', sinceText, now);
    until = untilText === undefined ? now + 1 : parseTime('until', untilText, now);
  } catch (err) {
    throw new ApiError(400, 'bad_request', (err as Error).message);
  }
  const limitText = param(call, 'limit') ?? '50';
  const limit = Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 200)
    throw new ApiError(400, 'bad_request', `limit: "${limitText}" is not a whole number from 1 to 200`);
  const { total, groups } = ctx.store.errorGroups(since, until, limit);
  const body: ErrorGroupsView = {
    since: isoMicros(since),
    until: isoMicros(until),
    total,
    items: groups.map((g) => ({
      route: g.route,
      backend: g.backend,
      termination: g.termination,
      count: g.count,
      statuses: g.statuses,
      first: isoMicros(g.first),
      last: isoMicros(g.last),
      samples: g.samples.map((s) => ({
        request_id: s.requestId,
        status: s.status,
        at: isoMicros(s.ts),
        message: s.message,
      })),
    })),
    next: null,
  };
  return ok(body, { labels: { groups: groups.length } });
}

/**
 * `GET /api/v1/audit/health`: the pipeline's state, lag per sink in records and seconds, and how
 * far this process has re-verified its chain (each call advances that by a bounded slice).
 */
export function auditHealth(_call: Call, ctx: AdminContext): Reply {
  const c = ctx.chain.advance();
  const chain: ChainProgressView = {
    enabled: c.enabled,
    ok: c.ok,
    verified_seq: c.verifiedSeq,
    verified_at: c.verifiedAt === null ? null : isoMicros(c.verifiedAt),
    checking_seq: c.checkingSeq,
    head_seq: c.headSeq,
    checkpoints_checked: c.checkpointsChecked,
    last_checkpoint:
      c.lastCheckpoint === null ? null : { seq: c.lastCheckpoint.seq, at: isoMicros(c.lastCheckpoint.ts) },
    problem: c.problem,
    first_bad_seq: c.firstBadSeq,
  };
  const body: AuditHealthAnswer = {
    ...ctx.host.auditHealth(),
    lag_seconds: ctx.host.auditLagSeconds(),
    chain,
  };
  return ok(body);
}
