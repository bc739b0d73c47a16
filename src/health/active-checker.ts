import http from 'node:http';
import type { HealthCheckPlan } from '../config/index.js';
import type { BackendState } from './backend-state.js';

/**
 * Active HTTP health checks: every `interval`, GET `path` on a fresh connection; a 2xx or 3xx
 * within `timeout` passes. Results feed BackendState.observeCheck with the pool's thresholds.
 */
export class ActiveChecker {
  readonly #state: BackendState;
  #plan: HealthCheckPlan;
  #timer: NodeJS.Timeout | null = null;
  #inflight: Promise<void> | null = null;

  constructor(state: BackendState, plan: HealthCheckPlan) {
    this.#state = state;
    this.#plan = plan;
  }

  get plan(): HealthCheckPlan {
    return this.#plan;
  }

  start(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => this.checkNow(), this.#plan.intervalMs);
    this.#timer.unref();
    this.checkNow();
  }

  update(plan: HealthCheckPlan): void {
    const restart = plan.intervalMs !== this.#plan.intervalMs;
    this.#plan = plan;
    if (restart && this.#timer !== null) {
      this.stop();
      this.start();
    }
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Runs one check; while one is running, returns that one. */
  checkNow(): Promise<void> {
    if (this.#inflight !== null) return this.#inflight;
    this.#inflight = this.#check().finally(() => {
      this.#inflight = null;
    });
    return this.#inflight;
  }

  #check(): Promise<void> {
    const s = this.#state;
    const plan = this.#plan;
    return new Promise<void>((resolve) => {
      let settled = false;
      const done = (ok: boolean, error: string | null) => {
        if (settled) return;
        settled = true;
        s.observeCheck(ok, error, plan.healthyThreshold, plan.unhealthyThreshold);
        resolve();
      };
      const req = http.request(
        {
          host: s.host,
          port: s.port,
          path: plan.path,
          method: 'GET',
          agent: false,
          headers: { 'user-agent': 'tollgate-health-check' },
        },
        (res) => {
          res.resume();
          const status = res.statusCode ?? 0;
          res.on('end', () =>
            done(
              status >= 200 && status < 400,
              status >= 200 && status < 400 ? null : `GET ${plan.path} answered ${status}`,
            ),
          );
          res.on('error', (err) => done(false, `GET ${plan.path} failed: ${err.message}`));
        },
      );
      req.setTimeout(plan.timeoutMs, () => {
        req.destroy();
        done(false, `GET ${plan.path} timed out after ${plan.timeoutMs} ms`);
      });
      req.on('error', (err: NodeJS.ErrnoException) =>
        done(false, `GET ${plan.path} failed: ${err.code ?? err.message}`),
      );
      req.end();
    });
  }
}
