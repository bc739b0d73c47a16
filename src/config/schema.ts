import { z } from 'zod';
import { ATTEMPT_FAILURES, parseDuration, parseRate, parseSize } from '../core/index.js';
import { isHostName, parseAddress, parseSubnet } from './address.js';
import { describeValue } from './problem.js';

/**
 * The whole config file of SPEC §2 as one zod schema: the types, the defaults, the messages and
 * the JSON Schema for editors all come from here. Every mapping is strict (an unknown key is an
 * error). Durations, sizes and rates stay strings here; compile.ts turns them into numbers.
 * Nested mappings whose keys all have defaults use `.prefault({})` so those defaults apply.
 */

function unit(parse: (text: string) => number, expected: string, pattern: RegExp) {
  const message = (iss: { input?: unknown }) => `expected ${expected}, got ${describeValue(iss.input)}`;
  return z
    .string({ error: message })
    .refine((text) => parses(parse, text), { error: message })
    .meta({ description: expected, pattern: pattern.source });
}

function parses(parse: (text: string) => number, text: string): boolean {
  try {
    parse(text);
    return true;
  } catch {
    return false;
  }
}

const duration = unit(parseDuration, 'a duration like 500ms or 2s', /^\s*\d+(\.\d+)?(ms|s|m|h|d)\s*$/);
const size = unit(
  parseSize,
  'a size like 64kb or 1mb',
  /^\s*\d+(\.\d+)?([bB]|[kK][bB]|[mM][bB]|[gG][bB])?\s*$/,
);
const rate = unit(parseRate, 'a rate like 100/s or 10/m', /^\s*\d+(\.\d+)?\/(s|m|h)\s*$/);

function address(allowZero: boolean) {
  const check = (text: string) => parseAddress(text, allowZero);
  return z
    .string()
    .refine((text) => typeof check(text) !== 'string', { error: (iss) => String(check(String(iss.input))) })
    .meta({ description: `host:port or [v6]:port${allowZero ? ' (port 0 picks a free port)' : ''}` });
}

/** An integer in a range; `what` names it in the message ("weight must be between 1 and 256"). */
function intIn(what: string, min: number, max: number) {
  const message = `${what} must be between ${min} and ${max}`;
  return z.int().min(min, { error: message }).max(max, { error: message });
}

const atLeast = (min: number) => z.int().min(min);

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
  error: (iss) => `names use letters, digits, ".", "_" and "-" (like api-1), got ${describeValue(iss.input)}`,
});

const filePath = z.string().min(1, { error: 'a file path may not be empty' });

const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, {
  error: (iss) => `${describeValue(iss.input)} is not a header name`,
});

const httpUrl = z.url({
  protocol: /^https?$/,
  error: (iss) => `expected an http(s) URL, got ${describeValue(iss.input)}`,
});

const subnet = z.string().refine((text) => typeof parseSubnet(text) !== 'string', {
  error: (iss) => String(parseSubnet(String(iss.input))),
});

const routeHost = z.string().refine((text) => isHostName(text.startsWith('*.') ? text.slice(2) : text), {
  error: (iss) =>
    `expected a host name like api.example.com or *.example.com, got ${describeValue(iss.input)}`,
});

const tls = z.strictObject({ cert: filePath, key: filePath, client_ca: filePath.optional() });

const limits = z
  .strictObject({
    max_header_bytes: size.default('16kb'),
    headers_timeout: duration.default('10s'),
    request_timeout: duration.default('60s'),
    send_timeout: duration.default('60s'),
    max_connections_per_ip: atLeast(1).default(256),
  })
  .prefault({});

const listener = z.strictObject({
  name,
  address: address(true),
  tls: tls.optional(),
  trusted_proxies: z.array(subnet).default([]),
  limits,
});

const jwtAuth = z.strictObject({
  type: z.literal('jwt'),
  required: z.boolean().default(true),
  jwks_file: filePath.optional(),
  jwks_url: httpUrl.optional(),
  issuer: z.string().optional(),
  audience: z.union([z.string(), z.array(z.string())]).optional(),
  clock_skew: duration.default('30s'),
  user_claim: z.string().default('sub'),
});
const apiKeyAuth = z.strictObject({
  type: z.literal('api_key'),
  required: z.boolean().default(true),
  header: headerName.default('x-api-key'),
  keys_file: filePath,
});
const mtlsAuth = z.strictObject({
  type: z.literal('mtls'),
  user_from: z.enum(['subject_cn', 'san_email', 'san_dns']).default('subject_cn'),
});

const route = z.strictObject({
  name,
  match: z
    .strictObject({
      host: routeHost.optional(),
      path_prefix: z.string().regex(/^\//, { error: 'path_prefix must start with "/"' }).optional(),
      methods: z.array(headerName).min(1).optional(),
    })
    .prefault({}),
  pool: name,
  owner: z.string().optional(),
  tags: z
    .record(
      z.string(),
      z.union([z.string(), z.number(), z.boolean()], {
        error: (iss) => `tag values are text, numbers or true/false, got ${describeValue(iss.input)}`,
      }),
    )
    .optional(),
  auth: z.discriminatedUnion('type', [jwtAuth, apiKeyAuth, mtlsAuth]).optional(),
  rate_limit: z
    .strictObject({
      per: z.enum(['client_ip', 'user']).default('client_ip'),
      rate,
      burst: atLeast(1).optional(),
    })
    .optional(),
});

export const ALGORITHMS = [
  'round_robin',
  'weighted_round_robin',
  'least_connections',
  'p2c_ewma',
  'consistent_hash',
] as const;

export const RETRY_NAMES = ['connect_failure', 'reset', ...ATTEMPT_FAILURES] as const;

const retryReason = z.union([z.enum(RETRY_NAMES), intIn('status', 100, 599)], {
  error: (iss) =>
    `expected connect_failure, reset, an upstream_* termination or a status like 503, got ${describeValue(iss.input)}`,
});

const backend = z.strictObject({ name, address: address(false), weight: intIn('weight', 1, 256).default(1) });

const pool = z.strictObject({
  name,
  algorithm: z.enum(ALGORITHMS).default('round_robin'),
  hash_key: z
    .string()
    .regex(/^(client_ip|header:[!#$%&'*+.^_`|~0-9A-Za-z-]+|cookie:[^\s=;,]+)$/, {
      error: (iss) => `expected client_ip, header:NAME or cookie:NAME, got ${describeValue(iss.input)}`,
    })
    .optional(),
  sticky: z
    .strictObject({
      cookie: z
        .string()
        .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/)
        .default('tg_sticky'),
    })
    .optional(),
  backends: z.array(backend).min(1, { error: 'a pool needs at least one backend' }),
  health_check: z
    .strictObject({
      path: z.string().regex(/^\//, { error: 'path must start with "/"' }).default('/healthz'),
      interval: duration.default('2s'),
      timeout: duration.default('1s'),
      healthy_threshold: atLeast(1).default(2),
      unhealthy_threshold: atLeast(1).default(3),
    })
    .optional(),
  outlier_detection: z
    .strictObject({ consecutive_failures: atLeast(1).default(5), ejection_time: duration.default('30s') })
    .optional(),
  retries: z
    .strictObject({
      attempts: atLeast(0).default(1),
      on: z.array(retryReason).default(['connect_failure']),
      budget_percent: z.number().min(0).max(100).default(20),
    })
    .prefault({}),
  timeouts: z
    .strictObject({
      connect: duration.default('2s'),
      response_header: duration.default('30s'),
      idle: duration.default('60s'),
    })
    .prefault({}),
  max_connections: atLeast(1).default(1024),
});

const sink = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('jsonl'),
    path: filePath,
    rotate: size.optional(),
    keep: atLeast(1).optional(),
  }),
  z.strictObject({ type: z.literal('combined'), path: filePath }),
  z.strictObject({ type: z.literal('stdout') }),
  z.strictObject({
    type: z.literal('syslog'),
    address: address(false),
    protocol: z.enum(['tcp', 'udp', 'tls']).default('tcp'),
    format: z.literal('rfc5424').default('rfc5424'),
    /** Syslog facility number (RFC 5424 §6.2.1); 16 is local0. */
    facility: z.int().min(0).max(23).default(16),
    app_name: z
      .string()
      .regex(/^[!-~]{1,48}$/, { error: 'an APP-NAME is 1-48 printable ASCII characters' })
      .default('tollgate'),
    /** protocol tls: the CA that signed the receiver's certificate (else the system's), and the name to check. */
    tls: z.strictObject({ ca: filePath.optional(), server_name: z.string().optional() }).optional(),
  }),
  z.strictObject({
    type: z.literal('otlp'),
    endpoint: httpUrl,
    protocol: z.enum(['json', 'protobuf']).default('json'),
  }),
  z.strictObject({
    type: z.literal('postgres'),
    url: z.string().regex(/^postgres(ql)?:\/\//, { error: 'expected a postgres:// URL' }),
    /** The records table (partitioned by day); created when missing. */
    table: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: 'a table name is lower-case letters, digits and _' })
      .default('tollgate_records'),
  }),
]);

const audit = z
  .strictObject({
    store: z
      .strictObject({
        type: z.literal('sqlite').default('sqlite'),
        path: filePath.default('audit.db'),
        retention: duration.default('30d'),
      })
      .prefault({}),
    sinks: z.array(sink).default([]),
    capture_headers: z.array(headerName).default(['user-agent', 'referer', 'x-request-id']),
    redact: z
      .strictObject({
        headers: z
          .array(headerName)
          .default(['authorization', 'cookie', 'set-cookie', 'proxy-authorization']),
        query_params: z.array(z.string().min(1)).default(['token', 'password', 'key', 'access_token']),
      })
      .prefault({}),
    on_failure: z.enum(['fail_open', 'fail_closed']).default('fail_open'),
    durability: z.enum(['batched', 'strict']).default('batched'),
    max_queue: atLeast(1).default(100_000),
    chain: z
      .strictObject({
        enabled: z.boolean().default(true),
        checkpoint_interval: duration.default('60s'),
        /** How often the running process re-verifies the whole chain (0s: never; `tollgate verify` still can). */
        verify_interval: duration.default('1h'),
      })
      .prefault({}),
    /** The writer appends an `audit_heartbeat` event this often (0s: off); `verify` reports longer silences. */
    heartbeat: duration.default('60s'),
    /** Synthetic requests through Tollgate's own listener, confirmed in the store and every sink. Off when absent. */
    canary: z
      .strictObject({
        interval: duration.default('60s'),
        deadline: duration.default('10s'),
        /** The listener the canary goes through (default: the first). */
        listener: name.optional(),
      })
      .optional(),
  })
  .prefault({});

const review = z.strictObject({
  /** The baseline `tollgate review` checks against (default: the shipped PCI DSS v4 requirement 10 mapping). */
  baseline: filePath.optional(),
});

const admin = z.strictObject({
  address: address(true).default('127.0.0.1:9090'),
  tls: tls.optional(),
  lockout: z.strictObject({ failures: atLeast(1).default(5), window: duration.default('5m') }).prefault({}),
  metrics_public: z.boolean().default(false),
});

export const RULE_KINDS = [
  'error_rate',
  'client_rate',
  'latency_p99',
  'auth_failures',
  'audit_lag',
  'backend_down',
  'config_changed',
  'audit_lost',
  'audit_canary',
  'fleet_degraded',
] as const;

const alerts = z.strictObject({
  notifiers: z
    .array(
      z.strictObject({
        name,
        type: z.enum(['webhook', 'alertmanager']),
        url: httpUrl,
        /** webhook body: Tollgate's JSON, or a Slack-compatible `{"text": …}`. */
        format: z.enum(['json', 'slack']).default('json'),
        /** Alerts about routes with this owner also go here. */
        owner: z.string().optional(),
      }),
    )
    .default([]),
  rules: z
    .array(
      z.strictObject({
        name,
        when: z.enum(RULE_KINDS),
        route: name.optional(),
        pool: name.optional(),
        above: z.union([z.string(), z.number()]).optional(),
        for: duration.optional(),
        /** How far back the value is computed (error ratio, rates, p99). */
        window: duration.default('1m'),
        /** After a resolution, the same alert does not fire again for this long. */
        cooldown: duration.default('1m'),
        notify: z.array(name).default([]),
      }),
    )
    .default([]),
});

const fleet = z.strictObject({
  /** This instance's name on its records and in etcd (default: host name + a hash of data_dir, stable across restarts). */
  instance: name.optional(),
  /** Shared config and membership (docs/fleet.md). */
  etcd: z
    .strictObject({
      endpoints: z.array(httpUrl).min(1),
      prefix: z
        .string()
        .regex(/^\/.*\/$/, { error: 'the prefix starts and ends with "/", like /tollgate/' })
        .default('/tollgate/'),
      /** An instance whose lease is not renewed for this long drops out of GET /api/v1/fleet. */
      lease_ttl: duration.default('10s'),
    })
    .optional(),
  /** Fleet-wide rate-limit buckets. */
  redis: z
    .strictObject({
      url: z.string().regex(/^rediss?:\/\//, { error: 'expected a redis:// URL' }),
      /** How long a Redis call may take before the instance counts Redis as down and limits locally. */
      timeout: duration.default('500ms'),
    })
    .optional(),
});

export const configSchema = z
  .strictObject({
    data_dir: filePath.default('./tollgate-data'),
    workers: z
      .union([z.int().min(1, { error: 'workers must be at least 1 (or auto)' }), z.literal('auto')], {
        error: (iss) =>
          `workers must be a whole number of at least 1, or auto; got ${describeValue(iss.input)}`,
      })
      .default(1),
    listeners: z.array(listener).min(1, { error: 'at least one listener is needed' }),
    routes: z.array(route).default([]),
    pools: z.array(pool).default([]),
    audit,
    admin: admin.optional(),
    alerts: alerts.optional(),
    fleet: fleet.optional(),
    review: review.optional(),
  })
  .meta({ title: 'Tollgate config', description: 'The Tollgate load balancer config file (SPEC §2).' });

/** The config after validation, defaults applied; durations and sizes are still strings. */
export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
