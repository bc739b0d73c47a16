import type { AdminEvent, Clock, OutcomeObserver, RequestOutcome } from '../core/index.js';
import { TERMINATIONS } from '../core/index.js';
import type { CounterSeries, HistogramSeries, Labels } from './exposition.js';
import { CONTENT_TYPE, CollectedFamily, CounterFamily, HistogramFamily, Registry } from './exposition.js';
import { TopClients } from './top-clients.js';

/** What the scrape reads from the running process (structural, so metrics imports no runtime module). */
export interface MetricsSources {
  backends(): Iterable<{
    readonly pool: string;
    readonly name: string;
    readonly inflight: number;
    ready(): boolean;
  }>;
  listeners(): Iterable<{ readonly name: string; readonly connections: number; readonly refused: number }>;
  /** Per sink (`store` is the embedded store itself). */
  audit(): {
    committed: number;
    lost: number;
    queued: number;
    lag: Record<string, number>;
    lagSeconds: Record<string, number>;
    /** Per network sink: records delivered since the start. */
    shipped: Record<string, number>;
    /** Per sink: why it is failing now (absent when it is not). */
    sinkErrors: Record<string, string>;
  };
  /** Firing alerts per rule name (empty until alerting runs). */
  alertsFiring(): Iterable<readonly [string, number]>;
  /** Fleet mode: whether etcd and Redis answer (null: not configured) and the config revision applied. */
  fleet?(): { etcd: boolean | null; redis: boolean | null; appliedRevision: number } | null;
}

/** Seconds; from 1 ms to 1 min, roughly ×2.5 apart. */
export const DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

const CODE_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'none'] as const;
const N_TERM = TERMINATIONS.length;
const TERM_INDEX = new Map<string, number>(TERMINATIONS.map((t, i) => [t, i]));

function classIndex(status: number): number {
  return status >= 100 && status < 600 ? Math.floor(status / 100) - 1 : 5;
}

/** The series of one (listener, route, pool, backend): bound on first use, then only indexed. */
class Slot {
  readonly labels: Labels;
  /** [code class × termination] */
  readonly requests: (CounterSeries | undefined)[] = new Array(CODE_CLASSES.length * N_TERM);
  /** [code class] */
  readonly durations: (HistogramSeries | undefined)[] = new Array(CODE_CLASSES.length);
  constructor(labels: Labels) {
    this.labels = labels;
  }
}

/**
 * The SPEC §5 families. `onOutcome` runs at `complete` for every request: a few Map lookups to
 * find the request's slot (label values were bound when the slot was made), an array index by
 * code class and termination, a field increment and one histogram observation. Gauges and the
 * audit counters are read from their sources at scrape time.
 */
export class TollgateMetrics implements OutcomeObserver {
  /** Heavy hitters by client address and by identified user (docs/top-clients.md). */
  readonly topClients: TopClients;
  readonly topUsers: TopClients;
  readonly #clock: Clock;
  readonly #registry = new Registry();
  readonly #requests: CounterFamily;
  readonly #durations: HistogramFamily;
  readonly #attempts: CounterFamily;
  readonly #admin: CounterFamily;
  /** listener → route → pool → backend → slot */
  readonly #slots = new Map<string, Map<string, Map<string, Map<string, Slot>>>>();
  /** pool → backend → termination index → series */
  readonly #attemptSeries = new Map<string, Map<string, (CounterSeries | undefined)[]>>();

  constructor(sources: MetricsSources, clock: Clock) {
    this.#clock = clock;
    this.topClients = new TopClients({ clock });
    this.topUsers = new TopClients({ clock });
    const r = this.#registry;
    this.#requests = r.add(
      new CounterFamily(
        'tollgate_requests_total',
        'Requests completed, by where they went and how they ended.',
        ['listener', 'route', 'pool', 'backend', 'code_class', 'termination'],
      ),
    );
    this.#durations = r.add(
      new HistogramFamily(
        'tollgate_request_duration_seconds',
        'Time from the first byte received to the last byte sent.',
        ['listener', 'route', 'pool', 'backend', 'code_class'],
        DURATION_BUCKETS,
      ),
    );
    this.#attempts = r.add(
      new CounterFamily('tollgate_upstream_attempts_total', 'Tries against backends, by how each ended.', [
        'pool',
        'backend',
        'termination',
      ]),
    );
    r.add(
      new CollectedFamily(
        'gauge',
        'tollgate_backend_up',
        '1 when the backend may take new requests (healthy, not drained or ejected).',
        ['pool', 'backend'],
        function* () {
          for (const b of sources.backends()) yield [[b.pool, b.name], b.ready() ? 1 : 0] as const;
        },
      ),
    );
    r.add(
      new CollectedFamily(
        'gauge',
        'tollgate_backend_active_connections',
        'Requests in flight to the backend.',
        ['pool', 'backend'],
        function* () {
          for (const b of sources.backends()) yield [[b.pool, b.name], b.inflight] as const;
        },
      ),
    );
    r.add(
      new CollectedFamily(
        'gauge',
        'tollgate_active_connections',
        'Open client connections.',
        ['listener'],
        function* () {
          for (const l of sources.listeners()) yield [[l.name], l.connections] as const;
        },
      ),
    );
    r.add(
      new CollectedFamily(
        'counter',
        'tollgate_connections_refused_total',
        'Client connections closed at accept because their IP had max_connections_per_ip open (no request, so no record).',
        ['listener'],
        function* () {
          for (const l of sources.listeners()) yield [[l.name], l.refused] as const;
        },
      ),
    );
    r.add(
      new CollectedFamily(
        'counter',
        'tollgate_audit_records_total',
        'Records committed to the store (sink="store") or shipped by each sink, since the start.',
        ['sink'],
        function* () {
          const a = sources.audit();
          yield [['store'], a.committed] as const;
          for (const [sink, n] of Object.entries(a.shipped)) yield [[sink], n] as const;
        },
      ),
    );
    r.add(
      new CollectedFamily(
        'gauge',
        'tollgate_audit_sink_up',
        'Per sink: 1 while its last delivery succeeded, 0 while it is failing (it retries with back-off).',
        ['sink'],
        function* () {
          const a = sources.audit();
          for (const sink of Object.keys(a.lag))
            yield [[sink], a.sinkErrors[sink] === undefined ? 1 : 0] as const;
        },
      ),
    );
    r.add(
      new CollectedFamily(
        'counter',
        'tollgate_audit_records_lost_total',
        'Records that could not be kept (must stay 0).',
        ['sink'],
        function* () {
          yield [['store'], sources.audit().lost] as const;
        },
      ),
    );
    r.add(
      new CollectedFamily(
        'gauge',
        'tollgate_audit_queue_depth',
        'Records waiting: not yet committed (store) or not yet shipped (each sink).',
        ['sink'],
        function* () {
          const a = sources.audit();
          yield [['store'], a.queued] as const;
          for (const [sink, n] of Object.entries(a.lag)) yield [[sink], n] as const;
        },
      ),
    );
    r.add(
      new CollectedFamily(
        'gauge',
        'tollgate_audit_lag_seconds',
        'How long each sink has been behind the store (0 when caught up).',
        ['sink'],
        function* () {
          for (const [sink, s] of Object.entries(sources.audit().lagSeconds)) yield [[sink], s] as const;
        },
      ),
    );
    this.#admin = r.add(
      new CounterFamily(
        'tollgate_admin_requests_total',
        'Admin API calls, by the caller role and the result.',
        ['role', 'result'],
      ),
    );
    r.add(
      new CollectedFamily(
        'gauge',
        'tollgate_alerts_firing',
        'Alerts firing now, per rule.',
        ['rule'],
        function* () {
          for (const [rule, n] of sources.alertsFiring()) yield [[rule], n] as const;
        },
      ),
    );
    r.add(
      new CollectedFamily(
        'gauge',
        'tollgate_fleet_up',
        'Fleet mode: 1 while the fleet dependency (etcd, redis) answers this instance, else 0.',
        ['dependency'],
        function* () {
          const f = sources.fleet?.() ?? null;
          if (f === null) return;
          if (f.etcd !== null) yield [['etcd'], f.etcd ? 1 : 0] as const;
          if (f.redis !== null) yield [['redis'], f.redis ? 1 : 0] as const;
        },
      ),
    );
    r.add(
      new CollectedFamily(
        'gauge',
        'tollgate_fleet_config_revision',
        'Fleet mode: the etcd revision of the fleet config this instance runs (0: none yet).',
        [],
        function* () {
          const f = sources.fleet?.() ?? null;
          if (f !== null) yield [[], f.appliedRevision] as const;
        },
      ),
    );
  }

  onOutcome(o: RequestOutcome): void {
    if (o.canary) return; // Tollgate's own canary is not traffic
    const slot = this.#slot(o.listener, o.route ?? '', o.pool ?? '', o.backendName ?? '');
    const cc = classIndex(o.statusCode);
    const t = TERM_INDEX.get(o.termination) ?? 0;
    const i = cc * N_TERM + t;
    const l = slot.labels;
    (slot.requests[i] ??= this.#requests.bind([l[0]!, l[1]!, l[2]!, l[3]!, CODE_CLASSES[cc]!, o.termination]))
      .value++;
    (slot.durations[cc] ??= this.#durations.bind([l[0]!, l[1]!, l[2]!, l[3]!, CODE_CLASSES[cc]!])).observe(
      (o.endMs - o.startMs) / 1000,
    );
    // heavy hitters: an error is anything but a 1xx–3xx answered normally (4xx count: floods of 401s matter)
    const now = this.#clock.monotonic();
    const isError = o.statusCode >= 400 || o.termination !== 'ok';
    const bytes = o.requestBodySize + o.responseBodySize;
    this.topClients.observe(o.clientAddress, isError, bytes, now);
    if (o.userName !== null) this.topUsers.observe(o.userName, isError, bytes, now);
    const attempts = o.attempts;
    for (let k = 0; k < attempts.length; k++) {
      const a = attempts[k]!;
      const series = this.#attemptsOf(o.pool ?? '', a.backend);
      const ti = TERM_INDEX.get(a.termination) ?? 0;
      (series[ti] ??= this.#attempts.bind([o.pool ?? '', a.backend, a.termination])).value++;
    }
  }

  /** Counts admin API calls from their `admin_request` events. */
  onAdminEvent(e: AdminEvent): void {
    if (e.action !== 'admin_request') return;
    const status = Number(e.labels.status ?? 0);
    const result = status >= 200 && status < 600 ? `${Math.floor(status / 100)}xx` : 'none';
    this.#admin.bind([e.roles[e.roles.length - 1] ?? 'none', result]).value++;
  }

  /**
   * Requests by status class and by duration bucket since the start, summed over every series
   * (for the dashboard's history; a duration observation is made once per request).
   */
  totals(): { classes: Float64Array; buckets: Float64Array } {
    const classes = new Float64Array(CODE_CLASSES.length);
    const buckets = new Float64Array(DURATION_BUCKETS.length + 1);
    for (const byRoute of this.#slots.values())
      for (const byPool of byRoute.values())
        for (const byBackend of byPool.values())
          for (const slot of byBackend.values())
            for (let cc = 0; cc < CODE_CLASSES.length; cc++) {
              const h = slot.durations[cc];
              if (h === undefined) continue;
              classes[cc]! += h.count;
              for (let i = 0; i < h.counts.length; i++) buckets[i]! += h.counts[i]!;
            }
    return { classes, buckets };
  }

  render(): string {
    return this.#registry.render();
  }

  get contentType(): string {
    return CONTENT_TYPE;
  }

  #slot(listener: string, route: string, pool: string, backend: string): Slot {
    let byRoute = this.#slots.get(listener);
    if (byRoute === undefined) {
      byRoute = new Map();
      this.#slots.set(listener, byRoute);
    }
    let byPool = byRoute.get(route);
    if (byPool === undefined) {
      byPool = new Map();
      byRoute.set(route, byPool);
    }
    let byBackend = byPool.get(pool);
    if (byBackend === undefined) {
      byBackend = new Map();
      byPool.set(pool, byBackend);
    }
    let slot = byBackend.get(backend);
    if (slot === undefined) {
      slot = new Slot([listener, route, pool, backend]);
      byBackend.set(backend, slot);
    }
    return slot;
  }

  #attemptsOf(pool: string, backend: string): (CounterSeries | undefined)[] {
    let byBackend = this.#attemptSeries.get(pool);
    if (byBackend === undefined) {
      byBackend = new Map();
      this.#attemptSeries.set(pool, byBackend);
    }
    let s = byBackend.get(backend);
    if (s === undefined) {
      s = new Array(N_TERM);
      byBackend.set(backend, s);
    }
    return s;
  }
}
