/**
 * The review report (`tollgate report --format json`, schema `tollgate.report/1`): plain data,
 * snake_case like the records, documented field by field in docs/report.md. Times are ISO 8601
 * UTC strings, durations milliseconds (3 decimals), sizes bytes. Lists are sorted as documented
 * so two reports of the same window compare line by line.
 */
export const REPORT_SCHEMA = 'tollgate.report/1';

/** Quantiles within 1% (see histogram.ts); null when there was nothing to measure. */
export interface Durations {
  p50_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
}

export interface StatusClasses {
  '1xx': number;
  '2xx': number;
  '3xx': number;
  '4xx': number;
  '5xx': number;
  other: number;
}

export interface Traffic {
  requests: number;
  status_classes: StatusClasses;
  /** Requests per termination code, largest first. */
  terminations: Record<string, number>;
  bytes_in: number;
  bytes_out: number;
  duration: Durations;
}

export interface RouteRow extends Durations {
  /** null: requests that matched no route. */
  route: string | null;
  requests: number;
  server_errors: number;
  /** server_errors / requests. */
  error_ratio: number;
  bytes_in: number;
  bytes_out: number;
}

export interface ErrorGroup {
  route: string | null;
  backend: string | null;
  termination: string;
  count: number;
  /** Requests per status code the client got. */
  statuses: Record<string, number>;
  first_seen: string;
  last_seen: string;
  /** Up to 3 request ids, newest first (each resolves with `tollgate explain`). */
  sample_request_ids: string[];
  /** The newest request of the group. */
  latest: { request_id: string | null; method: string | null; path: string | null; message: string | null };
}

export interface ClientRow {
  address: string | null;
  requests: number;
  client_errors: number;
  server_errors: number;
  bytes_in: number;
  bytes_out: number;
  last_seen: string | null;
  /** The user agent of the client's newest request. */
  user_agent: string | null;
}

export interface UserRow {
  user: string;
  requests: number;
  client_errors: number;
  server_errors: number;
  bytes_in: number;
  bytes_out: number;
  last_seen: string | null;
}

export interface BackendRow extends Durations {
  pool: string | null;
  backend: string;
  attempts: number;
  /** The median p99 of the pool's other backends with enough attempts; null without such peers. */
  peer_median_p99_ms: number | null;
  slow: boolean;
  /** Why it is or is not flagged, in words. */
  verdict: string;
}

export interface ActionRow {
  action: string;
  actor: string | null;
  success: number;
  failure: number;
  last_seen: string;
}

export interface ConfigChange {
  time: string;
  seq: number;
  actor: string | null;
  outcome: string;
  reason: string | null;
  /** Entries of `tollgate.diff` (0 for a refused reload). */
  changes: number;
  /** The first few changed paths, e.g. `pools["api"].backends["api-2"].weight`. */
  paths: string[];
}

export interface AuthRow {
  route: string | null;
  client: string | null;
  total: number;
  by_termination: { auth_failed: number; forbidden: number; rate_limited: number };
  first_seen: string | null;
  last_seen: string | null;
}

export interface RefusalRow {
  source: string | null;
  total: number;
  by_status: { '401': number; '403': number; '429': number };
  /** Token names (or `anonymous`) the refused calls came as, up to 5. */
  actors: string[];
  first_seen: string;
  last_seen: string;
}

export interface EventRow {
  time: string;
  seq: number;
  action: string;
  actor: string | null;
  outcome: string;
  reason: string | null;
  /** For alerts: `tollgate.labels.rule` (or `.name`) when the event carries one. */
  rule?: string | null;
}

export interface VerifySummary {
  ok: boolean;
  records: number;
  first_seq: number | null;
  last_seq: number | null;
  checkpoints: number;
  problem: string | null;
  first_bad_seq: number | null;
  /** Heartbeat gaps `verify` found (silences no clean stop explains). */
  heartbeat_gaps: number;
}

export interface AuditHealthReport {
  records_in_window: number;
  requests_in_window: number;
  admin_events_in_window: number;
  /** The chain's head (the retention anchor when every record was pruned). */
  last_seq: number | null;
  /** The oldest record kept (retention prunes from the start). */
  first_seq: number | null;
  anchor_seq: number | null;
  last_checkpoint: { seq: number; time: string; reason: string } | null;
  /** Records after the last signed checkpoint (or anchor). */
  unsigned_records: number;
  pipeline_events: { total: number; counts: Record<string, number>; latest: EventRow[] };
  /** `audit_records_lost` events in the window (the count lost is in tollgate_audit_records_lost_total). */
  lost_events: number;
  /** Sum of a `count` label on those events, when they carry one; else null. */
  lost_records: number | null;
  /** With --verify: the chain verification; else null. */
  verify: VerifySummary | null;
}

export interface Report {
  schema: typeof REPORT_SCHEMA;
  generated_at: string;
  window: { since: string; until: string };
  store: string;
  traffic: Traffic;
  routes: RouteRow[];
  error_groups: ErrorGroup[];
  /** overflowed: more distinct addresses or users than the sketch counts exactly (the rows shown are re-counted exactly). */
  top_clients: { by_address: ClientRow[]; by_user: UserRow[]; overflowed: boolean };
  slow_backends: {
    rule: { ratio: number; min_p99_ms: number; min_attempts: number };
    backends: BackendRow[];
  };
  admin: {
    events: number;
    actions: ActionRow[];
    config_changes: ConfigChange[];
    config_changes_total: number;
  };
  auth_failures: {
    requests: AuthRow[];
    requests_total: number;
    admin_refusals: RefusalRow[];
    admin_refusals_total: number;
  };
  alerts: { total: number; counts: Record<string, number>; latest: EventRow[] };
  audit: AuditHealthReport;
  /** `tollgate review` of the config the report was made with (`-c FILE`); null without one. */
  review: ReviewSection | null;
}

/** The compliance review (schema tollgate.review/1, trimmed): each check with its verdict. */
export interface ReviewSection {
  baseline: { name: string; file: string };
  passed: number;
  failed: number;
  checks: { id: string; status: 'pass' | 'fail' | 'skipped'; requirement: string; reason: string }[];
}
