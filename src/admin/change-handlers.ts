import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { RuntimePlan } from '../config/index.js';
import { ConfigError, compileConfigText, diffConfig, formatProblem } from '../config/index.js';
import { ErrorCode, formatDuration, isoMicros, isTollgateError, parseDuration } from '../core/index.js';
import type { AdminContext } from './host.js';
import type { Reply } from './http.js';
import { ApiError, ok, readBody, readJson } from './http.js';
import { backends, param, poolOf } from './read-handlers.js';
import { isRole, roleRank } from './roles.js';
import type { Call } from './routes.js';
import { changeRole, createToken, revokeToken, TokenErrorCode, tokenView } from './tokens.js';

const MIN_ELEVATION_MS = 1000;
const MAX_ELEVATION_MS = 8 * 3600_000;

// ---- backends

function setDraining(draining: boolean) {
  return (call: Call, ctx: AdminContext): Reply => {
    const pool = poolOf(call, ctx);
    const name = call.params.name!;
    const state = pool.backends.some((b) => b.name === name) ? ctx.host.backend(pool.name, name) : undefined;
    if (state === undefined)
      throw new ApiError(404, 'not_found', `pool ${pool.name} has no backend named ${name}`);
    const before = state.draining;
    state.setDraining(draining, call.actor);
    const reply = backends(call, ctx);
    return {
      ...reply,
      body: (reply.body as { items: { name: string }[] }).items.find((b) => b.name === name),
      diff:
        before === draining
          ? []
          : [
              {
                path: `pools["${pool.name}"].backends["${name}"].draining`,
                kind: 'changed',
                before,
                after: draining,
              },
            ],
      labels: { pool: pool.name, backend: name },
    };
  };
}

export const drain = setDraining(true);
export const undrain = setDraining(false);

// ---- config

export function etagOf(plan: RuntimePlan): string {
  return `"${createHash('sha256').update(plan.text).digest('hex').slice(0, 32)}"`;
}

/** `scheme://user:secret@host` → `scheme://user:REDACTED@host`, in any text (sink URLs carry database passwords). */
export function redactUrlPasswords(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:/@'"]+):[^\s@/'"]+@/gi, '$1:REDACTED@');
}

/**
 * The running config and its ETag. Passwords in URLs (a postgres sink's) are shown to admins
 * only, who may change the config anyway; viewers and operators see `REDACTED` in their place.
 */
export function getConfig(call: Call, ctx: AdminContext): Reply {
  const plan = ctx.host.plan();
  const etag = etagOf(plan);
  if (call.role === 'admin')
    return ok({ etag, source: plan.source, text: plan.text, config: plan.config }, { headers: { etag } });
  const text = redactUrlPasswords(plan.text);
  const config = JSON.parse(redactUrlPasswords(JSON.stringify(plan.config))) as unknown;
  return ok({ etag, source: plan.source, text, config, redacted: text !== plan.text }, { headers: { etag } });
}

/** Writes the new text where the running config came from, atomically, keeping the file's mode. */
function writeConfigFile(file: string, text: string): void {
  const mode = fs.statSync(file).mode & 0o777;
  const tmp = `${file}.tollgate-${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode });
  fs.renameSync(tmp, file);
}

/**
 * `PUT /api/v1/config`: YAML or JSON (JSON is YAML). Requires `If-Match` with the running
 * config's ETag (428 without, 412 when stale), validates with the `check` messages (422),
 * `?dry_run=true` stops there and answers the diff; otherwise the text replaces the config file
 * and the plan is applied like a reload. One change at a time (409 while one is applied).
 */
export async function putConfig(call: Call, ctx: AdminContext): Promise<Reply> {
  const ifMatch = call.req.headers['if-match'];
  if (ifMatch === undefined)
    throw new ApiError(428, 'precondition_required', 'send If-Match with the ETag of GET /api/v1/config');
  const text = await readBody(call.req);
  const dryRun = param(call, 'dry_run') === 'true';
  if (ctx.configLock.busy)
    throw new ApiError(409, 'conflict', 'another config change is being applied; retry');
  const before = ctx.host.plan();
  const current = etagOf(before);
  if (!ifMatch.split(',').some((t) => t.trim() === current || t.trim() === '*'))
    throw new ApiError(
      412,
      'precondition_failed',
      `the config changed since that ETag was read; the running one is ${current}`,
    );
  let next: RuntimePlan;
  try {
    next = compileConfigText(text, before.source);
  } catch (err) {
    if (err instanceof ConfigError)
      throw new ApiError(
        422,
        'config_invalid',
        `the config has ${err.problems.length} problem(s)`,
        {},
        {
          problems: err.problems.map(formatProblem),
        },
      );
    throw err;
  }
  const diff = diffConfig(before.config, next.config);
  const etag = etagOf(next);
  if (dryRun) return ok({ dry_run: true, valid: true, etag, diff }, { diff, labels: { dry_run: true } });
  ctx.configLock.busy = true;
  try {
    // in fleet mode the change goes to etcd (the host publishes it); the local file keeps only local keys
    const file = before.source.startsWith('<') || ctx.host.fleet !== null ? null : before.source;
    if (file !== null) {
      try {
        writeConfigFile(file, text);
      } catch (err) {
        throw new ApiError(
          500,
          'config_write_failed',
          `cannot write ${file}: ${(err as Error).message}; nothing changed`,
        );
      }
    }
    try {
      await ctx.host.applyPlan(next, call.actor, before);
    } catch (err) {
      if (file !== null) writeConfigFile(file, before.text);
      if (isTollgateError(err) && err.code === ErrorCode.FLEET_CONFLICT)
        throw new ApiError(409, 'fleet_conflict', `${err.message}; nothing changed`);
      if (isTollgateError(err) && err.code === ErrorCode.FLEET_LOCAL_KEY)
        throw new ApiError(422, 'fleet_local_key', `${err.message}; nothing changed`);
      if (isTollgateError(err) && err.code === ErrorCode.FLEET_ETCD)
        throw new ApiError(503, 'fleet_unavailable', `${err.message}; nothing changed`);
      throw new ApiError(
        409,
        'apply_failed',
        `the proxy refused the new config (${isTollgateError(err) || err instanceof Error ? err.message : String(err)}); the running config keeps serving`,
      );
    }
  } finally {
    ctx.configLock.busy = false;
  }
  return ok({ dry_run: false, applied: true, etag, diff }, { headers: { etag }, diff });
}

// ---- elevation

export async function elevate(call: Call, ctx: AdminContext): Promise<Reply> {
  const body = await readJson(call.req);
  const role = body.role ?? 'admin';
  if (!isRole(role))
    throw new ApiError(400, 'bad_request', `role: "${String(role)}" is not viewer, operator or admin`);
  if (roleRank(role) <= roleRank(call.baseRole))
    throw new ApiError(
      400,
      'bad_request',
      `token ${call.actor} already has ${call.baseRole}; nothing to elevate to`,
    );
  const reason = typeof body.reason === 'string' ? body.reason.trim() : '';
  if (reason.length < 3)
    throw new ApiError(400, 'bad_request', 'reason: say in writing why the elevation is needed');
  if (reason.length > 500) throw new ApiError(400, 'bad_request', 'reason: at most 500 characters');
  let forMs: number;
  try {
    forMs = parseDuration(String(body.for ?? '30m'));
  } catch {
    throw new ApiError(400, 'bad_request', `for: "${String(body.for)}" is not a duration like 30m`);
  }
  if (forMs < MIN_ELEVATION_MS || forMs > MAX_ELEVATION_MS)
    throw new ApiError(
      400,
      'bad_request',
      `for: elevations last from 1s to ${formatDuration(MAX_ELEVATION_MS)}`,
    );
  const g = ctx.elevations.grant(call.actor, call.baseRole, role, forMs, reason, call.source);
  return ok(
    { token: g.token, role: g.role, from: g.from, reason: g.reason, expires: isoMicros(g.expiresAt) },
    { labels: { category: 'privilege', role: g.role } },
  );
}

// ---- tokens

function tokenCall<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isTollgateError(err)) {
      if (err.code === TokenErrorCode.UNKNOWN) throw new ApiError(404, 'not_found', err.message);
      if (err.code === TokenErrorCode.EXISTS) throw new ApiError(409, 'conflict', err.message);
      if (err.code === TokenErrorCode.INVALID) throw new ApiError(400, 'bad_request', err.message);
    }
    throw err;
  }
}

export function listTokens(_call: Call, ctx: AdminContext): Reply {
  const now = ctx.clock.now();
  return ok({ items: ctx.store.tokens.list().map((t) => tokenView(t, now)), next: null });
}

export async function postToken(call: Call, ctx: AdminContext): Promise<Reply> {
  const body = await readJson(call.req);
  let ttlMs: number | null = null;
  if (body.ttl !== undefined && body.ttl !== null) {
    try {
      ttlMs = parseDuration(String(body.ttl));
    } catch {
      throw new ApiError(400, 'bad_request', `ttl: "${String(body.ttl)}" is not a duration like 8h`);
    }
  }
  const now = ctx.clock.now();
  const { token, row } = tokenCall(() =>
    createToken(ctx.store.tokens, {
      name: String(body.name ?? ''),
      role: String(body.role ?? ''),
      ttlMs,
      actor: call.actor,
      actorRole: call.baseRole,
      source: call.source,
      now,
    }),
  );
  await ctx.pump.kick();
  return {
    status: 201,
    body: { ...tokenView(row, now), token },
    labels: { token: row.name, role: row.role },
  };
}

export async function deleteToken(call: Call, ctx: AdminContext): Promise<Reply> {
  const name = call.params.name!;
  tokenCall(() =>
    revokeToken(ctx.store.tokens, name, call.actor, call.baseRole, call.source, ctx.clock.now()),
  );
  ctx.elevations.revoke(name, `token ${name} was revoked`);
  await ctx.pump.kick();
  return ok({ name, state: 'revoked' }, { labels: { token: name } });
}

export async function putToken(call: Call, ctx: AdminContext): Promise<Reply> {
  const name = call.params.name!;
  const body = await readJson(call.req);
  const { before, after } = tokenCall(() =>
    changeRole(
      ctx.store.tokens,
      name,
      String(body.role ?? ''),
      call.actor,
      call.baseRole,
      call.source,
      ctx.clock.now(),
    ),
  );
  await ctx.pump.kick();
  return ok(
    { name, role: after },
    { diff: [{ path: `tokens["${name}"].role`, kind: 'changed', before, after }], labels: { token: name } },
  );
}

// ---- alerts

export function alerts(call: Call, ctx: AdminContext): Reply {
  const state = param(call, 'state');
  if (state !== undefined && !['pending', 'firing', 'resolved'].includes(state))
    throw new ApiError(400, 'bad_request', `state: "${state}" is not pending, firing or resolved`);
  const items = ctx.host
    .alerts()
    .list()
    .filter((a) => state === undefined || a.status === state);
  return ok({ items, next: null });
}

export async function silence(call: Call, ctx: AdminContext): Promise<Reply> {
  const body = await readJson(call.req);
  let forMs: number;
  try {
    forMs = parseDuration(String(body.for ?? '1h'));
  } catch {
    throw new ApiError(400, 'bad_request', `for: "${String(body.for)}" is not a duration like 1h`);
  }
  if (forMs < 1000 || forMs > 7 * 86_400_000)
    throw new ApiError(400, 'bad_request', 'for: a silence lasts from 1s to 7d');
  const reason = typeof body.reason === 'string' ? body.reason.trim() : '';
  if (reason === '') throw new ApiError(400, 'bad_request', 'reason: say why the alert is silenced');
  const view = ctx.host.alerts().silence(call.params.id!, forMs, call.actor, reason);
  if (view === null) throw new ApiError(404, 'not_found', `no pending or firing alert ${call.params.id}`);
  return ok(view, { labels: { alert: view.id, rule: view.rule } });
}
