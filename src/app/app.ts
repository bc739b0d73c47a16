import os from 'node:os';
import { Recorder } from '../audit/index.js';
import type { RuntimePlan } from '../config/index.js';
import { diffConfig } from '../config/index.js';
import type { Clock, Logger, OutcomeObserver, RequestOutcome } from '../core/index.js';
import { systemClock, systemEvent } from '../core/index.js';
import { DataPlane } from '../proxy/index.js';
import { EventLog } from './event-log.js';

export interface AppOptions {
  logger: Logger;
  clock?: Clock;
  /** Extra observers of every outcome (tests, later metrics). */
  observers?: OutcomeObserver[];
  /** Identifies this process on every record. */
  instance?: string;
}

/**
 * The composition root: wires the proxy's `complete` hand-off to the recorder and any other
 * observers, health/admin events to the event log, and owns start, reload and stop.
 */
export class App {
  readonly proxy: DataPlane;
  readonly recorder: Recorder;
  readonly events: EventLog;
  readonly #logger: Logger;
  #plan: RuntimePlan;
  #stopped = false;

  constructor(plan: RuntimePlan, options: AppOptions) {
    const clock = options.clock ?? systemClock;
    this.#plan = plan;
    this.#logger = options.logger;
    this.events = new EventLog(plan.dataDir, options.logger);
    this.recorder = new Recorder(plan, options.instance ?? `${os.hostname()}:${process.pid}`, options.logger);
    const observers: OutcomeObserver[] = [this.recorder, ...(options.observers ?? [])];
    const observer: OutcomeObserver =
      observers.length === 1
        ? this.recorder
        : {
            onOutcome(o: RequestOutcome) {
              for (const ob of observers) ob.onOutcome(o);
            },
          };
    this.proxy = new DataPlane({ clock, observer, logger: options.logger, events: this.events });
  }

  get plan(): RuntimePlan {
    return this.#plan;
  }

  async start(): Promise<void> {
    await this.proxy.start(this.#plan);
    this.events.emit(
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
      this.events.emit({
        ...systemEvent(
          'config_reload',
          'failure',
          err instanceof Error ? err.message : String(err),
          { config: plan.source },
          actor,
        ),
      });
      throw err;
    }
    this.recorder.reload(plan);
    this.#plan = plan;
    this.events.emit({
      ...systemEvent('config_reload', 'success', null, { config: plan.source }, actor),
      diff: diffConfig(before.config, plan.config),
    });
  }

  /** A reload refused before it reached the proxy (invalid config): recorded, nothing changes. */
  reloadRefused(reason: string, actor: string): void {
    this.events.emit(systemEvent('config_reload', 'failure', reason, { config: this.#plan.source }, actor));
  }

  /** Drain: stop accepting, let in-flight requests finish until the deadline, then stop. Idempotent. */
  async stop(deadlineMs = 30_000): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const { cut } = await this.proxy.drain(deadlineMs);
    await this.proxy.close();
    this.events.emit(
      systemEvent(
        'tollgate_stopped',
        'success',
        cut > 0 ? `${cut} connections cut at the drain deadline` : null,
      ),
    );
    this.recorder.close();
    this.events.close();
    this.#logger.log('info', 'stopped', { cut });
  }
}
