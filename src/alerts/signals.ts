import type { AdminEvent, Clock, OutcomeObserver, RequestOutcome } from '../core/index.js';
import { Recent, RollingCounter, RollingHistogram } from './windows.js';

/** One request kept as evidence for an alert: `tollgate explain ID` tells its story. */
export interface Sample {
  readonly requestId: string;
  readonly at: number;
  readonly status: number;
  readonly termination: string;
  readonly backend: string | null;
  readonly durationMs: number;
  readonly client: string;
  readonly error: string | null;
}

export class RouteSignals {
  readonly total = new RollingCounter();
  readonly errors = new RollingCounter();
  readonly samples = new Recent<Sample>(20);
}

export class LatencySignals {
  readonly latency = new RollingHistogram();
  readonly samples = new Recent<Sample>(50);
}

/** Heavy hitters by client address (the metrics module's sketch, plugged in by the app). */
export interface ClientCounts {
  top(
    windowMs: number,
    n: number,
  ): readonly { key: string; requests: number; errors: number; bytes: number }[];
}

function sampleOf(o: RequestOutcome): Sample {
  return {
    requestId: o.requestId,
    at: o.endMs,
    status: o.statusCode,
    termination: o.termination,
    backend: o.backendName,
    durationMs: o.endMs - o.startMs,
    client: o.clientAddress,
    error: o.errorMessage,
  };
}

/**
 * What alert rules read, gathered from outcomes and admin events as they happen: per route
 * request and 5xx counts with recent failing samples; per pool and per backend latency; auth
 * failures (requests refused `auth_failed`/`forbidden` and admin API 401s); config changes and
 * audit losses. All in one-second ring buckets (windows.ts), so reading a window never scans
 * records.
 */
export class Signals implements OutcomeObserver {
  readonly routes = new Map<string, RouteSignals>();
  readonly pools = new Map<string, LatencySignals>();
  /** pool → backend */
  readonly backends = new Map<string, Map<string, LatencySignals>>();
  readonly authFailures = new RollingCounter();
  readonly authSamples = new Recent<Sample>(20);
  readonly configChanges = new RollingCounter();
  readonly configEvents = new Recent<{ at: number; actor: string }>(5);
  /** Fleet dependencies this instance cannot use now (`etcd`, `redis`, `config`), with the reason. */
  readonly fleetDown = new Map<string, string>();
  readonly auditLosses = new RollingCounter();
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  onOutcome(o: RequestOutcome): void {
    if (o.canary) return; // Tollgate's own canary is not traffic
    const now = this.#clock.monotonic();
    if (o.route !== null) {
      let r = this.routes.get(o.route);
      if (r === undefined) {
        r = new RouteSignals();
        this.routes.set(o.route, r);
      }
      r.total.add(now);
      if (o.statusCode >= 500) {
        r.errors.add(now);
        r.samples.push(sampleOf(o));
      }
    }
    if (o.termination === 'auth_failed' || o.termination === 'forbidden') {
      this.authFailures.add(now);
      this.authSamples.push(sampleOf(o));
    }
    if (o.pool !== null && o.backendName !== null) {
      const ms = o.endMs - o.startMs;
      const s = sampleOf(o);
      let p = this.pools.get(o.pool);
      if (p === undefined) {
        p = new LatencySignals();
        this.pools.set(o.pool, p);
      }
      p.latency.add(now, ms);
      p.samples.push(s);
      // pool → backend maps, not a `pool/backend` key: nothing is built per request
      let byBackend = this.backends.get(o.pool);
      if (byBackend === undefined) {
        byBackend = new Map();
        this.backends.set(o.pool, byBackend);
      }
      let b = byBackend.get(o.backendName);
      if (b === undefined) {
        b = new LatencySignals();
        byBackend.set(o.backendName, b);
      }
      b.latency.add(now, ms);
      b.samples.push(s);
    }
  }

  onAdminEvent(e: AdminEvent): void {
    const now = this.#clock.monotonic();
    if (e.action === 'admin_request' && e.labels.status === 401) this.authFailures.add(now);
    else if (e.action === 'config_reload' && e.outcome === 'success') {
      this.configChanges.add(now);
      this.configEvents.push({ at: this.#clock.now(), actor: e.actor });
      if (e.labels.fleet_revision !== undefined) this.fleetDown.delete('config');
    } else if (e.action === 'audit_records_lost') this.auditLosses.add(now, Number(e.labels.count ?? 1));
    else if (e.action === 'fleet_redis_down') this.fleetDown.set('redis', e.reason ?? 'Redis is unreachable');
    else if (e.action === 'fleet_redis_up') this.fleetDown.delete('redis');
    else if (e.action === 'fleet_etcd_down') this.fleetDown.set('etcd', e.reason ?? 'etcd is unreachable');
    else if (e.action === 'fleet_etcd_up') this.fleetDown.delete('etcd');
    else if (e.action === 'fleet_config_rejected')
      this.fleetDown.set('config', e.reason ?? 'config rejected');
  }
}
