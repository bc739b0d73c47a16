import type { BlockList } from 'node:net';
import type { AttemptFailure } from '../core/index.js';

/**
 * The immutable runtime plan compiled from a validated config (DESIGN rule 2). Everything the
 * hot path looks up is precomputed here: lower-cased hosts, method sets, parsed durations in ms,
 * sizes in bytes, TLS material read from disk. A failed compile throws and changes nothing.
 */
export interface RuntimePlan {
  /** Absolute path of the config file, or '<inline>' / '<demo>'. */
  readonly source: string;
  /** Absolute data directory. */
  readonly dataDir: string;
  /** 1 or more; `auto` is resolved to the number of cores at compile time. */
  readonly workers: number;
  readonly listeners: readonly ListenerPlan[];
  /** In config order; first match wins. */
  readonly routes: readonly RoutePlan[];
  readonly pools: ReadonlyMap<string, PoolPlan>;
  readonly audit: AuditPlan;
  readonly admin: AdminPlan | null;
  /** Empty when the config has no `alerts:`. */
  readonly alerts: AlertsPlan;
  /** `fleet:`; null for a single instance. */
  readonly fleet: FleetPlan | null;
  /** `review.baseline` as an absolute path; null: the shipped PCI DSS v4 baseline. */
  readonly reviewBaseline: string | null;
  /** The validated config as plain data (defaults applied), for diffs and `GET /api/v1/config`. */
  readonly config: unknown;
  /** The config text it was compiled from. */
  readonly text: string;
}

export interface ListenerLimits {
  readonly maxHeaderBytes: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** A client that reads none of a response for this long is cut (client_timeout). */
  readonly sendTimeoutMs: number;
  readonly maxConnectionsPerIp: number;
}

export interface TlsPlan {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly clientCa: Buffer | null;
}

export interface ListenerPlan {
  readonly name: string;
  /** Host part without brackets ("127.0.0.1", "::1", "0.0.0.0"). */
  readonly host: string;
  readonly port: number;
  readonly tls: TlsPlan | null;
  /** Peers whose X-Forwarded-For / Forwarded / X-Request-Id are believed; null when none. */
  readonly trustedProxies: BlockList | null;
  readonly limits: ListenerLimits;
}

export interface RoutePlan {
  readonly name: string;
  /** Lower-case host to match exactly, or `*.example.com` for a suffix match; null matches any. */
  readonly host: string | null;
  readonly pathPrefix: string | null;
  /** Upper-case methods; null matches any. */
  readonly methods: ReadonlySet<string> | null;
  readonly pool: string;
  readonly owner: string | null;
  readonly tags: Readonly<Record<string, string>> | null;
  /** Who may use the route (admit phase); null: everyone, anonymously. */
  readonly auth: AuthPlan | null;
  /** Token bucket per client IP or user (admit phase, after auth); null: no limit. */
  readonly rateLimit: RateLimitPlan | null;
}

export type AuthPlan = ApiKeyAuthPlan | JwtAuthPlan | MtlsAuthPlan;

/** One entry of an API-key file: the name recorded as `user.name` and the SHA-256 of the key. */
export interface ApiKeyEntry {
  readonly name: string;
  /** 32 bytes. */
  readonly sha256: Buffer;
}

export interface ApiKeyAuthPlan {
  readonly type: 'api_key';
  /** false: a request without the header passes as anonymous (a wrong key is still refused). */
  readonly required: boolean;
  /** Lower-case header name. */
  readonly header: string;
  /** Absolute path of the keys file (read at compile time). */
  readonly keysFile: string;
  readonly keys: readonly ApiKeyEntry[];
}

/** A JSON Web Key Set as read from a file and checked at compile time (public RSA, EC or OKP keys). */
export interface JwksDocument {
  readonly keys: readonly Readonly<Record<string, unknown>>[];
}

export interface JwtAuthPlan {
  readonly type: 'jwt';
  /** false: a request without a Bearer token passes as anonymous (an invalid token is still refused). */
  readonly required: boolean;
  /** The keys of `jwks_file`, or null when they come from `jwksUrl`. */
  readonly jwks: JwksDocument | null;
  /** Absolute path of `jwks_file`, for messages; null with `jwksUrl`. */
  readonly jwksFile: string | null;
  readonly jwksUrl: string | null;
  /** Expected `iss`; null: not checked. */
  readonly issuer: string | null;
  /** Accepted `aud` values (one must be in the token); null: not checked. */
  readonly audience: readonly string[] | null;
  readonly clockSkewMs: number;
  /** The claim whose value becomes `user.name`. */
  readonly userClaim: string;
}

export type MtlsUserField = 'subject_cn' | 'san_email' | 'san_dns';

export interface MtlsAuthPlan {
  readonly type: 'mtls';
  readonly userFrom: MtlsUserField;
}

export interface RateLimitPlan {
  /** Whose bucket a request takes from; `user` falls back to the client IP for anonymous requests. */
  readonly per: 'client_ip' | 'user';
  /** Tokens added per second. */
  readonly ratePerSecond: number;
  /** Bucket size: requests a quiet key may send at once. */
  readonly burst: number;
  /** The rate as written (`100/s`), for messages. */
  readonly rateText: string;
}

export type Algorithm =
  | 'round_robin'
  | 'weighted_round_robin'
  | 'least_connections'
  | 'p2c_ewma'
  | 'consistent_hash';

export type HashKey =
  | { readonly kind: 'client_ip' }
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'cookie'; readonly name: string };

export interface BackendPlan {
  readonly name: string;
  /** "127.0.0.1:9001" or "[::1]:9001" as written. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
}

export interface HealthCheckPlan {
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
}

export interface OutlierPlan {
  readonly consecutiveFailures: number;
  readonly ejectionTimeMs: number;
}

/** A reason `retries.on` may name: an attempt failure, or an upstream status code. */
export type RetryReason = AttemptFailure | 'connect_failure' | 'reset' | number;

export interface RetryPlan {
  /** Tries after the first. */
  readonly attempts: number;
  /** Attempt failures that may be retried (connect failures are expanded to their codes). */
  readonly onFailures: ReadonlySet<AttemptFailure>;
  /** Upstream statuses that may be retried (only before any response byte reached the client). */
  readonly onStatuses: ReadonlySet<number>;
  /** Retries may not exceed this fraction of the pool's active requests (at least 3 concurrent retries are always allowed). */
  readonly budget: number;
}

export interface TimeoutPlan {
  readonly connectMs: number;
  readonly responseHeaderMs: number;
  readonly idleMs: number;
}

export interface PoolPlan {
  readonly name: string;
  readonly algorithm: Algorithm;
  readonly hashKey: HashKey | null;
  readonly sticky: { readonly cookie: string } | null;
  readonly backends: readonly BackendPlan[];
  readonly healthCheck: HealthCheckPlan | null;
  readonly outlier: OutlierPlan | null;
  readonly retries: RetryPlan;
  readonly timeouts: TimeoutPlan;
  readonly maxConnections: number;
}

export interface SinkPlan {
  readonly type: 'jsonl' | 'combined' | 'stdout' | 'syslog' | 'otlp' | 'postgres';
  /**
   * The sink's settings as validated (paths already absolute). jsonl also gets `rotateBytes`
   * (number | null) parsed from `rotate`.
   */
  readonly options: Readonly<Record<string, unknown>>;
}

export interface AuditPlan {
  readonly storePath: string;
  readonly retentionMs: number;
  readonly sinks: readonly SinkPlan[];
  /** Lower-case header names to copy into `http.request.header`. */
  readonly captureHeaders: readonly string[];
  /** Lower-case header names. */
  readonly redactHeaders: ReadonlySet<string>;
  /** Lower-case parameter names: compare with the lower-cased name so `Token=` is redacted too. */
  readonly redactQueryParams: ReadonlySet<string>;
  readonly onFailure: 'fail_open' | 'fail_closed';
  readonly durability: 'batched' | 'strict';
  /** Records not yet committed above which new requests are pushed back (and, under fail_open while the store fails, records are lost). */
  readonly maxQueue: number;
  readonly chain: {
    readonly enabled: boolean;
    readonly checkpointIntervalMs: number;
    /** 0: the running process does not re-verify the chain by itself. */
    readonly verifyIntervalMs: number;
  };
  /** 0: no heartbeat events. */
  readonly heartbeatMs: number;
  /** Null: no canaries. `listener` is the listener's name. */
  readonly canary: {
    readonly intervalMs: number;
    readonly deadlineMs: number;
    readonly listener: string;
  } | null;
}

export interface AdminPlan {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsPlan | null;
  readonly lockout: { readonly failures: number; readonly windowMs: number };
  /** `admin.metrics_public`: GET /metrics answers without a token. */
  readonly metricsPublic: boolean;
}

export type RuleKind =
  | 'error_rate'
  | 'client_rate'
  | 'latency_p99'
  | 'auth_failures'
  | 'audit_lag'
  | 'backend_down'
  | 'config_changed'
  | 'audit_lost'
  | 'audit_canary'
  | 'fleet_degraded';

export interface NotifierPlan {
  readonly name: string;
  readonly type: 'webhook' | 'alertmanager';
  readonly url: string;
  readonly format: 'json' | 'slack';
  readonly owner: string | null;
}

export interface RulePlan {
  readonly name: string;
  readonly when: RuleKind;
  readonly route: string | null;
  readonly pool: string | null;
  /**
   * The threshold in the rule's unit: a fraction for error_rate (5% → 0.05), per second for
   * client_rate and auth_failures, milliseconds for latency_p99 and audit_lag; 0 for the kinds
   * without one (backend_down, config_changed, audit_lost).
   */
  readonly above: number;
  /** The text it was written as ("5%", "200/s"), for messages. */
  readonly aboveText: string | null;
  readonly forMs: number;
  readonly windowMs: number;
  readonly cooldownMs: number;
  readonly notify: readonly string[];
}

export interface AlertsPlan {
  readonly notifiers: readonly NotifierPlan[];
  readonly rules: readonly RulePlan[];
}

export interface FleetPlan {
  /** This instance's name: `tollgate.instance` on its records, its key in etcd. */
  readonly instance: string;
  readonly etcd: {
    readonly endpoints: readonly string[];
    readonly prefix: string;
    readonly leaseTtlS: number;
  } | null;
  readonly redis: { readonly url: string; readonly timeoutMs: number } | null;
}
