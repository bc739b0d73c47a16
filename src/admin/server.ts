import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { CentralStore, ChainWatch } from '../audit/index.js';
import type { AdminPlan } from '../config/index.js';
import type { AdminEvent, Clock, Logger } from '../core/index.js';
import { systemEvent } from '../core/index.js';
import type { Store } from '../store/index.js';
import { canonicalIp } from '../store/index.js';
import { DashboardFiles } from './dashboard.js';
import { Elevations, type Schedule } from './elevation.js';
import type { AdminContext, AdminHost } from './host.js';
import type { Reply } from './http.js';
import { ApiError, send } from './http.js';
import { Lockout } from './lockout.js';
import type { CommittingSink, PendingEventPump } from './pending-events.js';
import type { Role } from './roles.js';
import { covers } from './roles.js';
import type { Call } from './routes.js';
import { matchRoute, metrics } from './routes.js';
import { RecordFollower } from './stream.js';
import { authenticate } from './tokens.js';

export interface AdminServerOptions {
  plan: AdminPlan;
  host: AdminHost;
  /** A read-write connection of the main thread (queries, tokens, pending events). */
  store: Store;
  events: CommittingSink;
  /** Chains admin events left in the store; the app owns it (it runs without an admin server too). */
  pump: PendingEventPump;
  clock: Clock;
  logger: Logger;
  /** Timers for elevation expiry (tests). */
  schedule?: Schedule;
  /** The dashboard's built files (default: dist/web). */
  dashboard?: DashboardFiles;
  /** The app's chain watcher (it also verifies on its own schedule); default: one of the server's own. */
  chain?: ChainWatch;
}

interface Caller {
  actor: string;
  baseRole: Role | null;
  role: Role | null;
  elevatedTo: Role | null;
}

const ANONYMOUS: Caller = { actor: 'anonymous', baseRole: null, role: null, elevatedTo: null };

function sourceOf(req: http.IncomingMessage): string {
  const a = req.socket.remoteAddress;
  if (a === undefined) return 'unknown';
  try {
    return canonicalIp(a);
  } catch {
    return a;
  }
}

/**
 * The admin API (SPEC §4) on `admin.address`, HTTP or HTTPS. Every call, allowed or refused,
 * becomes one `admin_request` event in the chained trail: actor (the token's name), roles,
 * source address, method, path, result and, for changes, the before/after diff. Order of checks:
 * lockout (429) → bearer token (401, counted toward the lockout) → route (404/405) → role (403).
 */
export class AdminServer {
  readonly #opts: AdminServerOptions;
  readonly #server: http.Server;
  readonly #lockout: Lockout;
  readonly #ctx: AdminContext;
  readonly #dashboard: DashboardFiles;
  #closed: Promise<void> | null = null;
  /** The fleet query store, by `url#table`, opened on first use. */
  #central: { key: string; store: CentralStore } | null = null;

  constructor(opts: AdminServerOptions) {
    this.#opts = opts;
    this.#lockout = new Lockout(opts.plan.lockout.failures, opts.plan.lockout.windowMs, opts.clock);
    this.#dashboard = opts.dashboard ?? new DashboardFiles();
    const dataDir = opts.host.plan().dataDir;
    this.#ctx = {
      host: opts.host,
      store: opts.store,
      events: opts.events,
      elevations: new Elevations(opts.events, opts.clock, opts.schedule),
      pump: opts.pump,
      follower: new RecordFollower(opts.store),
      clock: opts.clock,
      configLock: { busy: false },
      central: () => this.#centralStore(),
      chain:
        opts.chain ??
        new ChainWatch(
          opts.store,
          path.join(dataDir, 'chain-key.pub.pem'),
          path.join(dataDir, 'checkpoints.jsonl'),
          () => opts.clock.now(),
        ),
    };
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.#handle(req, res);
    const tls = opts.plan.tls;
    this.#server =
      tls === null
        ? http.createServer(handler)
        : https.createServer({ cert: tls.cert, key: tls.key }, handler);
    this.#server.headersTimeout = 10_000;
    this.#server.requestTimeout = 30_000;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#opts.plan.port, this.#opts.plan.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
  }

  port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  url(): string {
    const host = this.#opts.plan.host.includes(':') ? `[${this.#opts.plan.host}]` : this.#opts.plan.host;
    return `${this.#opts.plan.tls === null ? 'http' : 'https'}://${host}:${this.port()}`;
  }

  #centralStore(): CentralStore | null {
    const sink = this.#opts.host.plan().audit.sinks.find((s) => s.type === 'postgres');
    const old = this.#central;
    if (sink === undefined) return null;
    const url = String(sink.options.url);
    const table = String(sink.options.table ?? 'tollgate_records');
    const key = `${url}#${table}`;
    if (old?.key === key) return old.store;
    if (old !== null) void old.store.close();
    this.#central = { key, store: new CentralStore(url, table) };
    return this.#central.store;
  }

  /** Stops listening, ends the live streams and elevations. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#central?.store.close();
      this.#ctx.follower.close();
      this.#ctx.elevations.close();
      await new Promise<void>((resolve) => {
        this.#server.close(() => resolve());
        this.#server.closeAllConnections();
      });
    })();
    return this.#closed;
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const source = sourceOf(req);
    const method = req.method ?? 'GET';
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://admin.invalid');
    } catch {
      this.#finish(
        req,
        res,
        ANONYMOUS,
        source,
        '/',
        new ApiError(400, 'bad_request', 'the request target is not a URL'),
      );
      return;
    }
    const path = url.pathname;
    let caller = ANONYMOUS;
    try {
      if (DashboardFiles.handles(path)) {
        if (method !== 'GET' && method !== 'HEAD')
          throw new ApiError(405, 'method_not_allowed', `${path} takes GET, HEAD`, { allow: 'GET, HEAD' });
        // the page and its files need no token (they hold no data); the page load is recorded,
        // its hashed assets and favicon are not unless refused (docs/dashboard.md)
        const served = this.#dashboard.serve(req, res, path);
        if (DashboardFiles.recorded(path))
          this.#finish(req, res, caller, source, path, {
            status: served,
            body: null,
            streamed: true,
            labels: { dashboard: true },
          });
        return;
      }
      if (method === 'GET' && path === '/metrics' && this.#opts.plan.metricsPublic) {
        this.#finish(req, res, ANONYMOUS, source, path, metrics(null, this.#ctx));
        return;
      }
      const locked = this.#lockout.lockedFor(source);
      if (locked > 0)
        throw new ApiError(
          429,
          'locked_out',
          `too many bad tokens from ${source}; try again in ${Math.ceil(locked / 1000)} s`,
          {
            'retry-after': String(Math.ceil(locked / 1000)),
          },
        );
      caller = this.#authenticate(req, source);
      const match = matchRoute(method, path);
      if (!match.found) {
        if (match.allowed.length > 0)
          throw new ApiError(405, 'method_not_allowed', `${path} takes ${match.allowed.join(', ')}`, {
            allow: match.allowed.join(', '),
          });
        throw new ApiError(404, 'not_found', `no API endpoint ${path}`);
      }
      const need = match.def.role;
      if (!covers(caller.role!, need))
        throw new ApiError(
          403,
          'forbidden',
          `token ${caller.actor} has role ${caller.role}; ${method} ${path} needs ${need}`,
        );
      if (!covers(caller.baseRole!, need)) {
        const g = this.#ctx.elevations.active(caller.actor);
        if (g !== null) this.#ctx.elevations.used(g, source, method, path);
      }
      const call: Call = {
        req,
        res,
        url,
        params: match.params,
        actor: caller.actor,
        baseRole: caller.baseRole!,
        role: caller.role!,
        source,
      };
      const reply = await match.def.handle(call, this.#ctx);
      this.#finish(req, res, caller, source, path, reply);
    } catch (err) {
      this.#finish(req, res, caller, source, path, err);
    }
  }

  #authenticate(req: http.IncomingMessage, source: string): Caller {
    const header = req.headers.authorization;
    const m = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (m === null)
      throw new ApiError(
        401,
        'unauthorized',
        header === undefined
          ? 'no bearer token: send Authorization: Bearer TOKEN'
          : 'the Authorization header is not "Bearer TOKEN"',
        { 'www-authenticate': 'Bearer realm="tollgate"' },
      );
    const result = authenticate(this.#opts.store.tokens, m[1]!, this.#opts.clock.now());
    if (!result.ok) {
      if (this.#lockout.fail(source)) {
        const { failures, windowMs } = this.#opts.plan.lockout;
        this.#opts.events.emit({
          ...systemEvent('admin_lockout', 'failure', `${failures} bad tokens within ${windowMs / 1000} s`, {
            window_s: windowMs / 1000,
          }),
          sourceAddress: source,
        });
      }
      const refusal = new ApiError(401, 'unauthorized', result.reason, {
        'www-authenticate': 'Bearer realm="tollgate", error="invalid_token"',
      });
      refusal.actor = result.name;
      throw refusal;
    }
    const g = this.#ctx.elevations.active(result.name);
    const elevated = g !== null && !covers(result.role, g.role) ? g.role : null;
    return { actor: result.name, baseRole: result.role, role: elevated ?? result.role, elevatedTo: elevated };
  }

  /** Answers (unless the handler streamed) and records the call. */
  #finish(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    caller: Caller,
    source: string,
    path: string,
    result: Reply | unknown,
  ): void {
    let status: number;
    let reason: string | null = null;
    let diff: unknown = null;
    let labels: AdminEvent['labels'] = {};
    let actor = caller.actor;
    if (result instanceof ApiError) {
      if (result.actor !== null) actor = result.actor;
      status = result.status;
      reason = result.message;
      const body: Record<string, unknown> = { error: result.code, message: result.message };
      if (result.details !== undefined) Object.assign(body, result.details);
      send(res, status, body, result.headers);
    } else if (result !== null && typeof result === 'object' && 'status' in result && 'body' in result) {
      const reply = result as Reply;
      status = reply.status;
      diff = reply.diff ?? null;
      labels = reply.labels ?? {};
      if (reply.streamed !== true) send(res, status, reply.body, reply.headers);
    } else {
      status = 500;
      reason = 'internal error; see the Tollgate log';
      this.#opts.logger.log('error', 'admin API handler failed', {
        path,
        error: result instanceof Error ? result.stack : String(result),
      });
      send(res, 500, { error: 'internal_error', message: reason });
    }
    const roles: string[] = [];
    if (caller.baseRole !== null) roles.push(caller.baseRole);
    if (caller.elevatedTo !== null) roles.push(caller.elevatedTo);
    this.#opts.events.emit({
      ...systemEvent(
        'admin_request',
        status < 400 ? 'success' : 'failure',
        reason,
        { status, ...labels },
        actor,
      ),
      roles,
      sourceAddress: source,
      method: req.method ?? null,
      path,
      diff,
    });
  }
}
