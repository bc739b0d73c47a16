/**
 * The admin API's answers and the record formats, as the server writes them and the dashboard
 * (`web/`) reads them: one definition for both. This file imports nothing, so web/ can import it
 * type-only without pulling Node types into the browser build; the server's modules take their
 * wire types from here (audit's records and health, the alerts, the top clients).
 */

export type ApiRole = 'viewer' | 'operator' | 'admin';

/** `{"items": [...], "next": CURSOR|null}` (SPEC §6). */
export interface Page<T> {
  items: T[];
  next: string | null;
}

/** An error answer: a machine code and a sentence a person can act on. */
export interface ApiErrorBody {
  error: string;
  message: string;
}

/** `GET /api/v1/whoami`. */
export interface Whoami {
  name: string;
  /** What the token may do now: its own role, or a live elevation above it. */
  role: ApiRole;
  /** The token's own role. */
  base_role: ApiRole;
  elevation: { role: ApiRole; reason: string; expires: string } | null;
  /** What the role allows, so a page can decide which buttons exist. */
  can: { drain: boolean; silence: boolean; elevate: boolean; config: boolean; tokens: boolean };
  instance: string;
}

/** `GET /api/v1/status`. */
export interface StatusView {
  instance: string;
  version: string;
  started: string;
  uptime_s: number;
  config: { source: string };
  listeners: { name: string; address: string; port: number; tls: boolean }[];
  /** `workers` > 1: one entry per worker process (requests it served since it started); null for one process. */
  workers: { id: number; pid: number | null; requests: number; connections: number }[] | null;
  routes: number;
  pools: number;
  inflight: number;
  audit: AuditHealthView;
}

/** `GET /api/v1/pools` items. */
export interface PoolView {
  name: string;
  algorithm: string;
  backends: number;
  ready: number;
  health_check: boolean;
  max_connections: number | null;
}

/** `GET /api/v1/pools/{pool}/backends` items. */
export interface BackendView {
  name: string;
  address: string;
  weight: number;
  healthy: boolean | null;
  draining: boolean | null;
  ejected: boolean | null;
  ready: boolean | null;
  inflight: number;
  ewma_ms: number | null;
  consecutive_failures: number;
  last_check_error: string | null;
  slow: boolean;
}

/** The audit pipeline's state (`GET /api/v1/audit/health` adds `chain`). */
export interface AuditHealthView {
  state: 'starting' | 'ok' | 'failing' | 'stopped';
  reason: string | null;
  /** Records handed to the pipeline and not yet committed. */
  queued: number;
  /** Records that could not be kept (must stay 0). */
  lost: number;
  /** Records committed since start. */
  committed: number;
  lastSeq: number;
  /** Per sink: records committed but not yet shipped. */
  lag: Record<string, number>;
  /** Per network sink: records it delivered since the start. */
  shipped: Record<string, number>;
  sinkErrors: Record<string, string>;
}

/** How far the running process has re-verified its own chain (see docs/dashboard.md). */
export interface ChainProgressView {
  /** False when the data dir has no chain key (chain disabled). */
  enabled: boolean;
  ok: boolean;
  /** The last complete pass recomputed every record up to this seq (null: no pass finished yet). */
  verified_seq: number | null;
  /** When that pass ended (ISO 8601). */
  verified_at: string | null;
  /** How far the pass under way has got (null between passes). */
  checking_seq: number | null;
  /** The newest seq in the store. */
  head_seq: number | null;
  /** Signed checkpoints the last complete pass checked. */
  checkpoints_checked: number;
  last_checkpoint: { seq: number; at: string } | null;
  problem: string | null;
  first_bad_seq: number | null;
}

/** `GET /api/v1/fleet`: the instances (live etcd leases), or this one alone outside fleet mode. */
export interface FleetAnswer {
  fleet: boolean;
  self: string;
  config_revision: number | null;
  etcd?: 'up' | 'down' | 'off';
  items: {
    instance: string;
    pid: number;
    applied_revision: number | null;
    config_error: string | null;
    health: 'ok' | 'degraded';
    current: boolean;
    started_at: string;
    redis?: 'up' | 'down' | 'off';
    admin?: string | null;
    listeners?: string[];
  }[];
  next: null;
}

/** `GET /api/v1/review` (schema tollgate.review/1): the running config and state against the baseline. */
export interface ReviewAnswer {
  schema: 'tollgate.review/1';
  at: string;
  baseline: { name: string; file: string };
  config: string;
  passed: number;
  failed: number;
  checks: {
    id:
      | 'chain'
      | 'redaction'
      | 'off_machine'
      | 'retention'
      | 'alerts'
      | 'admin_transport'
      | 'token_lifetime'
      | 'clock'
      | 'verify'
      | 'canaries';
    status: 'pass' | 'fail' | 'skipped';
    requirement: string;
    reason: string;
  }[];
}

export interface AuditHealthAnswer extends AuditHealthView {
  /** Seconds each sink has been behind the store. */
  lag_seconds: Record<string, number>;
  chain: ChainProgressView;
}

/** `GET /api/v1/stats`: time series from the in-process metrics history. */
export interface StatsView {
  window_s: number;
  step_s: number;
  /** When the history begins (the process start): older points do not exist. */
  since: string;
  /** Bucket start times, epoch seconds, ascending. */
  t: number[];
  /** Requests completed per second in each bucket. */
  rps: number[];
  /** Requests per second by status class (`none`: no status was sent). */
  by_class: Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'none', number[]>;
  /** Latency quantiles in ms from the duration histogram; null where a bucket had no requests. */
  p50_ms: (number | null)[];
  p99_ms: (number | null)[];
  /** Totals over the window. */
  requests: number;
}

/** `GET /api/v1/errors` items: requests that failed, grouped. */
export interface ErrorGroup {
  route: string | null;
  backend: string | null;
  termination: string;
  count: number;
  statuses: number[];
  first: string;
  last: string;
  samples: {
    request_id: string;
    status: number;
    at: string;
    message: string | null;
  }[];
}

export interface ErrorGroupsView {
  since: string;
  until: string;
  /** Failed requests in the window (all groups, including those past the limit). */
  total: number;
  items: ErrorGroup[];
  next: null;
}

/** `GET /api/v1/clients/top`. */
export interface TopClientView {
  key: string;
  /** Upper bound of the requests in the window: `requests − error_bound ≤ true ≤ requests`. */
  requests: number;
  /** Errors counted while the key held a counter: exact when error_bound is 0, else a lower bound. */
  errors: number;
  /** Bytes counted while the key held a counter: exact when error_bound is 0, else a lower bound. */
  bytes: number;
  error_bound: number;
}

export interface TopClientsAnswer extends Page<TopClientView> {
  window: string;
  by: 'client_ip' | 'user';
}

/** `GET /api/v1/alerts` items (`tollgate.alert/1`). */
export interface AlertItem {
  schema: 'tollgate.alert/1';
  id: string;
  status: 'pending' | 'firing' | 'resolved';
  rule: string;
  when: string;
  key: string;
  summary: string;
  value: number;
  value_text: string;
  threshold: string | null;
  window: string;
  for: string;
  route: string | null;
  pool: string | null;
  backend: string | null;
  client: string | null;
  owner: string | null;
  started_at: string;
  fired_at: string | null;
  resolved_at: string | null;
  silenced_until: string | null;
  top_clients: readonly { key: string; requests: number; errors: number; bytes: number }[];
  samples: readonly {
    request_id: string;
    status: number;
    termination: string;
    backend: string | null;
    duration_ms: number;
    client: string;
    error: string | null;
    explain: string;
    url: string | null;
  }[];
  errors: readonly string[];
  instance: string;
}

export interface AttemptView {
  backend: string;
  address: string;
  start: string;
  connect_ms: number | null;
  duration_ms: number | null;
  status_code: number | null;
  termination: string;
  error: string | null;
}

/** A `tollgate.request/1` record (SPEC §3), as `GET /api/v1/requests` and the stream send it. */
export interface RequestRecordView {
  schema: 'tollgate.request/1';
  '@timestamp': string;
  event: { start: string; end: string; duration: number };
  http: {
    request: { id: string; method: string; header: Record<string, string>; body: { size: number } };
    response: { status_code: number; body: { size: number } };
  };
  trace: { id: string };
  span: { id: string };
  client: { address: string; port: number | null };
  network: { peer: { address: string; port: number | null } };
  user_agent: { original: string | null };
  url: { path: string; query: string | null };
  server: { address: string | null; port: number | null };
  tls: { protocol: { version: string | null }; cipher: string | null; server_name: string | null };
  user: { name: string | null };
  error: { type: string | null; message: string | null };
  tollgate: {
    identity: { method: string };
    listener: string;
    route: string | null;
    pool: string | null;
    owner: string | null;
    tags: Record<string, string> | null;
    backend: { name: string | null; address: string | null };
    upstream: { status_code: number | null };
    timings: {
      queue: number | null;
      connect: number | null;
      upstream_headers: number | null;
      upstream_total: number | null;
    };
    attempts: AttemptView[];
    termination: string;
    upgrade: boolean;
    /** Tollgate's own canary request (audit.canary). */
    canary: boolean;
    instance: string;
    chain: { seq: number | null; hash: string | null };
  };
}

/** One `{path, kind, before, after}` entry of `tollgate.diff`. */
export interface DiffEntry {
  path: string;
  kind: 'added' | 'removed' | 'changed' | 'reordered' | string;
  before?: unknown;
  after?: unknown;
}

/** A `tollgate.admin/1` record: who did what, from where, with what result. */
export interface AdminRecordView {
  schema: 'tollgate.admin/1';
  '@timestamp': string;
  event: { id: string; action: string; outcome: 'success' | 'failure'; reason: string | null };
  user: { name: string; roles: string[] };
  source: { address: string | null };
  http: { request: { method: string | null } };
  url: { path: string | null };
  tollgate: {
    diff: unknown;
    labels: Record<string, string | number | boolean | null>;
    instance: string;
    chain: { seq: number | null; hash: string | null };
  };
}
