import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BlockList } from 'node:net';
import { availableParallelism, hostname } from 'node:os';
import { resolve } from 'node:path';
import type { AttemptFailure } from '../core/index.js';
import { parseDuration, parsePercent, parseRate, parseSize } from '../core/index.js';
import { parseAddress, parseSubnet } from './address.js';
import { loadApiKeys, loadJwks } from './auth-files.js';
import type {
  AdminPlan,
  AlertsPlan,
  AuditPlan,
  AuthPlan,
  BackendPlan,
  FleetPlan,
  HashKey,
  JwksDocument,
  ListenerPlan,
  PoolPlan,
  RateLimitPlan,
  RetryPlan,
  RoutePlan,
  RuntimePlan,
  SinkPlan,
} from './plan.js';
import type { Finding, PathKey } from './problem.js';
import { finding } from './problem.js';
import type { Config } from './schema.js';
import { fileErrorReason, loadTls } from './tls-files.js';

/**
 * A validated Config → the immutable RuntimePlan of plan.ts. Reads TLS files and the files route
 * auth names (API-key lists, JWKS); refuses features this build accepts in the schema but does
 * not enforce yet, so nobody believes they are on.
 */
export interface CompileContext {
  /** Absolute path of the config file, or '<inline>' / '<demo>'. */
  readonly source: string;
  /** The folder relative paths in the config start from. */
  readonly baseDir: string;
  readonly text: string;
}

export interface Compilation {
  /** Null when there are findings. */
  readonly plan: RuntimePlan | null;
  readonly findings: readonly Finding[];
}

type ListenerConfig = Config['listeners'][number];
type PoolConfig = Config['pools'][number];
type RouteConfig = Config['routes'][number];
type SinkConfig = Config['audit']['sinks'][number];

const UNSUPPORTED_SINKS = new Set<string>();

export function compileConfig(config: Config, ctx: CompileContext): Compilation {
  const out: Finding[] = [];
  refuseUnsupported(config, out);
  const dataDir = resolve(ctx.baseDir, config.data_dir);
  const listeners = config.listeners.map((l, i) => listenerPlan(l, ctx.baseDir, ['listeners', i], out));
  const pools = new Map(config.pools.map((p) => [p.name, poolPlan(p)] as const));
  const routes = config.routes.map((r, i) => routePlan(r, ctx.baseDir, ['routes', i], out));
  const admin: AdminPlan | null =
    config.admin === undefined
      ? null
      : {
          ...hostPort(config.admin.address, true),
          tls:
            config.admin.tls === undefined
              ? null
              : loadTls(config.admin.tls, ctx.baseDir, ['admin', 'tls'], out),
          lockout: {
            failures: config.admin.lockout.failures,
            windowMs: parseDuration(config.admin.lockout.window),
          },
          metricsPublic: config.admin.metrics_public,
        };
  const syslogCas = new Map<number, string>();
  config.audit.sinks.forEach((sink, i) => {
    if (sink.type !== 'syslog' || sink.tls?.ca === undefined) return;
    const file = resolve(ctx.baseDir, sink.tls.ca);
    try {
      syslogCas.set(i, readFileSync(file, 'utf8'));
    } catch (err) {
      out.push(
        finding(['audit', 'sinks', i, 'tls', 'ca'], 'value', `cannot read ${file}: ${fileErrorReason(err)}`),
      );
    }
  });
  if (out.length > 0) return { plan: null, findings: out };
  const plan: RuntimePlan = {
    source: ctx.source,
    dataDir,
    workers: config.workers === 'auto' ? availableParallelism() : config.workers,
    listeners,
    routes,
    pools,
    audit: auditPlan(config.audit, config.listeners[0]!.name, dataDir, credentialHeaders(routes), syslogCas),
    admin,
    alerts: alertsPlan(config.alerts),
    fleet: fleetPlan(config.fleet, dataDir),
    reviewBaseline:
      config.review?.baseline === undefined ? null : resolve(ctx.baseDir, config.review.baseline),
    config: structuredClone(config),
    text: ctx.text,
  };
  return { plan: deepFreeze(plan), findings: [] };
}

function refuseUnsupported(config: Config, out: Finding[]): void {
  config.audit.sinks.forEach((sink, i) => {
    if (UNSUPPORTED_SINKS.has(sink.type)) {
      out.push(
        finding(
          ['audit', 'sinks', i, 'type'],
          'value',
          `the ${sink.type} sink is not supported by this build yet`,
        ),
      );
    }
  });
  config.alerts?.rules.forEach((rule, i) => {
    if (rule.when === 'client_rate' && ![60_000, 300_000, 900_000].includes(parseDuration(rule.window)))
      out.push(
        finding(
          ['alerts', 'rules', i, 'window'],
          'value',
          'a client_rate window is 1m, 5m or 15m (the heavy-hitter windows)',
        ),
      );
    if (parseDuration(rule.window) > MAX_RULE_WINDOW_MS)
      out.push(finding(['alerts', 'rules', i, 'window'], 'value', 'a rule window is at most 15m'));
  });
}

/** Alert rules read one-second ring buckets that cover 15 minutes. */
const MAX_RULE_WINDOW_MS = 15 * 60_000;

function hostPort(address: string, allowZero: boolean): { host: string; port: number } {
  const parsed = parseAddress(address, allowZero);
  if (typeof parsed === 'string') throw new Error(`unvalidated address ${address}: ${parsed}`);
  return { host: parsed.host, port: parsed.port };
}

function listenerPlan(l: ListenerConfig, baseDir: string, path: PathKey[], out: Finding[]): ListenerPlan {
  let trustedProxies: BlockList | null = null;
  for (const entry of l.trusted_proxies) {
    const subnet = parseSubnet(entry);
    if (typeof subnet === 'string') continue; // validated already
    trustedProxies ??= new BlockList();
    trustedProxies.addSubnet(subnet.network, subnet.prefix, subnet.family);
  }
  return {
    name: l.name,
    ...hostPort(l.address, true),
    tls: l.tls === undefined ? null : loadTls(l.tls, baseDir, [...path, 'tls'], out),
    trustedProxies,
    limits: {
      maxHeaderBytes: parseSize(l.limits.max_header_bytes),
      headersTimeoutMs: parseDuration(l.limits.headers_timeout),
      requestTimeoutMs: parseDuration(l.limits.request_timeout),
      sendTimeoutMs: parseDuration(l.limits.send_timeout),
      maxConnectionsPerIp: l.limits.max_connections_per_ip,
    },
  };
}

function routePlan(r: RouteConfig, baseDir: string, path: PathKey[], out: Finding[]): RoutePlan {
  const tags =
    r.tags === undefined ? null : Object.fromEntries(Object.entries(r.tags).map(([k, v]) => [k, String(v)]));
  return {
    name: r.name,
    host: r.match.host?.toLowerCase() ?? null,
    pathPrefix: r.match.path_prefix ?? null,
    methods: r.match.methods === undefined ? null : new Set(r.match.methods.map((m) => m.toUpperCase())),
    pool: r.pool,
    owner: r.owner ?? null,
    tags,
    auth: r.auth === undefined ? null : authPlan(r.auth, baseDir, [...path, 'auth'], out),
    rateLimit: r.rate_limit === undefined ? null : rateLimitPlan(r.rate_limit),
  };
}

/** Route auth with its files read and checked (a file that cannot be used is a finding at its key). */
function authPlan(
  a: NonNullable<RouteConfig['auth']>,
  baseDir: string,
  path: PathKey[],
  out: Finding[],
): AuthPlan | null {
  switch (a.type) {
    case 'api_key': {
      const loaded = loadApiKeys(a.keys_file, baseDir, [...path, 'keys_file'], out);
      if (loaded === null) return null;
      return { type: 'api_key', required: a.required, header: a.header.toLowerCase(), ...loaded };
    }
    case 'jwt': {
      let file: { jwksFile: string | null; jwks: JwksDocument | null } = { jwksFile: null, jwks: null };
      if (a.jwks_file !== undefined) {
        const loaded = loadJwks(a.jwks_file, baseDir, [...path, 'jwks_file'], out);
        if (loaded === null) return null;
        file = loaded;
      }
      return {
        type: 'jwt',
        required: a.required,
        ...file,
        jwksUrl: a.jwks_url ?? null,
        issuer: a.issuer ?? null,
        audience:
          a.audience === undefined ? null : typeof a.audience === 'string' ? [a.audience] : a.audience,
        clockSkewMs: parseDuration(a.clock_skew),
        userClaim: a.user_claim,
      };
    }
    case 'mtls':
      return { type: 'mtls', userFrom: a.user_from };
  }
}

/** `burst` defaults to one second's worth of the rate (at least 1). */
function rateLimitPlan(r: NonNullable<RouteConfig['rate_limit']>): RateLimitPlan {
  const ratePerSecond = parseRate(r.rate);
  return {
    per: r.per,
    ratePerSecond,
    burst: r.burst ?? Math.max(1, Math.ceil(ratePerSecond)),
    rateText: r.rate.trim(),
  };
}

/**
 * Headers that carry credentials on some route: `authorization` for jwt, the key header for
 * api_key. The recorder redacts them even when `audit.redact.headers` leaves them out.
 */
function credentialHeaders(routes: readonly RoutePlan[]): string[] {
  const names: string[] = [];
  for (const r of routes) {
    if (r.auth?.type === 'jwt') names.push('authorization');
    else if (r.auth?.type === 'api_key') names.push(r.auth.header);
  }
  return names;
}

function poolPlan(p: PoolConfig): PoolPlan {
  const backends: BackendPlan[] = p.backends.map((b) => ({
    name: b.name,
    address: b.address,
    ...hostPort(b.address, false),
    weight: b.weight,
  }));
  const hc = p.health_check;
  const od = p.outlier_detection;
  return {
    name: p.name,
    algorithm: p.algorithm,
    hashKey: p.hash_key === undefined ? null : hashKey(p.hash_key),
    sticky: p.sticky === undefined ? null : { cookie: p.sticky.cookie },
    backends,
    healthCheck:
      hc === undefined
        ? null
        : {
            path: hc.path,
            intervalMs: parseDuration(hc.interval),
            timeoutMs: parseDuration(hc.timeout),
            healthyThreshold: hc.healthy_threshold,
            unhealthyThreshold: hc.unhealthy_threshold,
          },
    outlier:
      od === undefined
        ? null
        : { consecutiveFailures: od.consecutive_failures, ejectionTimeMs: parseDuration(od.ejection_time) },
    retries: retryPlan(p.retries),
    timeouts: {
      connectMs: parseDuration(p.timeouts.connect),
      responseHeaderMs: parseDuration(p.timeouts.response_header),
      idleMs: parseDuration(p.timeouts.idle),
    },
    maxConnections: p.max_connections,
  };
}

function hashKey(text: string): HashKey {
  if (text.startsWith('header:')) return { kind: 'header', name: text.slice('header:'.length).toLowerCase() };
  if (text.startsWith('cookie:')) return { kind: 'cookie', name: text.slice('cookie:'.length) };
  return { kind: 'client_ip' };
}

function retryPlan(r: PoolConfig['retries']): RetryPlan {
  const onFailures = new Set<AttemptFailure>();
  const onStatuses = new Set<number>();
  for (const reason of r.on) {
    if (typeof reason === 'number') onStatuses.add(reason);
    else if (reason === 'connect_failure') {
      onFailures.add('upstream_connect_refused').add('upstream_connect_timeout').add('upstream_tls_error');
    } else if (reason === 'reset') onFailures.add('upstream_reset');
    else onFailures.add(reason);
  }
  return { attempts: r.attempts, onFailures, onStatuses, budget: r.budget_percent / 100 };
}

function auditPlan(
  a: Config['audit'],
  firstListener: string,
  dataDir: string,
  credentialHeaders: readonly string[],
  syslogCas: ReadonlyMap<number, string>,
): AuditPlan {
  return {
    storePath: resolve(dataDir, a.store.path),
    retentionMs: parseDuration(a.store.retention),
    sinks: a.sinks.map((s, i) => sinkPlan(s, dataDir, syslogCas.get(i) ?? null)),
    captureHeaders: a.capture_headers.map((h) => h.toLowerCase()),
    redactHeaders: new Set([...a.redact.headers.map((h) => h.toLowerCase()), ...credentialHeaders]),
    redactQueryParams: new Set(a.redact.query_params.map((q) => q.toLowerCase())),
    onFailure: a.on_failure,
    durability: a.durability,
    maxQueue: a.max_queue,
    chain: {
      enabled: a.chain.enabled,
      checkpointIntervalMs: parseDuration(a.chain.checkpoint_interval),
      verifyIntervalMs: parseDuration(a.chain.verify_interval),
    },
    heartbeatMs: parseDuration(a.heartbeat),
    canary:
      a.canary === undefined
        ? null
        : {
            intervalMs: parseDuration(a.canary.interval),
            deadlineMs: parseDuration(a.canary.deadline),
            listener: a.canary.listener ?? firstListener,
          },
  };
}

function sinkPlan(s: SinkConfig, dataDir: string, caPem: string | null): SinkPlan {
  const { type, ...options } = s;
  if (s.type === 'syslog') return { type, options: { ...options, caPem } };
  if (s.type === 'jsonl') {
    const rotateBytes = s.rotate === undefined ? null : parseSize(s.rotate);
    return { type, options: { ...options, path: resolve(dataDir, s.path), rotateBytes } };
  }
  if (s.type === 'combined') return { type, options: { ...options, path: resolve(dataDir, s.path) } };
  return { type, options };
}

/** Freezes plain objects and arrays (not Buffers, Sets, Maps or BlockLists, which stay read-only by type). */
function deepFreeze<T>(value: T): T {
  if (
    Array.isArray(value) ||
    (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
  ) {
    for (const child of Object.values(value as object)) deepFreeze(child);
    Object.freeze(value);
  } else if (value instanceof Map) {
    for (const child of value.values()) deepFreeze(child);
  }
  return value;
}

function threshold(when: string, above: string | number | undefined): number {
  if (above === undefined) return 0;
  const text = String(above);
  switch (when) {
    case 'error_rate':
      return parsePercent(text);
    case 'client_rate':
    case 'auth_failures':
      return parseRate(text);
    case 'latency_p99':
    case 'audit_lag':
      return parseDuration(text);
    default:
      return Number(above) || 0;
  }
}

function alertsPlan(alerts: Config['alerts']): AlertsPlan {
  if (alerts === undefined) return { notifiers: [], rules: [] };
  return {
    notifiers: alerts.notifiers.map((n) => ({
      name: n.name,
      type: n.type,
      url: n.url,
      format: n.format,
      owner: n.owner ?? null,
    })),
    rules: alerts.rules.map((r) => ({
      name: r.name,
      when: r.when,
      route: r.route ?? null,
      pool: r.pool ?? null,
      above: threshold(r.when, r.above),
      aboveText: r.above === undefined ? null : String(r.above),
      forMs: r.for === undefined ? 0 : parseDuration(r.for),
      windowMs: parseDuration(r.window),
      cooldownMs: parseDuration(r.cooldown),
      notify: r.notify,
    })),
  };
}

function fleetPlan(fleet: Config['fleet'], dataDir: string): FleetPlan | null {
  if (fleet === undefined) return null;
  // the same data dir on the same host is the same instance after a restart: its chain goes on
  const instance =
    fleet.instance ?? `${hostname()}-${createHash('sha256').update(dataDir).digest('hex').slice(0, 8)}`;
  return {
    instance,
    etcd:
      fleet.etcd === undefined
        ? null
        : {
            endpoints: fleet.etcd.endpoints,
            prefix: fleet.etcd.prefix,
            leaseTtlS: Math.max(2, Math.ceil(parseDuration(fleet.etcd.lease_ttl) / 1000)),
          },
    redis:
      fleet.redis === undefined
        ? null
        : { url: fleet.redis.url, timeoutMs: parseDuration(fleet.redis.timeout) },
  };
}
