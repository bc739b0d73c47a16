import type { Store } from '../../store/index.js';
import type { AdminRecord } from '../admin-record.js';
import { MAX_GROUPS, OTHER } from './request-pass.js';

/**
 * The pass over a window's admin events: actions per actor, config changes, admin API
 * refusals per source address, alerts and the audit pipeline's own events. Groups are capped at
 * MAX_GROUPS (then "(other)"); lists keep the LATEST newest (plus a total).
 */
export const LATEST = 50;
const MAX_ACTORS = 5;
const MAX_PATHS = 5;

export interface ActionAgg {
  success: number;
  failure: number;
  lastTs: number;
}

export interface RefusalAgg {
  total: number;
  byStatus: { '401': number; '403': number; '429': number };
  actors: string[];
  firstTs: number;
  lastTs: number;
}

export interface ListedEvent {
  ts: number;
  seq: number;
  action: string;
  actor: string | null;
  outcome: string;
  reason: string | null;
  labels: Record<string, unknown>;
  diff: unknown;
}

/** The newest `LATEST` of a stream, in memory bounded by 2 × LATEST. */
export class Latest {
  total = 0;
  #items: ListedEvent[] = [];

  add(e: ListedEvent): void {
    this.total++;
    this.#items.push(e);
    if (this.#items.length >= 2 * LATEST) this.#items = this.items();
  }

  /** Newest first. */
  items(): ListedEvent[] {
    return this.#items.sort((a, b) => b.ts - a.ts || b.seq - a.seq).slice(0, LATEST);
  }
}

export class AdminPass {
  events = 0;
  /** action → actor → counts. */
  readonly actions = new Map<string, Map<string | null, ActionAgg>>();
  #actionGroups = 0;
  readonly configChanges = new Latest();
  readonly refusals = new Map<string | null, RefusalAgg>();
  refusalTotal = 0;
  readonly alerts = new Latest();
  readonly alertCounts = new Map<string, number>();
  readonly pipeline = new Latest();
  readonly pipelineCounts = new Map<string, number>();
  lostEvents = 0;
  lostRecords: number | null = null;

  run(store: Store, since: number, until: number): this {
    for (const [seq, ts, action, actor, outcome, source, status, rec] of store.report.adminRows(
      since,
      until,
    )) {
      this.events++;
      const name = action ?? 'unknown';
      this.#action(name, actor, outcome === 'success', ts);
      if (name === 'admin_request' && outcome === 'failure' && isRefusal(status))
        this.#refusal(source, status, actor, ts);
      if (rec === null) continue;
      const e = listed(seq, ts, name, actor, outcome, rec);
      if (name === 'config_reload') this.configChanges.add(e);
      else if (name.startsWith('alert_')) {
        this.alerts.add(e);
        this.alertCounts.set(name, (this.alertCounts.get(name) ?? 0) + 1);
      } else if (name.startsWith('audit_')) {
        this.pipeline.add(e);
        this.pipelineCounts.set(name, (this.pipelineCounts.get(name) ?? 0) + 1);
        if (name === 'audit_records_lost') {
          this.lostEvents++;
          const n = e.labels.count;
          if (typeof n === 'number') this.lostRecords = (this.lostRecords ?? 0) + n;
        }
      }
    }
    return this;
  }

  #action(action: string, actor: string | null, success: boolean, ts: number): void {
    let byActor = this.actions.get(action);
    let a = byActor?.get(actor);
    if (a === undefined) {
      if (this.#actionGroups >= MAX_GROUPS) {
        action = OTHER;
        actor = OTHER;
        byActor = this.actions.get(OTHER);
        a = byActor?.get(OTHER);
      }
      if (byActor === undefined) {
        byActor = new Map();
        this.actions.set(action, byActor);
      }
      if (a === undefined) {
        a = { success: 0, failure: 0, lastTs: ts };
        byActor.set(actor, a);
        this.#actionGroups++;
      }
    }
    if (success) a.success++;
    else a.failure++;
    if (ts > a.lastTs) a.lastTs = ts;
  }

  #refusal(source: string | null, status: 401 | 403 | 429, actor: string | null, ts: number): void {
    this.refusalTotal++;
    let r = this.refusals.get(source);
    if (r === undefined) {
      if (this.refusals.size >= MAX_GROUPS && source !== OTHER)
        return this.#refusal(OTHER, status, actor, ts);
      r = { total: 0, byStatus: { '401': 0, '403': 0, '429': 0 }, actors: [], firstTs: ts, lastTs: ts };
      this.refusals.set(source, r);
    }
    r.total++;
    r.byStatus[String(status) as '401' | '403' | '429']++;
    const who = actor ?? 'anonymous';
    if (r.actors.length < MAX_ACTORS && !r.actors.includes(who)) r.actors.push(who);
    if (ts < r.firstTs) r.firstTs = ts;
    if (ts > r.lastTs) r.lastTs = ts;
  }
}

/** An admin API refusal: a bad or missing token (401), a role too low (403), a locked-out source (429). */
function isRefusal(status: number | null): status is 401 | 403 | 429 {
  return status === 401 || status === 403 || status === 429;
}

function listed(
  seq: number,
  ts: number,
  action: string,
  actor: string | null,
  outcome: string | null,
  rec: string,
): ListedEvent {
  let r: Partial<AdminRecord> = {};
  try {
    r = JSON.parse(rec) as AdminRecord;
  } catch {
    // an unreadable record still counts; verify names it
  }
  const labels = r.tollgate?.labels;
  return {
    ts,
    seq,
    action,
    actor,
    outcome: outcome ?? 'unknown',
    reason: typeof r.event?.reason === 'string' ? r.event.reason : null,
    labels: labels !== null && typeof labels === 'object' ? labels : {},
    diff: r.tollgate?.diff ?? null,
  };
}

/** A config diff's size and its first changed paths. */
export function diffSummary(diff: unknown): { changes: number; paths: string[] } {
  if (!Array.isArray(diff)) return { changes: 0, paths: [] };
  const paths: string[] = [];
  for (const d of diff as { path?: unknown }[]) {
    if (paths.length >= MAX_PATHS) break;
    if (typeof d?.path === 'string') paths.push(d.path);
  }
  return { changes: diff.length, paths };
}
