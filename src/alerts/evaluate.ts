import type { RulePlan, RuntimePlan } from '../config/index.js';
import { formatDuration } from '../core/index.js';
import type { ClientCounts, Sample, Signals } from './signals.js';

/** What a rule sees beyond the signals, read at each evaluation. */
export interface AlertSources {
  backends(): Iterable<{
    readonly pool: string;
    readonly name: string;
    readonly healthy: boolean;
    readonly draining: boolean;
    readonly ejectedUntil: number;
  }>;
  audit(): { lost: number; lagSeconds: Record<string, number>; queued: number };
  clients: ClientCounts | null;
  /** The last canary's result per target (`store`, or a sink's cursor name); empty when canaries are off. */
  canaries?(): Iterable<{ readonly name: string; readonly ok: boolean; readonly detail: string }>;
}

/** One alert instance's condition at one evaluation: the key (route, backend, client, or ''), its value, the evidence. */
export interface Observation {
  readonly key: string;
  readonly value: number;
  /** The value for people: "42.0%", "812 ms", "350/s". */
  readonly valueText: string;
  readonly summary: string;
  readonly route: string | null;
  readonly pool: string | null;
  readonly backend: string | null;
  readonly client: string | null;
  readonly samples: readonly Sample[];
}

/** Fewer requests than this in the window never make an error ratio or a p99. */
export const MIN_SAMPLES = 5;

function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}

function window(rule: RulePlan): string {
  return formatDuration(rule.windowMs).replace(' ', '');
}

/** Evaluates one rule: the observations above its threshold now (empty: nothing is wrong). */
export function evaluate(
  rule: RulePlan,
  plan: RuntimePlan,
  signals: Signals,
  sources: AlertSources,
  nowMono: number,
  lostDelta: number,
): Observation[] {
  const out: Observation[] = [];
  const base = { route: null, pool: null, backend: null, client: null, samples: [] as Sample[] };
  switch (rule.when) {
    case 'error_rate': {
      for (const [route, r] of signals.routes) {
        if (rule.route !== null && route !== rule.route) continue;
        const total = r.total.sum(nowMono, rule.windowMs);
        if (total < MIN_SAMPLES) continue;
        const ratio = r.errors.sum(nowMono, rule.windowMs) / total;
        if (ratio <= rule.above) continue;
        const owner = plan.routes.find((x) => x.name === route)?.owner ?? null;
        out.push({
          ...base,
          key: route,
          value: ratio,
          valueText: pct(ratio),
          route,
          samples: r.samples.list().slice(-5),
          summary: `5xx ratio ${pct(ratio)} over ${window(rule)} on route ${route}${owner === null ? '' : ` (owner ${owner})`} is above ${rule.aboveText}`,
        });
      }
      break;
    }
    case 'latency_p99': {
      for (const [pool, byBackend] of signals.backends) {
        if (rule.pool !== null && pool !== rule.pool) continue;
        for (const [backend, b] of byBackend) {
          const key = `${pool}/${backend}`;
          const q = b.latency.quantile(nowMono, rule.windowMs, 0.99);
          if (q.count < MIN_SAMPLES || q.value <= rule.above) continue;
          const slowest = [...b.samples.list()].sort((x, y) => y.durationMs - x.durationMs).slice(0, 5);
          out.push({
            ...base,
            key,
            value: q.value,
            valueText: formatDuration(q.value),
            pool,
            backend,
            samples: slowest,
            summary: `p99 latency of backend ${backend} in pool ${pool} is ${formatDuration(q.value)} over ${window(rule)} (${q.count} requests), above ${rule.aboveText}`,
          });
        }
      }
      break;
    }
    case 'client_rate': {
      if (sources.clients === null) break;
      const seconds = rule.windowMs / 1000;
      for (const c of sources.clients.top(rule.windowMs, 10)) {
        const rate = c.requests / seconds;
        if (rate <= rule.above) continue;
        out.push({
          ...base,
          key: c.key,
          value: rate,
          valueText: `${rate.toFixed(1)}/s`,
          client: c.key,
          summary: `client ${c.key} sent ${c.requests} requests in ${window(rule)} (${rate.toFixed(1)}/s, ${c.errors} errors), above ${rule.aboveText}`,
        });
      }
      break;
    }
    case 'auth_failures': {
      const n = signals.authFailures.sum(nowMono, rule.windowMs);
      const rate = n / (rule.windowMs / 1000);
      if (n > 0 && rate > rule.above)
        out.push({
          ...base,
          key: '',
          value: rate,
          valueText: `${n} in ${window(rule)}`,
          samples: signals.authSamples.list().slice(-5),
          summary: `${n} authentication failures in ${window(rule)}, above ${rule.aboveText}`,
        });
      break;
    }
    case 'audit_lag': {
      const a = sources.audit();
      for (const [sink, s] of Object.entries(a.lagSeconds)) {
        if (s * 1000 <= rule.above) continue;
        out.push({
          ...base,
          key: sink,
          value: s * 1000,
          valueText: formatDuration(s * 1000),
          summary: `audit sink ${sink} is ${formatDuration(s * 1000)} behind the store, above ${rule.aboveText}`,
        });
      }
      break;
    }
    case 'backend_down': {
      for (const b of sources.backends()) {
        if (rule.pool !== null && b.pool !== rule.pool) continue;
        if (b.healthy && b.ejectedUntil === 0) continue;
        out.push({
          ...base,
          key: `${b.pool}/${b.name}`,
          value: 1,
          valueText: b.healthy ? 'ejected' : 'unhealthy',
          pool: b.pool,
          backend: b.name,
          summary: `backend ${b.name} in pool ${b.pool} is ${b.healthy ? 'ejected by outlier detection' : 'failing its health checks'}`,
        });
      }
      break;
    }
    case 'config_changed': {
      const n = signals.configChanges.sum(nowMono, rule.windowMs);
      if (n > 0) {
        const who = [...new Set(signals.configEvents.list().map((e) => e.actor))].join(', ');
        out.push({
          ...base,
          key: '',
          value: n,
          valueText: String(n),
          summary: `the config changed ${n} time(s) in ${window(rule)} (by ${who})`,
        });
      }
      break;
    }
    case 'audit_lost': {
      if (lostDelta > 0)
        out.push({
          ...base,
          key: '',
          value: lostDelta,
          valueText: String(lostDelta),
          summary: `${lostDelta} audit record(s) could not be kept in ${window(rule)}`,
        });
      break;
    }
    case 'audit_canary': {
      for (const t of sources.canaries?.() ?? []) {
        if (t.ok) continue;
        out.push({
          ...base,
          key: t.name,
          value: 1,
          valueText: 'missed',
          summary: `audit canary missed ${t.name === 'store' ? 'the store' : `sink ${t.name}`}: ${t.detail}`,
        });
      }
      break;
    }
    case 'fleet_degraded': {
      for (const [what, reason] of signals.fleetDown) {
        out.push({
          ...base,
          key: what,
          value: 1,
          valueText: what === 'config' ? 'config rejected' : `${what} down`,
          summary: reason,
        });
      }
      break;
    }
  }
  return out;
}
