import os from 'node:os';
import { AuditPipeline } from '../audit/index.js';
import type { RuntimePlan } from '../config/index.js';
import { diffConfig } from '../config/index.js';
import type { AdminEvent, Clock, Logger, OutcomeObserver, RequestOutcome } from '../core/index.js';
import { systemClock, systemEvent } from '../core/index.js';
import { DataPlane } from '../proxy/index.js';

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
}

/**
 * The composition root: wires the proxy's `complete` hand-off to the audit pipeline and any
 * other observers, health/admin events into the same chained trail, the audit gate into the
 * proxy's receive phase, and owns start, reload and stop.
 */
export class App {
  readonly proxy: DataPlane;
  readonly audit: AuditPipeline;
  readonly #logger: Logger;
  #plan: RuntimePlan;
  #stopped = false;

  constructor(plan: RuntimePlan, options: AppOptions) {
    const clock = options.clock ?? systemClock;
    this.#plan = plan;
    this.#logger = options.logger;
    this.audit = new AuditPipeline(plan, {
      instance: options.instance ?? `${os.hostname()}:${process.pid}`,
      logger: options.logger,
      clock,
    });
    const audit = this.audit;
    const extra = options.observers ?? [];
    const observer: OutcomeObserver =
      options.benchAuditOff === true
        ? { onOutcome() {} }
        : extra.length === 0
          ? audit
          : {
              onOutcome(o: RequestOutcome) {
                audit.onOutcome(o);
                for (const ob of extra) ob.onOutcome(o);
              },
            };
    this.proxy = new DataPlane({
      clock,
      observer,
      logger: options.logger,
      events: audit,
      auditGate: () => audit.gate(),
      durable: () => audit.committed(),
    });
  }

  get plan(): RuntimePlan {
    return this.#plan;
  }

  /** Admin events as they are recorded (tests, the admin stream). */
  get events(): { subscribe(fn: (e: AdminEvent) => void): void } {
    return this.audit;
  }

  async start(): Promise<void> {
    await this.audit.start();
    try {
      await this.proxy.start(this.#plan);
    } catch (err) {
      await this.audit.stop();
      throw err;
    }
    this.audit.emit(
      systemEvent('tollgate_started', 'success', null, {
        config: this.#plan.source,
        listeners: this.#plan.listeners.length,
      }),
    );
  }

  /** Applies an already compiled plan (SIGHUP or the admin API). */
  async reload(plan: RuntimePlan, actor: string): Promise<void> {
    const before = this.#plan;
    try {
      await this.proxy.reload(plan);
    } catch (err) {
      this.audit.emit(
        systemEvent(
          'config_reload',
          'failure',
          err instanceof Error ? err.message : String(err),
          { config: plan.source },
          actor,
        ),
      );
      throw err;
    }
    this.audit.reload(plan);
    this.#plan = plan;
    this.audit.emit({
      ...systemEvent('config_reload', 'success', null, { config: plan.source }, actor),
      diff: diffConfig(before.config, plan.config),
    });
  }

  /** A reload refused before it reached the proxy (invalid config): recorded, nothing changes. */
  reloadRefused(reason: string, actor: string): void {
    this.audit.emit(systemEvent('config_reload', 'failure', reason, { config: this.#plan.source }, actor));
  }

  /** Drain: stop accepting, let in-flight requests finish until the deadline, then stop. Idempotent. */
  async stop(deadlineMs = 30_000): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const { cut } = await this.proxy.drain(deadlineMs);
    await this.proxy.close();
    this.audit.emit(
      systemEvent(
        'tollgate_stopped',
        'success',
        cut > 0 ? `${cut} connections cut at the drain deadline` : null,
      ),
    );
    await this.audit.stop();
    this.#logger.log('info', 'stopped', {
      cut,
      lost: this.audit.health.lost,
      last_seq: this.audit.health.lastSeq,
    });
  }
}
