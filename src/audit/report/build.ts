import type { Store } from '../../store/index.js';
import { verifyChain } from '../verify.js';
import type { ListedEvent } from './admin-pass.js';
import { AdminPass, diffSummary } from './admin-pass.js';
import { byCountThenName, cmp, durations, iso, parse, round } from './figures.js';
import { RequestPass } from './request-pass.js';
import { SLOW_RULE, slowBackends } from './slow-backends.js';
import { authRows, topClients, topUsers } from './top-lists.js';
import type { AuditHealthReport, ErrorGroup, EventRow, Report, ReviewSection, RouteRow } from './types.js';
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
  /** The compliance review of the config (`tollgate report -c FILE`), made by the caller. */
  review?: ReviewSection | null;
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
    review: o.review ?? null,
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
      heartbeat_gaps: v.gaps.length,
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
