import type { RequestTotals, Store } from '../../store/index.js';
import { verifyChain } from '../verify.js';
import type { ListedEvent } from './admin-pass.js';
import { AdminPass, diffSummary } from './admin-pass.js';
import type { DurationHistogram } from './histogram.js';
import type { AuthStats, ClientStats } from './request-pass.js';
import { AUTH_TERMINATIONS, RequestPass } from './request-pass.js';
import type { Counter } from './top-k.js';
import type {
  AuditHealthReport,
  AuthRow,
  BackendRow,
  ClientRow,
  Durations,
  ErrorGroup,
  EventRow,
  Report,
  RouteRow,
  UserRow,
} from './types.js';
import { REPORT_SCHEMA } from './types.js';

export interface ReportOptions {
  /** The window, epoch ms: [since, until). */
  since: number;
  until: number;
  /** When the report is made (epoch ms); defaults to Date.now(). */
  now?: number;
  /** Rows in the top-client and top-user lists (default 10; auth failure lists show twice as many). */
  top?: number;
  /** Run the chain verification too (`--verify`). */
  verify?: { publicKeyPem: string; checkpointsFile: string | null } | null;
}

/**
 * The slow-backend rule (docs/report.md): a backend is slow when it has at least `min_attempts`
 * attempts in the window and its p99 attempt duration is above `min_p99_ms` and more than
 * `ratio` times the median p99 of the other backends of its pool that have enough attempts.
 */
export const SLOW_RULE = { ratio: 2, min_p99_ms: 100, min_attempts: 10 } as const;

const iso = (ts: number): string => new Date(ts).toISOString();
const isoOrNull = (ts: number): string | null => (Number.isFinite(ts) ? iso(ts) : null);
const round = (n: number | null): number | null => (n === null ? null : Math.round(n * 1000) / 1000);

function durations(h: DurationHistogram): Durations {
  return {
    p50_ms: round(h.quantile(0.5)),
    p99_ms: round(h.quantile(0.99)),
    max_ms: h.count === 0 ? null : round(h.max),
  };
}

/** Code-point order (not the locale's), so lists sort the same everywhere; null last. */
function cmp(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}

function byCountThenName<T>(count: (t: T) => number, name: (t: T) => string | null): (a: T, b: T) => number {
  return (a, b) => count(b) - count(a) || cmp(name(a), name(b));
}

/** The few record fields the report shows for a sample (any may be missing in a damaged record). */
interface Sampled {
  http?: { request?: { method?: string } };
  url?: { path?: string };
  error?: { message?: string | null };
  user_agent?: { original?: string | null };
}

function parse(text: string | undefined): Sampled | null {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as Sampled;
  } catch {
    return null;
  }
}

/** Builds the whole report from the store: two streaming passes, then a few lookups by index. */
export function buildReport(store: Store, o: ReportOptions): Report {
  const { since, until } = o;
  const top = o.top ?? 10;
  const req = new RequestPass().run(store, since, until);
  const adm = new AdminPass().run(store, since, until);

  const routes: RouteRow[] = [...req.routes].map(([route, r]) => ({
    route,
    requests: r.requests,
    server_errors: r.serverErrors,
    error_ratio: round(r.requests === 0 ? 0 : r.serverErrors / r.requests)!,
    ...durations(r.durations),
    bytes_in: r.bytesIn,
    bytes_out: r.bytesOut,
  }));
  routes.sort(
    byCountThenName(
      (r) => r.requests,
      (r) => r.route,
    ),
  );

  return {
    schema: REPORT_SCHEMA,
    generated_at: iso(o.now ?? Date.now()),
    window: { since: iso(since), until: iso(until) },
    store: store.file,
    traffic: {
      requests: req.requests,
      status_classes: { ...req.classes },
      terminations: Object.fromEntries(
        [...req.terminations].sort(
          byCountThenName(
            (t) => t[1],
            (t) => t[0],
          ),
        ),
      ),
      bytes_in: req.bytesIn,
      bytes_out: req.bytesOut,
      duration: durations(req.durations),
    },
    routes,
    error_groups: errorGroups(store, req),
    top_clients: {
      by_address: topClients(store, req, since, until, top),
      by_user: topUsers(store, req, since, until, top),
      overflowed: req.clients.overflowed || req.users.overflowed,
    },
    slow_backends: { rule: { ...SLOW_RULE }, backends: slowBackends(req) },
    admin: {
      events: adm.events,
      actions: [...adm.actions]
        .flatMap(([action, byActor]) =>
          [...byActor].map(([actor, a]) => ({
            action,
            actor,
            success: a.success,
            failure: a.failure,
            last_seen: iso(a.lastTs),
          })),
        )
        .sort(
          byCountThenName(
            (a) => a.success + a.failure,
            (a) => `${a.action} ${a.actor ?? ''}`,
          ),
        ),
      config_changes: adm.configChanges.items().map((e) => ({
        time: iso(e.ts),
        seq: e.seq,
        actor: e.actor,
        outcome: e.outcome,
        reason: e.reason,
        ...diffSummary(e.diff),
      })),
      config_changes_total: adm.configChanges.total,
    },
    auth_failures: {
      requests: authRows(store, req, since, until, 2 * top),
      requests_total: req.authTotal,
      admin_refusals: [...adm.refusals]
        .map(([source, r]) => ({
          source,
          total: r.total,
          by_status: { ...r.byStatus },
          actors: [...r.actors],
          first_seen: iso(r.firstTs),
          last_seen: iso(r.lastTs),
        }))
        .sort(
          byCountThenName(
            (r) => r.total,
            (r) => r.source,
          ),
        )
        .slice(0, 2 * top),
      admin_refusals_total: adm.refusalTotal,
    },
    alerts: {
      total: adm.alerts.total,
      counts: Object.fromEntries(
        [...adm.alertCounts].sort(
          byCountThenName(
            (t) => t[1],
            (t) => t[0],
          ),
        ),
      ),
      latest: adm.alerts.items().map((e) => eventRow(e, true)),
    },
    audit: auditHealth(store, req, adm, o),
  };
}

function eventRow(e: ListedEvent, withRule = false): EventRow {
  const row: EventRow = {
    time: iso(e.ts),
    seq: e.seq,
    action: e.action,
    actor: e.actor,
    outcome: e.outcome,
    reason: e.reason,
  };
  if (withRule) {
    const rule = e.labels.rule ?? e.labels.name;
    row.rule = typeof rule === 'string' ? rule : null;
  }
  return row;
}

function errorGroups(store: Store, req: RequestPass): ErrorGroup[] {
  const groups = [...req.errors.values()].sort(
    (a, b) => b.count - a.count || b.lastTs - a.lastTs || cmp(a.termination, b.termination),
  );
  for (const g of groups) g.samples.sort((a, b) => b[0] - a[0] || b[1] - a[1]);
  const recs = store.report.records(groups.map((g) => g.samples[0]![1]));
  return groups.map((g) => {
    const r = parse(recs.get(g.samples[0]![1]));
    return {
      route: g.route,
      backend: g.backend,
      termination: g.termination,
      count: g.count,
      statuses: Object.fromEntries(
        [...g.statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => [String(s), n]),
      ),
      first_seen: iso(g.firstTs),
      last_seen: iso(g.lastTs),
      sample_request_ids: g.samples.map((s) => s[2]).filter((id): id is string => id !== null),
      latest: {
        request_id: g.samples[0]![2],
        method: r?.http?.request?.method ?? null,
        path: r?.url?.path ?? null,
        message: r?.error?.message ?? null,
      },
    };
  });
}

/** Exact figures for a sketch counter: its own when it never changed hands, else re-counted from the store. */
function exact(
  c: Counter<ClientStats>,
  recount: () => RequestTotals,
): RequestTotals & { lastSeq: number | null } {
  if (c.error === 0) {
    const s = c.stats;
    return { count: c.count, ...s, lastSeq: s.lastSeq };
  }
  return recount();
}

function topClients(store: Store, req: RequestPass, since: number, until: number, n: number): ClientRow[] {
  const sketch = req.clients;
  const rows = sketch.top(sketch.overflowed ? 2 * n : n).map((c) => {
    const address = c.key === '-' ? null : c.key;
    return { address, t: exact(c, () => store.report.totals({ clientIp: address }, since, until)) };
  });
  rows.sort(
    byCountThenName(
      (r) => r.t.count,
      (r) => r.address,
    ),
  );
  const shown = rows.slice(0, n);
  const recs = store.report.records(shown.flatMap((r) => (r.t.lastSeq === null ? [] : [r.t.lastSeq])));
  return shown.map(({ address, t }) => ({
    address,
    requests: t.count,
    client_errors: t.clientErrors,
    server_errors: t.serverErrors,
    bytes_in: t.bytesIn,
    bytes_out: t.bytesOut,
    last_seen: t.lastTs === null ? null : isoOrNull(t.lastTs),
    user_agent: t.lastSeq === null ? null : (parse(recs.get(t.lastSeq))?.user_agent?.original ?? null),
  }));
}

function topUsers(store: Store, req: RequestPass, since: number, until: number, n: number): UserRow[] {
  const sketch = req.users;
  const rows = sketch
    .top(sketch.overflowed ? 2 * n : n)
    .map((c) => ({ user: c.key, t: exact(c, () => store.report.totals({ user: c.key }, since, until)) }));
  rows.sort(
    byCountThenName(
      (r) => r.t.count,
      (r) => r.user,
    ),
  );
  return rows.slice(0, n).map(({ user, t }) => ({
    user,
    requests: t.count,
    client_errors: t.clientErrors,
    server_errors: t.serverErrors,
    bytes_in: t.bytesIn,
    bytes_out: t.bytesOut,
    last_seen: t.lastTs === null ? null : isoOrNull(t.lastTs),
  }));
}

function authRows(store: Store, req: RequestPass, since: number, until: number, n: number): AuthRow[] {
  const sketch = req.auth;
  const rows = sketch.top(sketch.overflowed ? 2 * n : n).map((c: Counter<AuthStats>): AuthRow => {
    const [route, client] = JSON.parse(c.key) as [string | null, string | null];
    const by = { ...c.stats.byTermination };
    let first = c.stats.firstTs;
    let last = c.stats.lastTs;
    if (c.error > 0) {
      first = Number.POSITIVE_INFINITY;
      last = Number.NEGATIVE_INFINITY;
      for (const t of AUTH_TERMINATIONS) {
        const x = store.report.totals({ clientIp: client, route, terminations: [t] }, since, until);
        by[t] = x.count;
        if (x.firstTs !== null && x.firstTs < first) first = x.firstTs;
        if (x.lastTs !== null && x.lastTs > last) last = x.lastTs;
      }
    }
    return {
      route,
      client,
      total: by.auth_failed + by.forbidden + by.rate_limited,
      by_termination: by,
      first_seen: isoOrNull(first),
      last_seen: isoOrNull(last),
    };
  });
  return rows
    .sort(
      byCountThenName(
        (r) => r.total,
        (r) => `${r.route ?? ''} ${r.client ?? ''}`,
      ),
    )
    .slice(0, n);
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

function slowBackends(req: RequestPass): BackendRow[] {
  const { ratio, min_p99_ms, min_attempts } = SLOW_RULE;
  const rows: BackendRow[] = [];
  for (const [pool, backends] of req.backends) {
    const measured = [...backends].map(([backend, b]) => ({
      backend,
      attempts: b.durations.count,
      ...durations(b.durations),
    }));
    for (const m of measured) {
      const peers = measured
        .filter((p) => p !== m && p.attempts >= min_attempts && p.p99_ms !== null)
        .map((p) => p.p99_ms!);
      const peerMedian = round(median(peers));
      const p99 = m.p99_ms;
      let slow = false;
      let verdict: string;
      if (m.attempts < min_attempts || p99 === null)
        verdict = `too few attempts to judge (${m.attempts} < ${min_attempts})`;
      else if (peerMedian === null) verdict = 'no pool peer with enough attempts to compare with';
      else if (p99 > ratio * peerMedian && p99 > min_p99_ms) {
        slow = true;
        verdict = `slow: p99 ${p99} ms > ${ratio}× the peers' median p99 (${peerMedian} ms) and > ${min_p99_ms} ms`;
      } else verdict = `ok: p99 ${p99} ms, peers' median p99 ${peerMedian} ms`;
      rows.push({ pool, ...m, peer_median_p99_ms: peerMedian, slow, verdict });
    }
  }
  return rows.sort(
    (a, b) => Number(b.slow) - Number(a.slow) || cmp(a.pool, b.pool) || cmp(a.backend, b.backend),
  );
}

function auditHealth(store: Store, req: RequestPass, adm: AdminPass, o: ReportOptions): AuditHealthReport {
  const last = store.last();
  const cp = store.lastCheckpoint();
  const anchor = store.anchor();
  const signedThrough = Math.max(cp?.seq ?? 0, anchor?.seq ?? 0);
  let verify: AuditHealthReport['verify'] = null;
  if (o.verify != null) {
    const v = verifyChain(store, o.verify.publicKeyPem, o.verify.checkpointsFile);
    verify = {
      ok: v.ok,
      records: v.records,
      first_seq: v.firstSeq,
      last_seq: v.lastSeq,
      checkpoints: v.checkpoints,
      problem: v.problem,
      first_bad_seq: v.firstBadSeq,
    };
  }
  return {
    records_in_window: req.requests + adm.events,
    requests_in_window: req.requests,
    admin_events_in_window: adm.events,
    last_seq: last?.seq ?? null,
    first_seq: store.firstSeq(),
    anchor_seq: anchor?.seq ?? null,
    last_checkpoint: cp === null ? null : { seq: cp.seq, time: iso(cp.ts), reason: cp.reason },
    unsigned_records: last === null ? 0 : Math.max(0, last.seq - signedThrough),
    pipeline_events: {
      total: adm.pipeline.total,
      counts: Object.fromEntries(
        [...adm.pipelineCounts].sort(
          byCountThenName(
            (t) => t[1],
            (t) => t[0],
          ),
        ),
      ),
      latest: adm.pipeline.items().map((e) => eventRow(e)),
    },
    lost_events: adm.lostEvents,
    lost_records: adm.lostRecords,
    verify,
  };
}
