/**
 * The request lifecycle — the only file that knows the phase order (docs/lifecycle.md):
 *
 *   accept → receive → route → admit → select → connect → upstreamRequest → upstreamResponse
 *          → respond → complete       (any attempt failure → attemptFailed → select | fail → respond)
 *
 * Contract:
 * - `complete` runs exactly once per request that reached `receive`, on every path (answers,
 *   local replies, client aborts, upstream failures mid-body, internal errors). It is driven by
 *   the response's 'close' event, which node emits once for finished and aborted responses.
 * - A phase ends a request only by calling `fail` with a termination; nothing else writes a
 *   local reply.
 * - A failed connect (nothing reached the backend) is retried on the next distinct backend for
 *   any method while tries remain. After the request reached a backend, only idempotent methods
 *   without a body are retried, only for the reasons in `retries.on`, within the budget.
 * - A client that goes away is `client_aborted`: never retried, never held against the backend.
 * - admit runs the route's authenticator, then its rate limiter; each is null when off. An
 *   authenticator may answer later (JWT verification is asynchronous): the request then goes on
 *   from `onAuthenticated`, unless it completed meanwhile (the client left).
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import type { AttemptFailure, RequestOutcome, Termination } from '../core/index.js';
import {
  formatDuration,
  formatTraceParent,
  isValidRequestId,
  newRequestId,
  newSpanId,
  newTraceId,
  parseTraceParent,
  statusFor,
} from '../core/index.js';
import type { AuthSubject, AuthVerdict, RateLimiter } from '../identity/index.js';
import type { AttemptListener } from './attempt.js';
import { Attempt } from './attempt.js';
import { isTrusted, normalizeIp, resolveClient } from './client-address.js';
import { ProxyContext } from './context.js';
import { classifyUpstreamError, describeFailure } from './errors.js';
import { cookieValue, downstreamResponseHeaders, upstreamRequestHeaders } from './headers.js';
import type { ListenerRuntime } from './listener.js';
import { localReplySize, rawLocalReply, writeLocalReply } from './local-reply.js';
import { splitHost } from './route-table.js';
import type { TunnelListener } from './upgrade.js';
import { requestHead, Tunnel } from './upgrade.js';

const kContext = Symbol('tollgate.context');
type WithContext = { [kContext]?: ProxyContext };

/** Set on a client socket once a request on it was refused at receive (bad_request / too_large). */
const kRefused = Symbol('tollgate.refused');

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Entry point: node's 'request' event for a listener. */
export function handleRequest(listener: ListenerRuntime, req: IncomingMessage, res: ServerResponse): void {
  const services = listener.services;
  // draining: answer this request, then close the connection (Connection: close), so keep-alive
  // clients move to another instance instead of holding the drain open
  if (listener.draining) res.shouldKeepAlive = false;
  const ctx = new ProxyContext(
    listener,
    services.current(),
    req,
    res,
    services.clock.now(),
    services.clock.monotonic(),
  );
  (res as ServerResponse & WithContext)[kContext] = ctx;
  res.on('close', onResponseClose);
  markActive(ctx);
  try {
    const t = receive(ctx);
    if (t !== null) {
      // a head Tollgate will not forward is not trusted to frame what follows it on the connection:
      // the connection closes after the reply, and requests already pipelined behind it are refused
      if (t === 'bad_request' || t === 'too_large') {
        res.shouldKeepAlive = false;
        (req.socket as Socket & { [kRefused]?: boolean })[kRefused] = true;
      }
      return fail(ctx, t, ctx.errorMessage ?? t);
    }
    if (ctx.path === CANARY_PATH && isCanary(ctx)) return canaryReply(ctx);
    if (!route(ctx)) return fail(ctx, 'no_route', noRouteMessage(ctx));
    ctx.pool!.active++;
    const admitted = admit(ctx);
    if (admitted === PENDING) return;
    if (admitted !== null) return fail(ctx, admitted, ctx.errorMessage ?? admitted);
    select(ctx);
  } catch (err) {
    internalError(ctx, err);
  }
}

// ---- receive ------------------------------------------------------------------------------

function receive(ctx: ProxyContext): Termination | null {
  const req = ctx.req;
  const listener = ctx.listener;
  const headers = req.headers;
  const socket = req.socket;
  ctx.peerAddress = normalizeIp(socket.remoteAddress ?? '');
  ctx.peerPort = socket.remotePort ?? null;
  const trusted = listener.plan.trustedProxies;
  ctx.trustedPeer = trusted !== null && isTrusted(trusted, ctx.peerAddress);
  if (ctx.trustedPeer) {
    const c = resolveClient(
      ctx.peerAddress,
      ctx.peerPort,
      trusted,
      single(headers['x-forwarded-for']),
      headers.forwarded,
    );
    ctx.clientAddress = c.address;
    ctx.clientPort = c.port;
  } else {
    ctx.clientAddress = ctx.peerAddress;
    ctx.clientPort = ctx.peerPort;
  }
  const incomingId = single(headers['x-request-id']);
  ctx.requestId =
    ctx.trustedPeer && incomingId !== undefined && isValidRequestId(incomingId) ? incomingId : newRequestId();
  const parent = parseTraceParent(single(headers.traceparent));
  ctx.traceId = parent === null ? newTraceId() : parent.traceId;
  ctx.traceFlags = parent === null ? '01' : parent.flags;
  ctx.spanId = newSpanId();
  ctx.method = req.method ?? 'GET';
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  ctx.path = q === -1 ? url : url.slice(0, q);
  ctx.query = q === -1 ? null : url.slice(q + 1);
  const host = splitHost(headers.host);
  ctx.hostName = host.name;
  ctx.hostPort = host.port;
  ctx.hasBody =
    headers['content-length'] !== undefined
      ? headers['content-length'] !== '0'
      : headers['transfer-encoding'] !== undefined;
  if ((socket as Socket & { [kRefused]?: boolean })[kRefused] === true) {
    ctx.errorMessage =
      'not forwarded: the request was pipelined behind a request refused on the same connection, which Tollgate closes';
    return 'bad_request';
  }
  const limit = listener.plan.limits.maxHeaderBytes;
  if (headSize(req) > limit) {
    ctx.errorMessage = `request head is larger than max_header_bytes (${limit} bytes) of listener ${listener.plan.name}`;
    ctx.statusCode = 431;
    return 'too_large';
  }
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor > 1) {
    ctx.errorMessage = `HTTP version ${req.httpVersion} is not supported; send HTTP/1.1 or HTTP/1.0`;
    return 'bad_request';
  }
  if (headers.host === undefined ? req.httpVersionMinor === 1 : hostCount(req.rawHeaders) > 1) {
    ctx.errorMessage =
      headers.host === undefined
        ? 'HTTP/1.1 request without a Host header'
        : 'request has more than one Host header';
    return 'bad_request';
  }
  if (headers.host !== undefined && !VALID_HOST.test(headers.host)) {
    ctx.errorMessage = `Host header ${JSON.stringify(headers.host.slice(0, 100))} is not a host name or IP address with an optional port`;
    return 'bad_request';
  }
  const te = headers['transfer-encoding'];
  if (te !== undefined) {
    const framing = transferEncodingProblem(te, req.httpVersionMinor);
    if (framing !== null) {
      ctx.errorMessage = framing;
      return 'bad_request';
    }
  }
  if (ctx.path.charCodeAt(0) !== 47 && ctx.path !== '*') {
    ctx.errorMessage = `request target "${ctx.path.slice(0, 100)}" is not an origin-form path; send a path starting with /`;
    return 'bad_request';
  }
  const gate = listener.services.auditGate;
  if (gate !== null) {
    const reason = gate();
    if (reason !== null) {
      ctx.errorMessage = `refused because the audit trail cannot record it (on_failure: fail_closed): ${reason}`;
      return 'audit_unavailable';
    }
  }
  return null;
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Bytes of the request head as sent: request line, header lines, blank line (SPEC §6: the limit bounds all of it). */
function headSize(req: IncomingMessage): number {
  const raw = req.rawHeaders;
  let size = (req.method?.length ?? 0) + (req.url?.length ?? 0) + 14;
  for (let i = 0; i < raw.length; i++) size += raw[i]!.length + 2;
  return size;
}

/**
 * A Host value Tollgate routes on and forwards: a registered name of letters, digits, `-._~` and
 * percent-escapes, an IPv4 address or a bracketed IPv6 literal, then an optional `:port` (RFC 9112
 * §3.2 asks for 400 on an invalid Host). Empty is allowed (RFC 9110 §7.2). Userinfo, spaces, lists,
 * slashes and sub-delimiters are refused, so the backend cannot read a different host out of it.
 */
const VALID_HOST = /^(?:\[[0-9A-Fa-f:.]+\]|(?:[A-Za-z0-9\-._~]|%[0-9A-Fa-f]{2})*)(?::[0-9]{0,5})?$/;

/**
 * RFC 9112 §6.1: Tollgate understands only the chunked coding, and it must be the only one (a
 * `gzip, chunked` body would reach the backend with its coding dropped); an HTTP/1.0 message with
 * Transfer-Encoding has faulty framing.
 */
function transferEncodingProblem(te: string, minor: number): string | null {
  if (minor === 0) return 'HTTP/1.0 request with a Transfer-Encoding header (faulty framing, RFC 9112 §6.1)';
  if (te.trim().toLowerCase() !== 'chunked')
    return `Transfer-Encoding ${JSON.stringify(te.slice(0, 100))} is not supported; only chunked is forwarded`;
  return null;
}

function hostCount(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') n++;
  return n;
}

// ---- canary (audit.canary): Tollgate's own marked request, answered here -----------------

/** The path of the canary; it reaches no backend. */
export const CANARY_PATH = '/.well-known/tollgate-canary';
export const CANARY_HEADER = 'x-tollgate-canary';

function isCanary(ctx: ProxyContext): boolean {
  const token = ctx.listener.services.canaryToken;
  const given = ctx.req.headers[CANARY_HEADER];
  if (token === null || typeof given !== 'string' || given.length !== token.length) return false;
  return timingSafeEqual(Buffer.from(given), token);
}

function canaryReply(ctx: ProxyContext): void {
  ctx.canary = true;
  ctx.termination = 'ok';
  ctx.statusCode = 200;
  const body = `canary ${ctx.requestId}\n`;
  ctx.res!.writeHead(200, [
    'content-type',
    'text/plain',
    'content-length',
    String(body.length),
    'cache-control',
    'no-store',
    'x-request-id',
    ctx.requestId,
  ]);
  ctx.res!.end(body);
  ctx.responseBodySize = body.length;
}

// ---- route --------------------------------------------------------------------------------

function route(ctx: ProxyContext): boolean {
  const r = ctx.runtime.routes.match(ctx.hostName, ctx.path, ctx.method);
  if (r === null) return false;
  ctx.route = r;
  ctx.pool = ctx.runtime.pools.get(r.plan.pool)!;
  if (ctx.pool.plan.hashKey !== null) ctx.hashKey = hashKeyOf(ctx);
  return true;
}

function noRouteMessage(ctx: ProxyContext): string {
  return `no route matches ${ctx.method} ${ctx.hostName ?? '(no host)'}${ctx.path.slice(0, 200)} on listener ${ctx.listener.plan.name}`;
}

// ---- admit --------------------------------------------------------------------------------

const PENDING = 'pending';

/**
 * Identity, then the rate limit: null to go on, the termination that refuses the request
 * (`auth_failed`, `forbidden`, `rate_limited`; the reason is in ctx.errorMessage), or PENDING
 * while the authenticator works (it then calls `onAuthenticated`).
 */
function admit(ctx: ProxyContext): Termination | null | typeof PENDING {
  const route = ctx.route!;
  if (route.authenticator !== null) {
    const verdict = route.authenticator.authenticate(ctx, onAuthenticated);
    if (verdict === PENDING) return PENDING;
    if (verdict !== 'ok') return verdict;
  }
  return route.limiter === null ? null : rateLimit(ctx, route.limiter);
}

/** An authenticator's late verdict: the rest of admit, then on to select (or the tunnel). */
function onAuthenticated(subject: AuthSubject, verdict: AuthVerdict): void {
  const ctx = subject as ProxyContext;
  try {
    // the client left (or a timeout ended the request) while its credentials were checked
    if (ctx.completed || ctx.termination !== null) return;
    const limiter = ctx.route!.limiter;
    const t = verdict !== 'ok' ? verdict : limiter === null ? null : rateLimit(ctx, limiter);
    if (ctx.res === null) {
      if (ctx.clientSocket!.destroyed) {
        return rejectUpgrade(
          ctx,
          'client_aborted',
          `client closed the connection after ${formatDuration(ctx.listener.services.clock.monotonic() - ctx.startMono)} while its credentials were checked`,
        );
      }
      if (t !== null) return rejectUpgrade(ctx, t, ctx.errorMessage ?? t);
      return selectTunnel(ctx, ctx.upgradeHead!);
    }
    if (t !== null) return fail(ctx, t, ctx.errorMessage ?? t);
    select(ctx);
  } catch (err) {
    if (ctx.res === null) {
      rejectUpgrade(
        ctx,
        'internal_error',
        `internal error: ${err instanceof Error ? err.message : String(err)}`,
      );
    } else internalError(ctx, err);
  }
}

/** Takes a token from the route's bucket for this client (or user); `rate_limited` when it is empty. */
function rateLimit(ctx: ProxyContext, limiter: RateLimiter): Termination | null {
  const byUser = limiter.plan.per === 'user' && ctx.userName !== null;
  const waitMs = limiter.take(byUser ? `user:${ctx.userName}` : ctx.clientAddress);
  if (waitMs === 0) return null;
  const plan = limiter.plan;
  ctx.retryAfterS = Math.ceil(waitMs / 1000);
  ctx.errorMessage = `rate limit of route ${ctx.route!.plan.name} exceeded by ${
    byUser ? `user ${JSON.stringify(ctx.userName)}` : `client ${ctx.clientAddress}`
  } (${plan.rateText}, burst ${plan.burst}, per ${plan.per}); retry after ${ctx.retryAfterS} s`;
  return 'rate_limited';
}

/** Headers a refusal adds to Tollgate's reply: the challenge of a 401, the wait of a 429. */
function replyHeaders(ctx: ProxyContext): string[] | null {
  if (ctx.termination === 'auth_failed' && ctx.challenge !== null) return ['www-authenticate', ctx.challenge];
  if (ctx.termination === 'rate_limited' && ctx.retryAfterS > 0)
    return ['retry-after', String(ctx.retryAfterS)];
  return null;
}

// ---- select → connect ---------------------------------------------------------------------

function hashKeyOf(ctx: ProxyContext): string | null {
  const key = ctx.pool!.plan.hashKey;
  if (key === null) return null;
  if (key.kind === 'client_ip') return ctx.clientAddress;
  const headers = ctx.req.headers;
  if (key.kind === 'header') {
    const v = headers[key.name];
    return v === undefined ? null : Array.isArray(v) ? v.join(',') : v;
  }
  return cookieValue(headers.cookie, key.name) ?? null;
}

function select(ctx: ProxyContext): void {
  const pool = ctx.pool!;
  let index = -1;
  if (ctx.attempts.length === 0) {
    if (pool.sticky !== null) {
      const v = cookieValue(ctx.req.headers.cookie, pool.plan.sticky!.cookie);
      const i = v === undefined ? -1 : pool.sticky.decode(v);
      if (i !== -1 && pool.eligible(i)) index = i;
    }
    if (index === -1) index = pool.select(ctx);
  } else {
    index = pool.select(ctx);
    // every backend was tried: further tries go to any backend again (HAProxy's retries on one server)
    if (index === -1 && ctx.tried.length > 0) {
      ctx.tried.length = 0;
      index = pool.select(ctx);
    }
  }
  if (index === -1) {
    const last = ctx.attempts.length === 0 ? null : ctx.attempts[ctx.attempts.length - 1]!;
    // the last try's failure explains it (a try retried on its status has no failure: then say why none is left)
    if (last !== null && last.termination !== 'ok') return fail(ctx, last.termination!, attemptHistory(ctx));
    const circuit = pool.circuitOpen(ctx.tried);
    return fail(
      ctx,
      circuit ? 'circuit_open' : 'no_healthy_backend',
      circuit
        ? `every ready backend of pool ${pool.plan.name} is at max_connections (${pool.plan.maxConnections})`
        : `no backend of pool ${pool.plan.name} is ready (${describePool(ctx)})`,
    );
  }
  connect(ctx, index);
}

function describePool(ctx: ProxyContext): string {
  const parts: string[] = [];
  for (const s of ctx.pool!.states) {
    parts.push(
      `${s.name}: ${s.draining ? 'draining' : !s.healthy ? 'unhealthy' : s.ejectedUntil !== 0 ? 'ejected' : 'ready'}`,
    );
  }
  return parts.join(', ');
}

function connect(ctx: ProxyContext, index: number): void {
  const pool = ctx.pool!;
  const state = pool.states[index]!;
  const services = ctx.listener.services;
  const a = new Attempt(ctx, index, state, upstreamPhases, services.clock);
  state.inflight++;
  ctx.tried.push(index);
  ctx.attempts.push(a);
  ctx.current = a;
  if (ctx.queueMs === null) ctx.queueMs = services.clock.monotonic() - ctx.startMono;
  if (ctx.upstreamHeaders === null) {
    ctx.upstreamHeaders = upstreamRequestHeaders(ctx.req.rawHeaders, {
      peerAddress: ctx.peerAddress,
      trusted: ctx.trustedPeer,
      proto: ctx.listener.proto,
      host: ctx.req.headers.host,
      requestId: ctx.requestId,
      traceparent: formatTraceParent(ctx.traceId, ctx.spanId, ctx.traceFlags),
      upgrade: null,
    });
  }
  pool.upstreams[index]!.dispatch(
    {
      path: ctx.req.url ?? '/',
      method: ctx.method,
      headers: ctx.upstreamHeaders,
      body: ctx.hasBody ? ctx.req : null,
    },
    a as unknown as Dispatcher.DispatchHandler,
  );
}

// ---- upstreamResponse / attemptFailed (the undici handler's callbacks) ---------------------

const upstreamPhases: AttemptListener = {
  connected(_a) {},

  headers(a, status, raw, resume) {
    const ctx = a.ctx;
    a.statusCode = status;
    a.headersMs = a.elapsed();
    const retries = ctx.pool!.plan.retries;
    if (retries.onStatuses.has(status) && mayRetryAfterSend(ctx)) {
      a.backend.observeAttempt(status >= 500, a.headersMs, ctx.pool!.plan.outlier);
      a.observed = true;
      // retry only if some backend can take it; otherwise this answer is passed through
      if (ctx.pool!.anyReady(a.index)) {
        a.settle('ok', `answered ${status} after ${formatDuration(a.headersMs)}; retried`);
        a.abort?.();
        return retry(ctx);
      }
    }
    ctx.answered = a;
    const res = ctx.res!;
    if (res.destroyed) return false;
    const pool = ctx.pool!;
    if (pool.sticky !== null) {
      // the cookie names the backend that answered (after a retry too)
      const token = pool.sticky.encode(a.index);
      if (cookieValue(ctx.req.headers.cookie, pool.plan.sticky!.cookie) !== token) {
        ctx.setCookie = `${pool.plan.sticky!.cookie}=${token}; Path=/; HttpOnly`;
      }
    }
    res.writeHead(status, downstreamResponseHeaders(raw, ctx.requestId, ctx.setCookie));
    ctx.statusCode = status;
    (res as ServerResponse & { [kResume]?: () => void })[kResume] = resume;
    return true;
  },

  data(a, chunk) {
    const ctx = a.ctx;
    ctx.responseBodySize += chunk.length;
    if (ctx.runtime.strict) {
      // hold the latest chunk back: the client cannot have the whole answer before its record is durable
      const held = ctx.heldChunk;
      ctx.heldChunk = chunk;
      if (held === null) return true;
      chunk = held;
    }
    const ok = ctx.res!.write(chunk);
    if (!ok) {
      ctx.res!.once('drain', onResponseDrain);
      if (ctx.sendTimer === null)
        ctx.sendTimer = setTimeout(onSendTimeout, ctx.listener.plan.limits.sendTimeoutMs, ctx);
    }
    return ok;
  },

  complete(a) {
    const ctx = a.ctx;
    a.settle('ok', null);
    if (!a.observed)
      a.backend.observeAttempt(
        (a.statusCode ?? 0) >= 500,
        a.headersMs ?? a.durationMs ?? 0,
        ctx.pool!.plan.outlier,
      );
    ctx.termination = 'ok';
    if (ctx.runtime.strict) return recordThen(ctx, endResponse);
    ctx.res!.end();
  },

  failed(a, err) {
    const ctx = a.ctx;
    const code = (err as { code?: string }).code;
    if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') {
      // undici refused the request before sending it (a header it will not write): the client's fault
      a.settle('bad_request', `not sent: ${err.message}`);
      if (!ctx.completed) fail(ctx, 'bad_request', `the request cannot be forwarded: ${err.message}`);
      return;
    }
    const failure = classifyUpstreamError(err, a.connected);
    const after = formatDuration(a.elapsed());
    a.settle(
      failure,
      `${describeFailure(failure)} after ${after} (${(err as { code?: string }).code ?? err.message})`,
    );
    if (ctx.completed || ctx.termination === 'client_aborted') return;
    a.backend.observeAttempt(true, 0, ctx.pool!.plan.outlier);
    if (ctx.res!.headersSent) {
      // mid-body: the client already has a status; all we can do is cut the response
      ctx.termination = failure;
      ctx.errorMessage = `${a.backend.name} (${a.backend.address}) failed mid-response: ${a.error}`;
      ctx.res!.destroy();
      return;
    }
    if (mayRetry(ctx, a, failure)) return retry(ctx);
    fail(ctx, failure, attemptHistory(ctx));
  },
};

const kResume = Symbol('tollgate.resume');

function onResponseDrain(this: ServerResponse & { [kResume]?: () => void } & WithContext): void {
  const ctx = this[kContext];
  if (ctx !== undefined && ctx.sendTimer !== null) {
    clearTimeout(ctx.sendTimer);
    ctx.sendTimer = null;
  }
  this[kResume]?.();
}

function mayRetryAfterSend(ctx: ProxyContext): boolean {
  return IDEMPOTENT.has(ctx.method) && !ctx.hasBody && triesLeft(ctx);
}

function triesLeft(ctx: ProxyContext): boolean {
  return ctx.attempts.length <= ctx.pool!.plan.retries.attempts && (ctx.retrying || ctx.pool!.retryAllowed());
}

function mayRetry(ctx: ProxyContext, a: Attempt, failure: AttemptFailure): boolean {
  if (!a.connected) return triesLeft(ctx);
  return ctx.pool!.plan.retries.onFailures.has(failure) && mayRetryAfterSend(ctx);
}

function retry(ctx: ProxyContext): boolean {
  if (!ctx.retrying) {
    ctx.retrying = true;
    ctx.pool!.activeRetries++;
  }
  select(ctx);
  return false;
}

function attemptHistory(ctx: ProxyContext): string {
  const parts: string[] = [];
  for (let i = 0; i < ctx.attempts.length; i++) {
    const a = ctx.attempts[i]!;
    const verb = i === 0 ? 'attempt' : 'retried on';
    parts.push(`${verb} ${a.backend.name} (${a.backend.address}): ${a.error ?? `answered ${a.statusCode}`}`);
  }
  return `${parts.join('; ')}; no tries left`;
}

// ---- fail → respond → complete ------------------------------------------------------------

function fail(ctx: ProxyContext, termination: Termination, message: string): void {
  ctx.termination = termination;
  ctx.errorMessage = message;
  // too_large is 431 for an oversized head (set at receive), 413 for a body
  const status = termination === 'too_large' && ctx.statusCode === 431 ? 431 : statusFor(termination);
  ctx.statusCode = status;
  if (ctx.runtime.strict && !ctx.completed && !ctx.res!.headersSent) {
    ctx.responseBodySize = localReplySize(termination, message, ctx.requestId, ctx.method === 'HEAD');
    return recordThen(ctx, writeFailReply);
  }
  ctx.responseBodySize = writeLocalReply(
    ctx.res!,
    status,
    termination,
    message,
    ctx.requestId,
    ctx.method === 'HEAD',
    replyHeaders(ctx),
  );
}

function internalError(ctx: ProxyContext, err: unknown): void {
  const message = `internal error: ${err instanceof Error ? err.message : String(err)}`;
  ctx.listener.services.logger.log('error', 'request failed inside tollgate', {
    request_id: ctx.requestId,
    error: err instanceof Error ? err.stack : String(err),
  });
  if (ctx.current !== null && !ctx.current.settled) {
    ctx.current.settle('internal_error', message);
    ctx.current.abort?.();
  }
  fail(ctx, 'internal_error', message);
}

function endResponse(ctx: ProxyContext): void {
  const held = ctx.heldChunk;
  ctx.heldChunk = null;
  if (held === null) ctx.res!.end();
  else ctx.res!.end(held);
}

function writeFailReply(ctx: ProxyContext): void {
  writeLocalReply(
    ctx.res!,
    ctx.statusCode,
    ctx.termination!,
    ctx.errorMessage ?? '',
    ctx.requestId,
    ctx.method === 'HEAD',
    replyHeaders(ctx),
  );
}

/**
 * durability: strict — the record is handed over first and the response ends only once the
 * store has committed it (group commit: every strict request of one event-loop turn shares
 * one transaction). `event.end` is then the moment the answer was ready, before the commit.
 */
function recordThen(ctx: ProxyContext, action: (ctx: ProxyContext) => void): void {
  ctx.completed = true;
  releasePool(ctx);
  complete(ctx);
  ctx.listener.services.durable().then(
    () => action(ctx),
    () => ctx.res!.destroy(),
  );
}

function releasePool(ctx: ProxyContext): void {
  if (ctx.pool !== null) {
    ctx.pool.active--;
    if (ctx.retrying) ctx.pool.activeRetries--;
  }
}

/**
 * send_timeout: the client read nothing of the response for that long (a slow or stalled reader
 * holding a backend connection). The response is cut; the attempt is settled as the client's
 * doing, so it is not held against the backend.
 */
function onSendTimeout(ctx: ProxyContext): void {
  ctx.sendTimer = null;
  const res = ctx.res;
  if (ctx.completed || res === null || res.destroyed) return;
  const limits = ctx.listener.plan.limits;
  const message = `client did not read the response for ${formatDuration(limits.sendTimeoutMs)} (send_timeout of listener ${ctx.listener.plan.name}) after ${ctx.responseBodySize} response bytes`;
  ctx.termination = 'client_timeout';
  ctx.errorMessage = message;
  const a = ctx.current;
  if (a?.settle('client_aborted', message)) a.abort?.(new Error('client did not read the response'));
  res.destroy();
}

/** 'close' on the response: the one place `complete` starts. */
function onResponseClose(this: ServerResponse & WithContext): void {
  const ctx = this[kContext];
  if (ctx === undefined || ctx.completed) return;
  if (ctx.sendTimer !== null) {
    clearTimeout(ctx.sendTimer);
    ctx.sendTimer = null;
  }
  ctx.completed = true;
  if (!this.writableFinished) {
    // the client went away (or we cut the response after an upstream failure)
    if (ctx.termination === null || ctx.termination === 'ok') {
      ctx.termination = 'client_aborted';
      ctx.errorMessage = ctx.listener.cutting
        ? `connection closed by Tollgate at the drain deadline after ${formatDuration(ctx.listener.services.clock.monotonic() - ctx.startMono)}`
        : `client closed the connection after ${formatDuration(ctx.listener.services.clock.monotonic() - ctx.startMono)}${
            this.headersSent
              ? ` with ${ctx.responseBodySize} response bytes sent`
              : ' before a response was sent'
          }`;
      if (!this.headersSent) ctx.statusCode = 499;
    }
    const a = ctx.current;
    if (
      a?.settle(
        ctx.termination === 'client_aborted' ? 'client_aborted' : (a.termination ?? ctx.termination),
        a.error,
      )
    ) {
      a.abort?.(new Error('client aborted'));
    }
  }
  releasePool(ctx);
  complete(ctx);
}

function complete(ctx: ProxyContext): void {
  const services = ctx.listener.services;
  try {
    services.observer.onOutcome(toOutcome(ctx, services.clock.now()));
  } catch (err) {
    services.logger.log('error', 'outcome observer failed', {
      error: err instanceof Error ? err.stack : String(err),
    });
  }
}

function toOutcome(ctx: ProxyContext, endMs: number): RequestOutcome {
  const req = ctx.req;
  const answered = ctx.answered;
  const backend = answered?.backend ?? null;
  const attempts = [];
  for (const a of ctx.attempts) attempts.push(a.toOutcome());
  const termination = ctx.termination ?? 'internal_error';
  const route = ctx.route === null ? null : ctx.route.plan;
  return {
    requestId: ctx.requestId,
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    startMs: ctx.startMs,
    endMs,
    clientAddress: ctx.clientAddress,
    clientPort: ctx.clientPort,
    peerAddress: ctx.peerAddress,
    peerPort: ctx.peerPort,
    userAgent: req.headers['user-agent'] ?? null,
    method: ctx.method,
    path: ctx.path,
    query: ctx.query,
    serverAddress: ctx.hostName,
    serverPort: ctx.hostPort,
    requestHeaders: req.headers,
    requestBodySize: ctx.requestBodySize,
    responseBodySize: ctx.responseBodySize,
    statusCode: ctx.statusCode,
    tls: ctx.listener.tlsFacts(req.socket),
    userName: ctx.userName,
    identityMethod: ctx.identityMethod,
    listener: ctx.listener.plan.name,
    route: route === null ? null : route.name,
    pool: route === null ? null : route.pool,
    owner: route === null ? null : route.owner,
    tags: route === null ? null : route.tags,
    backendName: backend === null ? null : backend.name,
    backendAddress: backend === null ? null : backend.address,
    upstreamStatus: answered === null ? null : answered.statusCode,
    timings: {
      queue: ctx.queueMs,
      connect: answered === null ? null : answered.connectMs,
      upstreamHeaders: answered === null ? null : answered.headersMs,
      upstreamTotal: answered === null ? null : answered.durationMs,
    },
    attempts,
    termination,
    errorMessage: termination === 'ok' ? null : (ctx.errorMessage ?? termination),
    upgraded: false,
    canary: ctx.canary,
  };
}

// ---- Upgrade (WebSocket): receive → route → admit → select → connect → tunnel → complete ---

/** Entry point: node's 'upgrade' event. */
export function handleUpgrade(
  listener: ListenerRuntime,
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
): void {
  const services = listener.services;
  const ctx = new ProxyContext(
    listener,
    services.current(),
    req,
    null,
    services.clock.now(),
    services.clock.monotonic(),
  );
  ctx.clientSocket = socket;
  socket.on('error', ignoreError);
  try {
    const t = receive(ctx);
    if (t !== null) return rejectUpgrade(ctx, t, ctx.errorMessage ?? t);
    if (!route(ctx)) return rejectUpgrade(ctx, 'no_route', noRouteMessage(ctx));
    ctx.pool!.active++;
    ctx.upstreamHeaders = upstreamRequestHeaders(req.rawHeaders, {
      peerAddress: ctx.peerAddress,
      trusted: ctx.trustedPeer,
      proto: listener.proto,
      host: req.headers.host,
      requestId: ctx.requestId,
      traceparent: formatTraceParent(ctx.traceId, ctx.spanId, ctx.traceFlags),
      upgrade: req.headers.upgrade ?? 'websocket',
    });
    ctx.upgradeHead = head;
    const admitted = admit(ctx);
    if (admitted === PENDING) return;
    if (admitted !== null) return rejectUpgrade(ctx, admitted, ctx.errorMessage ?? admitted);
    selectTunnel(ctx, head);
  } catch (err) {
    rejectUpgrade(
      ctx,
      'internal_error',
      `internal error: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

function ignoreError(): void {}

function selectTunnel(ctx: ProxyContext, head: Buffer): void {
  const pool = ctx.pool!;
  const index = pool.select(ctx);
  if (index === -1) {
    const last = ctx.attempts.length === 0 ? null : ctx.attempts[ctx.attempts.length - 1]!;
    if (last !== null) return rejectUpgrade(ctx, last.termination!, attemptHistory(ctx));
    return rejectUpgrade(
      ctx,
      'no_healthy_backend',
      `no backend of pool ${pool.plan.name} is ready (${describePool(ctx)})`,
    );
  }
  const state = pool.states[index]!;
  const a = new Attempt(ctx, index, state, upstreamPhases, ctx.listener.services.clock);
  state.inflight++;
  ctx.tried.push(index);
  ctx.attempts.push(a);
  ctx.current = a;
  if (ctx.queueMs === null) ctx.queueMs = ctx.listener.services.clock.monotonic() - ctx.startMono;
  const t = new Tunnel(
    ctx.clientSocket!,
    state.host,
    state.port,
    requestHead(ctx.method, ctx.req.url ?? '/', ctx.upstreamHeaders!),
    head,
    pool.plan.timeouts.connectMs,
    tunnelPhases,
  );
  tunnels.set(t, a);
  ctx.upgradeHead = head;
}

const tunnels = new WeakMap<Tunnel, Attempt>();

const tunnelPhases: TunnelListener = {
  connected(t) {
    const a = tunnels.get(t)!;
    a.connected = true;
    a.connectMs = a.elapsed();
  },
  status(t, status) {
    const a = tunnels.get(t)!;
    a.statusCode = status;
    a.headersMs = a.elapsed();
    a.ctx.answered = a;
    a.ctx.statusCode = status;
  },
  closed(t, error) {
    const a = tunnels.get(t)!;
    const ctx = a.ctx;
    if (!t.connected) {
      const failure = classifyUpstreamError(error ?? new Error('closed'), false);
      a.settle(
        failure,
        `${describeFailure(failure)} after ${formatDuration(a.elapsed())} (${error?.code ?? error?.message ?? 'closed'})`,
      );
      a.backend.observeAttempt(true, 0, ctx.pool!.plan.outlier);
      if (triesLeft(ctx)) {
        if (!ctx.retrying) {
          ctx.retrying = true;
          ctx.pool!.activeRetries++;
        }
        return selectTunnel(ctx, ctx.upgradeHead!);
      }
      return rejectUpgrade(ctx, failure, attemptHistory(ctx));
    }
    ctx.requestBodySize = t.bytesUp;
    ctx.responseBodySize = t.bytesDown;
    if (a.statusCode === null) {
      a.settle('upstream_reset', 'backend closed the connection before answering the upgrade');
      ctx.termination = 'upstream_reset';
      ctx.errorMessage = `${a.backend.name} (${a.backend.address}) closed the connection before answering the upgrade`;
      ctx.statusCode = 502;
    } else {
      a.settle('ok', null);
      ctx.termination = 'ok';
    }
    a.backend.observeAttempt(false, a.headersMs ?? 0, null);
    finishUpgrade(ctx);
  },
};

function rejectUpgrade(ctx: ProxyContext, termination: Termination, message: string): void {
  ctx.termination = termination;
  ctx.errorMessage = message;
  ctx.statusCode = termination === 'too_large' && ctx.statusCode === 431 ? 431 : statusFor(termination);
  const socket = ctx.clientSocket!;
  if (socket.writable)
    socket.end(
      rawLocalReply(ctx.statusCode, 'Error', termination, message, ctx.requestId, replyHeaders(ctx)),
    );
  socket.destroy();
  finishUpgrade(ctx);
}

function finishUpgrade(ctx: ProxyContext): void {
  if (ctx.completed) return;
  ctx.completed = true;
  if (ctx.pool !== null) {
    ctx.pool.active--;
    if (ctx.retrying) ctx.pool.activeRetries--;
  }
  const services = ctx.listener.services;
  const outcome = toOutcome(ctx, services.clock.now());
  outcome.upgraded = true;
  try {
    services.observer.onOutcome(outcome);
  } catch (err) {
    services.logger.log('error', 'outcome observer failed', {
      error: err instanceof Error ? err.stack : String(err),
    });
  }
}

/** Node's 'connect' event: CONNECT is for forward proxies; refused with 400 and a record. */
export function handleConnect(listener: ListenerRuntime, req: IncomingMessage, socket: Socket): void {
  const requestId = newRequestId();
  const message = `CONNECT ${String(req.url).slice(0, 200)} refused: Tollgate is a reverse proxy and does not open tunnels`;
  socket.on('error', ignoreError);
  if (socket.writable) socket.end(rawLocalReply(400, 'Bad Request', 'bad_request', message, requestId));
  socket.destroy();
  recordClientError(
    listener,
    socket,
    Buffer.from(`CONNECT ${req.url} HTTP/1.1`),
    requestId,
    'bad_request',
    400,
    message,
  );
}

// ---- receive failures node detects itself (malformed requests, oversized heads, timeouts) --

const kActive = Symbol('tollgate.active');

/** Node's 'clientError': a request it could not parse, or a timeout. Ends in one record. */
export function handleClientError(
  listener: ListenerRuntime,
  err: Error & { code?: string; rawPacket?: Buffer },
  socket: Socket,
): void {
  const code = err.code ?? '';
  const active = (socket as Socket & { [kActive]?: ProxyContext })[kActive];
  let termination: Termination;
  let message: string;
  if (code === 'HPE_HEADER_OVERFLOW') {
    termination = 'too_large';
    message = `request head is larger than max_header_bytes (${listener.plan.limits.maxHeaderBytes} bytes) of listener ${listener.plan.name}`;
  } else if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    termination = 'client_timeout';
    message = `client did not send the whole request in time (headers_timeout ${listener.plan.limits.headersTimeoutMs} ms, request_timeout ${listener.plan.limits.requestTimeoutMs} ms)`;
  } else if (code === 'HPE_INVALID_EOF_STATE') {
    termination = 'client_aborted';
    message = 'client closed the connection in the middle of the request head';
  } else if (code.startsWith('HPE_')) {
    termination = 'bad_request';
    message = `malformed request: ${err.message.replace(/^Parse Error: /, '')} (${code})`;
  } else {
    // a socket error (ECONNRESET, …): record it only if part of a request had arrived
    termination = 'client_aborted';
    message = `client connection failed mid-request: ${code || err.message}`;
  }
  if (active !== undefined && !active.completed && active.res !== null) {
    // the request was already being handled (e.g. its body was too slow): end that one, and its attempt
    const a = active.current;
    if (a?.settle(termination === 'client_aborted' ? 'client_aborted' : 'client_timeout', message))
      a.abort?.(err);
    if (termination === 'client_timeout' || termination === 'bad_request') {
      // the socket is destroyed once the reply is out: say so (Connection: close)
      active.res.shouldKeepAlive = false;
      fail(active, termination, message);
      const res = active.res;
      if (res.writableFinished) socket.destroy();
      else {
        res.once('finish', () => socket.destroy());
        setTimeout(() => socket.destroy(), 1000).unref();
      }
    } else socket.destroy();
    return;
  }
  let raw = err.rawPacket;
  if (code === 'HPE_CLOSED_CONNECTION') {
    // bytes after a request that closes the connection (Connection: close, HTTP/1.0): they are
    // another request, which is refused; name it in the record, not the request before it
    message = `request sent after a request that closes the connection (Connection: close or HTTP/1.0) is not read (${code})`;
    const at = (err as { bytesParsed?: number }).bytesParsed;
    if (raw !== undefined && at !== undefined && at > 0 && at <= raw.length) {
      // llhttp counts the byte it stopped at: go back to the start of that line
      let start = at - 1;
      while (start > 0 && raw[start - 1] !== 10) start--;
      raw = raw.subarray(start);
    }
  }
  if (
    termination === 'client_aborted' &&
    code !== 'HPE_INVALID_EOF_STATE' &&
    (raw === undefined || raw.length === 0)
  ) {
    socket.destroy();
    return;
  }
  const status =
    termination === 'too_large' ? 431 : termination === 'client_aborted' ? 499 : statusFor(termination);
  const requestId = newRequestId();
  if (termination !== 'client_aborted' && socket.writable) {
    socket.end(
      rawLocalReply(
        status,
        status === 431
          ? 'Request Header Fields Too Large'
          : status === 408
            ? 'Request Timeout'
            : 'Bad Request',
        termination,
        message,
        requestId,
      ),
    );
  }
  socket.destroy();
  recordClientError(listener, socket, raw, requestId, termination, status, message);
}

function recordClientError(
  listener: ListenerRuntime,
  socket: Socket,
  raw: Buffer | undefined,
  requestId: string,
  termination: Termination,
  status: number,
  message: string,
): void {
  const services = listener.services;
  const now = services.clock.now();
  // best effort: the request line, for the record
  let method = '';
  let path = '';
  if (raw !== undefined && raw.length > 0) {
    const text = raw.toString('latin1', 0, Math.min(raw.length, 8192)).replace(/^(?:\r?\n)+/, '');
    const eol = text.search(/\r?\n/);
    const parts = (eol === -1 ? text : text.slice(0, eol)).split(' ');
    method = (parts[0] ?? '').slice(0, 32);
    path = (parts[1] ?? '').slice(0, 2048);
  }
  const q = path.indexOf('?');
  const peer = normalizeIp(socket.remoteAddress ?? '');
  const outcome: RequestOutcome = {
    requestId,
    traceId: newTraceId(),
    spanId: newSpanId(),
    startMs: now,
    endMs: now,
    clientAddress: peer,
    clientPort: socket.remotePort ?? null,
    peerAddress: peer,
    peerPort: socket.remotePort ?? null,
    userAgent: null,
    method,
    path: q === -1 ? path : path.slice(0, q),
    query: q === -1 ? null : path.slice(q + 1),
    serverAddress: null,
    serverPort: null,
    requestHeaders: {},
    requestBodySize: 0,
    responseBodySize: 0,
    statusCode: status,
    tls: listener.tlsFacts(socket),
    userName: null,
    identityMethod: 'anonymous',
    listener: listener.plan.name,
    route: null,
    pool: null,
    owner: null,
    tags: null,
    backendName: null,
    backendAddress: null,
    upstreamStatus: null,
    timings: { queue: null, connect: null, upstreamHeaders: null, upstreamTotal: null },
    attempts: [],
    termination,
    errorMessage: message,
    upgraded: false,
    canary: false,
  };
  try {
    services.observer.onOutcome(outcome);
  } catch (e) {
    services.logger.log('error', 'outcome observer failed', {
      error: e instanceof Error ? e.stack : String(e),
    });
  }
}

/** Marks the request a socket is serving, so a timeout on that socket ends that request. */
function markActive(ctx: ProxyContext): void {
  (ctx.req.socket as Socket & { [kActive]?: ProxyContext })[kActive] = ctx;
}
