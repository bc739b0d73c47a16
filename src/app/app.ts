import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { AdminHost } from '../admin/index.js';
import { AdminServer, PendingEventPump } from '../admin/index.js';
import { AlertEngine } from '../alerts/index.js';
import type { CanarySent, CanaryTarget } from '../audit/index.js';
import { AuditPipeline, CanaryRunner, ChainWatch } from '../audit/index.js';
import type { WorkerView } from '../cluster/index.js';
import { ClusterPrimary } from '../cluster/index.js';
import type { RuntimePlan } from '../config/index.js';
import { compileConfigText, diffConfig } from '../config/index.js';
import type { AdminEvent, Clock, Logger, OutcomeObserver, RequestOutcome } from '../core/index.js';
import { systemClock, systemEvent } from '../core/index.js';
import { Fleet } from '../fleet/index.js';
import { MetricsHistory, TollgateMetrics } from '../metrics/index.js';
import type { ListenerView } from '../proxy/index.js';
import { CANARY_HEADER, CANARY_PATH, DataPlane } from '../proxy/index.js';
import type { ReviewReport, VerifyRun } from '../review/index.js';
import { gatherReviewInput, loadBaseline, review } from '../review/index.js';
import type { Store } from '../store/index.js';
import { openStore, SERVER_CACHE_KIB } from '../store/index.js';

export interface AppOptions {
  logger: Logger;
  clock?: Clock;
  /** Extra observers of every outcome (tests, later metrics). */
  observers?: OutcomeObserver[];
  /** Identifies this process on every record. */
  instance?: string;
  /**
   * Benchmarks only (`TOLLGATE_BENCH_AUDIT_OFF=1`): requests are not recorded, so the cost of
   * the audit trail can be measured against the same build. Never for production: it is logged
   * loudly, and the admin events of the run still go to the store.
   */
  benchAuditOff?: boolean;
  /** Benchmarks only (`TOLLGATE_BENCH_METRICS_OFF=1`): outcomes do not feed the metrics. */
  benchMetricsOff?: boolean;
}

/** Hands each outcome to several observers, in order. */
class FanOut implements OutcomeObserver {
  readonly #observers: OutcomeObserver[];
  constructor(observers: OutcomeObserver[]) {
    this.#observers = observers;
  }
  onOutcome(o: RequestOutcome): void {
    const list = this.#observers;
    for (let i = 0; i < list.length; i++) list[i]!.onOutcome(o);
  }
}

/**
 * The composition root: wires the proxy's `complete` hand-off to the audit pipeline and any
 * other observers, health/admin events into the same chained trail, the audit gate into the
 * proxy's receive phase, and owns start, reload and stop.
 */
export class App {
  readonly proxy: DataPlane;
  readonly audit: AuditPipeline;
  readonly instance: string;
  readonly metrics: TollgateMetrics;
  /** The metrics counters over time (the dashboard's charts), sampled every second. */
  readonly history: MetricsHistory;
  #historyTimer: NodeJS.Timeout | null = null;
  readonly alerts: AlertEngine;
  /** Fleet mode (`fleet:` in the config): shared config in etcd, shared limits in Redis. */
  readonly fleet: Fleet | null;
  #alertsOn: boolean;
  readonly #logger: Logger;
  readonly #clock: Clock;
  #plan: RuntimePlan;
  #stopped = false;
  #startedAt = 0;
  /** The main thread's connection to the store: admin queries, tokens, pending events. */
  #store: Store | null = null;
  #pump: PendingEventPump | null = null;
  #admin: AdminServer | null = null;
  /** Re-verifies the chain in slices: every audit.chain.verify_interval, and for the dashboard. */
  #chain: ChainWatch | null = null;
  #verifyTimer: NodeJS.Timeout | null = null;
  /** The secret of this process's canary requests (never written anywhere). */
  readonly #canaryToken = randomBytes(24).toString('base64url');
  #canary: CanaryRunner | null = null;
  /** The last canary's result per target, for the audit_canary alert rule. */
  readonly #canaryTargets = new Map<string, CanaryTarget>();
  /** `workers` > 1: the worker processes that serve the listeners; this process then serves none. */
  readonly #cluster: ClusterPrimary | null = null;

  constructor(plan: RuntimePlan, options: AppOptions) {
    const clock = options.clock ?? systemClock;
    this.#plan = plan;
    this.#logger = options.logger;
    this.#clock = clock;
    this.instance = options.instance ?? plan.fleet?.instance ?? `${os.hostname()}:${process.pid}`;
    this.audit = new AuditPipeline(plan, {
      instance: this.instance,
      logger: options.logger,
      clock,
    });
    const audit = this.audit;
    this.metrics = new TollgateMetrics(
      {
        backends: () => this.proxy.backends.all(),
        listeners: () => this.listeners(),
        audit: () => ({ ...audit.health, lagSeconds: audit.lagSeconds() }),
        alertsFiring: () => this.alerts.firingByRule(),
        fleet: () => this.fleet?.state() ?? null,
      },
      clock,
    );
    this.history = new MetricsHistory(() => this.metrics.totals());
    this.alerts = new AlertEngine({
      plan: () => this.#plan,
      sources: {
        backends: () => this.proxy.backends.all(),
        audit: () => ({
          lost: audit.health.lost,
          queued: audit.health.queued,
          lagSeconds: audit.lagSeconds(),
        }),
        clients: this.metrics.topClients,
        canaries: () => this.#canaryTargets.values(),
      },
      events: audit,
      clock,
      logger: options.logger,
      instance: this.instance,
      adminUrl: () => this.#admin?.url() ?? null,
    });
    this.#alertsOn = plan.alerts.rules.length > 0;
    audit.subscribe((e) => {
      this.metrics.onAdminEvent(e);
      if (this.#alertsOn) this.alerts.onAdminEvent(e);
    });
    this.fleet =
      plan.fleet === null
        ? null
        : new Fleet({
            plan: { ...plan.fleet, instance: this.instance },
            localText: plan.text,
            localSource: plan.source,
            host: {
              plan: () => this.#plan,
              apply: (next, actor, labels) => this.reload(next, actor, labels),
              describe: () => ({
                admin: this.#admin?.url() ?? null,
                listeners: this.listeners().map((l) => `${l.proto}://${l.host}:${l.port}`),
                pid: process.pid,
                startedAt: this.#startedAt,
              }),
            },
            events: audit,
            logger: options.logger,
            topClients: { client_ip: this.metrics.topClients, user: this.metrics.topUsers },
          });
    const alerts = this.alerts;
    const app = this;
    const observers: OutcomeObserver[] = [];
    if (options.benchAuditOff !== true) observers.push(audit);
    if (options.benchMetricsOff !== true) observers.push(this.metrics);
    // alert signals cost one check per request while no rule is configured
    observers.push({
      onOutcome(o: RequestOutcome) {
        if (app.#alertsOn) alerts.signals.onOutcome(o);
      },
    });
    observers.push(...(options.observers ?? []));
    const observer: OutcomeObserver =
      observers.length === 0
        ? { onOutcome() {} }
        : observers.length === 1
          ? observers[0]!
          : new FanOut(observers);
    const serve = plan.workers <= 1;
    this.proxy = new DataPlane({
      clock,
      observer,
      logger: options.logger,
      events: audit,
      auditGate: () => audit.gate(),
      durable: () => audit.committed(),
      sharedBuckets: this.fleet?.sharedBuckets ?? null,
      canaryToken: plan.audit.canary === null ? null : Buffer.from(this.#canaryToken),
      serve,
    });
    if (!serve) {
      const cluster = new ClusterPrimary(
        {
          observer,
          events: audit,
          gate: () => audit.gate(),
          durable: () => audit.committed(),
          backends: this.proxy.backends,
          logger: options.logger,
        },
        plan.workers,
      );
      this.#cluster = cluster;
      // health flips and admin drains here reach the workers at once, not at the next tick
      audit.subscribe((e) => {
        if (e.action.startsWith('backend_')) cluster.sendBackends();
      });
    }
  }

  /** The listeners: this process's, or with `workers` > 1 as the workers report them (connections summed). */
  listeners(): ListenerView[] {
    return this.#cluster?.listeners() ?? this.proxy.listenerViews();
  }

  /** The worker processes (`workers` > 1), or null when this process serves alone. */
  workers(): WorkerView[] | null {
    return this.#cluster?.workers() ?? null;
  }

  get plan(): RuntimePlan {
    return this.#plan;
  }

  /** Admin events as they are recorded (tests, the admin stream). */
  get events(): { subscribe(fn: (e: AdminEvent) => void): void } {
    return this.audit;
  }

  /** The admin API server, when the config has `admin:`. */
  get admin(): AdminServer | null {
    return this.#admin;
  }

  /** Chains the admin events other processes left in the store (`tollgate token …`) now. */
  flushPendingEvents(): Promise<void> {
    return this.#pump?.kick() ?? Promise.resolve();
  }

  async start(): Promise<void> {
    this.#startedAt = this.#clock.now();
    await this.audit.start();
    try {
      this.#store = openStore(this.#plan.audit.storePath, { cacheKiB: SERVER_CACHE_KIB });
      this.#pump = new PendingEventPump(this.#store.tokens, this.audit, this.#logger);
      await this.#pump.kick();
      if (this.fleet !== null) {
        const joined = await this.fleet.start(this.#plan);
        if (joined !== this.#plan) {
          this.audit.reload(joined);
          this.#plan = joined;
          this.#alertsOn = joined.alerts.rules.length > 0;
        }
      }
      await this.proxy.start(this.#plan);
      if (this.#cluster !== null) {
        const canary = this.#plan.audit.canary === null ? null : this.#canaryToken;
        await this.#cluster.start(this.#plan.text, this.#plan.source, canary);
      }
      this.alerts.start();
      const dataDir = this.#plan.dataDir;
      this.#chain = new ChainWatch(
        this.#store,
        path.join(dataDir, 'chain-key.pub.pem'),
        path.join(dataDir, 'checkpoints.jsonl'),
        () => this.#clock.now(),
      );
      if (this.#plan.admin !== null) {
        // the dashboard's charts; nothing samples without an admin server to read it
        this.history.sample(this.#clock.now());
        this.#historyTimer = setInterval(() => this.history.sample(this.#clock.now()), 1000);
        this.#historyTimer.unref();
        this.#admin = new AdminServer({
          plan: this.#plan.admin,
          host: this.#host(),
          store: this.#store,
          events: this.audit,
          pump: this.#pump,
          clock: this.#clock,
          logger: this.#logger,
          chain: this.#chain,
        });
        await this.#admin.listen();
      }
    } catch (err) {
      this.#stopHistory();
      await this.fleet?.close();
      await this.alerts.close();
      await this.#cluster?.kill();
      await this.proxy.close();
      await this.#pump?.close();
      this.#store?.close();
      await this.audit.stop();
      throw err;
    }
    this.audit.emit(
      systemEvent('tollgate_started', 'success', null, {
        config: this.#plan.source,
        listeners: this.#plan.listeners.length,
        workers: this.#plan.workers,
        ...(this.fleet === null
          ? {}
          : { fleet_instance: this.instance, fleet_revision: this.fleet.appliedRevision }),
      }),
    );
    this.#startCanary();
    if (this.#plan.audit.chain.enabled && this.#plan.audit.chain.verifyIntervalMs > 0)
      this.#scheduleVerify(2000);
  }

  // ---- audit the auditor: canaries and the process's own verification ----------------------

  #startCanary(): void {
    const c = this.#plan.audit.canary;
    const store = this.#store;
    if (c === null || store === null) return;
    const names = this.audit.sinkNames;
    this.#canary = new CanaryRunner({
      intervalMs: c.intervalMs,
      deadlineMs: c.deadlineMs,
      clock: this.#clock,
      send: () => this.#sendCanary(c.listener, c.deadlineMs),
      seqOf: (id) => store.byRequestId(id)[0]?.seq ?? null,
      cursors: () => new Map(names.map((n) => [n, store.cursor(n)])),
      emit: (e) => this.audit.emit(e),
      onResult: (r) => {
        this.#canaryTargets.clear();
        for (const t of r.targets) this.#canaryTargets.set(t.name, t);
      },
    });
    this.#canary.start();
  }

  /** The canary request, through the listener's own socket like any client's. */
  #sendCanary(listenerName: string, timeoutMs: number): Promise<CanarySent> {
    const l = this.listeners().find((x) => x.name === listenerName);
    if (l === undefined)
      return Promise.resolve({ requestId: null, status: null, error: `no listener ${listenerName}` });
    const host = l.host === '0.0.0.0' ? '127.0.0.1' : l.host === '::' ? '::1' : l.host;
    const tls = l.proto === 'https';
    return new Promise((resolve) => {
      const req = (tls ? https : http).request(
        {
          host,
          port: l.port,
          path: CANARY_PATH,
          method: 'GET',
          agent: false,
          timeout: timeoutMs,
          // our own listener: its certificate names a host, not this loopback address
          rejectUnauthorized: false,
          headers: {
            host: 'tollgate-canary',
            [CANARY_HEADER]: this.#canaryToken,
            'user-agent': 'tollgate-canary/1',
          },
        },
        (res) => {
          res.resume();
          const id = res.headers['x-request-id'];
          res.on('end', () =>
            resolve({
              requestId: typeof id === 'string' ? id : null,
              status: res.statusCode ?? null,
              error: null,
            }),
          );
          res.on('error', (err) => resolve({ requestId: null, status: null, error: err.message }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => resolve({ requestId: null, status: null, error: err.message }));
      req.end();
    });
  }

  /**
   * The process verifies its own chain every audit.chain.verify_interval, a slice per event-loop
   * turn (20,000 rows or 10 ms), and records each finished pass as an `audit_verified` event:
   * `tollgate review` reads the newest as "the last verify".
   */
  #scheduleVerify(ms: number): void {
    if (this.#stopped) return;
    this.#verifyTimer = setTimeout(() => this.#verifyStep(this.#chain?.progress().verifiedAt ?? null), ms);
    this.#verifyTimer.unref();
  }

  #verifyStep(before: number | null): void {
    const chain = this.#chain;
    if (chain === null || this.#stopped) return;
    const p = chain.advance(20_000, 10);
    const next = this.#plan.audit.chain.verifyIntervalMs;
    if (!p.enabled) return this.#scheduleVerify(next);
    if (!p.ok) {
      this.audit.emit(systemEvent('audit_verified', 'failure', p.problem, { first_bad_seq: p.firstBadSeq }));
      return this.#scheduleVerify(next);
    }
    if (p.checkingSeq === null && p.verifiedAt !== before) {
      this.audit.emit(
        systemEvent('audit_verified', 'success', null, {
          verified_seq: p.verifiedSeq,
          checkpoints: p.checkpointsChecked,
        }),
      );
      return this.#scheduleVerify(next);
    }
    this.#verifyTimer = setTimeout(() => this.#verifyStep(before), 1);
    this.#verifyTimer.unref();
  }

  /** `GET /api/v1/review`: the running config and state against the baseline. */
  async review(): Promise<ReviewReport> {
    const plan = this.#plan;
    const { file, baseline } = loadBaseline(plan.reviewBaseline);
    const p = this.#chain?.progress() ?? null;
    const by = 'the running Tollgate';
    let live: VerifyRun | null = null;
    if (p !== null && !p.ok) live = { at: this.#clock.now(), ok: false, by, detail: p.problem ?? 'failed' };
    else if (p?.verifiedAt != null)
      live = { at: p.verifiedAt, ok: true, by, detail: `up to seq ${p.verifiedSeq ?? '-'}` };
    const input = await gatherReviewInput(plan, this.#store!, baseline, this.#clock.now(), live);
    return review(input, baseline, file);
  }

  /**
   * The plan of a (re-read) config file: in fleet mode its local keys with the fleet's shared
   * ones from etcd. Throws ConfigError (or TG_ERR_FLEET_ETCD when etcd cannot be read).
   */
  async planFromFile(text: string, file: string): Promise<RuntimePlan> {
    if (this.fleet?.sharesConfig === true) return this.fleet.planFromFile(text);
    return compileConfigText(text, file);
  }

  #host(): AdminHost {
    return {
      instance: this.instance,
      startedAt: this.#startedAt,
      plan: () => this.#plan,
      backend: (pool, name) => this.proxy.backends.get(pool, name),
      inflight: () => this.proxy.inflight(),
      listeners: () =>
        this.listeners().map((l) => ({
          name: l.name,
          address: `${l.host}:${l.port}`,
          port: l.port,
          tls: l.proto === 'https',
        })),
      workers: () => this.workers(),
      auditHealth: () => ({ ...this.audit.health }),
      auditLagSeconds: () => this.audit.lagSeconds(),
      history: () => this.history,
      applyPlan: (plan, actor, base) =>
        this.fleet === null ? this.reload(plan, actor) : this.fleet.publish(plan, actor, base),
      fleet: this.fleet === null ? null : () => this.fleet!.view(),
      fleetTop: this.fleet?.buckets == null ? null : (by, windowMs, n) => this.fleet!.top(by, windowMs, n),
      metrics: () => ({ contentType: this.metrics.contentType, text: this.metrics.render() }),
      alerts: () => this.alerts,
      topClients: (by) => (by === 'user' ? this.metrics.topUsers : this.metrics.topClients),
      review: () => this.review(),
    };
  }

  /** Applies an already compiled plan (SIGHUP or the admin API). */
  async reload(
    plan: RuntimePlan,
    actor: string,
    labels: Record<string, string | number | null> = {},
  ): Promise<void> {
    const before = this.#plan;
    const a = before.admin;
    const b = plan.admin;
    if (a?.host !== b?.host || a?.port !== b?.port || (a?.tls === null) !== (b?.tls === null))
      this.#logger.log('warn', 'the admin address or TLS changed: it takes effect at the next start');
    if (before.workers !== plan.workers)
      this.#logger.log('warn', 'workers changed: the number of worker processes changes at the next start', {
        running: before.workers,
        configured: plan.workers,
      });
    try {
      await this.proxy.reload(plan);
      await this.#cluster?.reload(plan.text, plan.source);
    } catch (err) {
      this.audit.emit(
        systemEvent(
          'config_reload',
          'failure',
          err instanceof Error ? err.message : String(err),
          { config: plan.source, ...labels },
          actor,
        ),
      );
      throw err;
    }
    this.audit.reload(plan);
    this.#plan = plan;
    this.#alertsOn = plan.alerts.rules.length > 0;
    this.audit.emit({
      ...systemEvent('config_reload', 'success', null, { config: plan.source, ...labels }, actor),
      diff: diffConfig(before.config, plan.config),
    });
  }

  #stopHistory(): void {
    if (this.#historyTimer !== null) clearInterval(this.#historyTimer);
    this.#historyTimer = null;
  }

  /** A reload refused before it reached the proxy (invalid config): recorded, nothing changes. */
  reloadRefused(reason: string, actor: string): void {
    this.audit.emit(systemEvent('config_reload', 'failure', reason, { config: this.#plan.source }, actor));
  }

  /** Drain: stop accepting, let in-flight requests finish until the deadline, then stop. Idempotent. */
  async stop(deadlineMs = 30_000): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#verifyTimer !== null) clearTimeout(this.#verifyTimer);
    await this.#canary?.stop();
    const { cut } = await (this.#cluster ?? this.proxy).drain(deadlineMs);
    await this.proxy.close();
    await this.#admin?.close();
    this.#stopHistory();
    await this.alerts.close();
    await this.fleet?.close();
    await this.#pump?.kick();
    await this.#pump?.close();
    this.audit.emit(
      systemEvent(
        'tollgate_stopped',
        'success',
        cut > 0 ? `${cut} connections cut at the drain deadline` : null,
      ),
    );
    await this.audit.stop();
    this.#store?.close();
    this.#logger.log('info', 'stopped', {
      cut,
      lost: this.audit.health.lost,
      last_seq: this.audit.health.lastSeq,
    });
  }
}
