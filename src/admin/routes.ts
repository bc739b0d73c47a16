import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  alerts,
  deleteToken,
  drain,
  elevate,
  getConfig,
  listTokens,
  postToken,
  putConfig,
  putToken,
  silence,
  undrain,
} from './change-handlers.js';
import type { AdminContext } from './host.js';
import type { Reply } from './http.js';
import { ApiError, ok } from './http.js';
import {
  backends,
  events,
  param,
  pools,
  requestById,
  requests,
  status,
  streamMatcher,
  topClients,
} from './read-handlers.js';
import type { Role } from './roles.js';
import { auditHealth, errors, stats, whoami } from './view-handlers.js';

/** One authenticated API call, as a handler sees it. */
export interface Call {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly params: Record<string, string>;
  /** The token's name. */
  readonly actor: string;
  /** The token's own role. */
  readonly baseRole: Role;
  /** What it may do now: its role, or a live elevation above it. */
  readonly role: Role;
  readonly source: string;
}

type Handler = (call: Call, ctx: AdminContext) => Reply | Promise<Reply>;

export interface RouteDef {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly role: Role;
  readonly handle: Handler;
}

/**
 * `GET /api/v1/fleet`: the instances of the fleet (live etcd leases), the config revision each
 * runs and its health; a single instance lists itself. 503 when etcd cannot be read.
 */
async function fleet(_call: Call, ctx: AdminContext): Promise<Reply> {
  const view = ctx.host.fleet;
  if (view === null) {
    const self = {
      instance: ctx.host.instance,
      pid: process.pid,
      applied_revision: null,
      config_error: null,
      health: 'ok',
      current: true,
      started_at: new Date(ctx.host.startedAt).toISOString(),
    };
    return ok({ fleet: false, self: ctx.host.instance, config_revision: null, items: [self], next: null });
  }
  try {
    return ok(await view());
  } catch (err) {
    throw new ApiError(
      503,
      'fleet_unavailable',
      `cannot list the fleet: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

function stream(call: Call, ctx: AdminContext): Reply {
  const match = streamMatcher(call, ctx.clock.now());
  const last = call.req.headers['last-event-id'];
  const fromText =
    typeof last === 'string' && /^\d{1,15}$/.test(last) ? String(Number(last) + 1) : param(call, 'from_seq');
  let from = ctx.follower.nextSeq();
  if (fromText !== undefined) {
    if (!/^\d{1,15}$/.test(fromText))
      throw new ApiError(400, 'bad_request', `from_seq: "${fromText}" is not a seq`);
    from = Number(fromText);
  }
  ctx.follower.follow(call.res, from, match);
  return { status: 200, body: null, streamed: true, labels: { from_seq: from } };
}

/** `tollgate review` of the running process: 200 with every check, whatever their verdicts. */
async function reviewHandler(_call: Call, ctx: AdminContext): Promise<Reply> {
  const report = await ctx.host.review();
  return { status: 200, body: report, labels: { passed: report.passed, failed: report.failed } };
}

export function metrics(_call: Call | null, ctx: AdminContext): Reply {
  const m = ctx.host.metrics();
  return { status: 200, body: m.text, headers: { 'content-type': m.contentType } };
}

/** SPEC §4, each with the least role that may call it. */
export const ROUTES: readonly RouteDef[] = [
  { method: 'GET', path: '/metrics', role: 'viewer', handle: metrics },
  { method: 'GET', path: '/api/v1/status', role: 'viewer', handle: status },
  { method: 'GET', path: '/api/v1/whoami', role: 'viewer', handle: whoami },
  { method: 'GET', path: '/api/v1/stats', role: 'viewer', handle: stats },
  { method: 'GET', path: '/api/v1/errors', role: 'viewer', handle: errors },
  { method: 'GET', path: '/api/v1/pools', role: 'viewer', handle: pools },
  { method: 'GET', path: '/api/v1/pools/:pool/backends', role: 'viewer', handle: backends },
  { method: 'POST', path: '/api/v1/pools/:pool/backends/:name/drain', role: 'operator', handle: drain },
  { method: 'POST', path: '/api/v1/pools/:pool/backends/:name/undrain', role: 'operator', handle: undrain },
  { method: 'GET', path: '/api/v1/config', role: 'viewer', handle: getConfig },
  { method: 'PUT', path: '/api/v1/config', role: 'admin', handle: putConfig },
  { method: 'GET', path: '/api/v1/requests', role: 'viewer', handle: requests },
  { method: 'GET', path: '/api/v1/requests/:id', role: 'viewer', handle: requestById },
  { method: 'GET', path: '/api/v1/events', role: 'viewer', handle: events },
  { method: 'GET', path: '/api/v1/stream', role: 'viewer', handle: stream },
  { method: 'GET', path: '/api/v1/audit/health', role: 'viewer', handle: auditHealth },
  { method: 'POST', path: '/api/v1/elevate', role: 'operator', handle: elevate },
  { method: 'GET', path: '/api/v1/tokens', role: 'admin', handle: listTokens },
  { method: 'POST', path: '/api/v1/tokens', role: 'admin', handle: postToken },
  { method: 'PUT', path: '/api/v1/tokens/:name', role: 'admin', handle: putToken },
  { method: 'DELETE', path: '/api/v1/tokens/:name', role: 'admin', handle: deleteToken },
  { method: 'GET', path: '/api/v1/alerts', role: 'viewer', handle: alerts },
  { method: 'POST', path: '/api/v1/alerts/:id/silence', role: 'operator', handle: silence },
  { method: 'GET', path: '/api/v1/clients/top', role: 'viewer', handle: topClients },
  { method: 'GET', path: '/api/v1/review', role: 'viewer', handle: reviewHandler },
  { method: 'GET', path: '/api/v1/fleet', role: 'viewer', handle: fleet },
];

const compiled = ROUTES.map((r) => ({ def: r, segments: r.path.split('/').slice(1) }));

export type RouteMatch =
  | { found: true; def: RouteDef; params: Record<string, string> }
  | { found: false; allowed: string[] };

/** The route for a method and path; when only the method is wrong, which methods the path takes. */
export function matchRoute(method: string, pathname: string): RouteMatch {
  const parts = pathname.split('/').slice(1);
  const allowed: string[] = [];
  for (const { def, segments } of compiled) {
    if (segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let hit = true;
    for (let i = 0; i < segments.length && hit; i++) {
      const s = segments[i]!;
      if (s.startsWith(':')) {
        try {
          params[s.slice(1)] = decodeURIComponent(parts[i]!);
        } catch {
          hit = false;
        }
        if (parts[i] === '') hit = false;
      } else if (s !== parts[i]) hit = false;
    }
    if (!hit) continue;
    if (def.method === method) return { found: true, def, params };
    allowed.push(def.method);
  }
  return { found: false, allowed };
}
