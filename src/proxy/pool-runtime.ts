import type { Pool } from 'undici';
import type { Candidate, SelectionView, Selector } from '../balancer/index.js';
import { createSelector, createStickyCodec } from '../balancer/index.js';
import type { PoolPlan } from '../config/index.js';
import type { BackendRegistry, BackendState } from '../health/index.js';
import type { Upstreams } from './upstreams.js';

/** What select needs from a request: the backends it already tried and its hash key. */
export interface SelectionRequest {
  readonly tried: readonly number[];
  hashKey: string | null;
}

/**
 * A pool as one plan sees it: its backends' runtime state (shared across plans), its selector,
 * sticky codec and upstream connection pools, and the counters for the retry budget. It is its
 * own SelectionView: `select` sets the current request, asks the selector, and clears it, all
 * synchronously, so no view object is allocated per request.
 */
export class PoolRuntime implements SelectionView {
  readonly plan: PoolPlan;
  readonly states: readonly BackendState[];
  readonly upstreams: readonly Pool[];
  readonly sticky: ReturnType<typeof createStickyCodec> | null;
  /** Requests of this plan's pool in flight, and retries among them (budget). */
  active = 0;
  activeRetries = 0;
  readonly #selector: Selector;
  #request: SelectionRequest | null = null;

  constructor(plan: PoolPlan, registry: BackendRegistry, upstreams: Upstreams) {
    this.plan = plan;
    this.states = plan.backends.map((b) => registry.get(plan.name, b.name)!);
    this.upstreams = this.states.map((s) => upstreams.get(plan, s));
    this.#selector = createSelector(plan.algorithm, { backends: plan.backends });
    this.sticky =
      plan.sticky === null
        ? null
        : createStickyCodec(
            plan.name,
            plan.backends.map((b) => b.name),
          );
  }

  get candidates(): readonly Candidate[] {
    return this.states;
  }

  get hashKey(): string | null {
    return this.#request === null ? null : this.#request.hashKey;
  }

  random(): number {
    return Math.random();
  }

  eligible(index: number): boolean {
    const s = this.states[index];
    if (s === undefined || !s.ready() || s.inflight >= this.plan.maxConnections) return false;
    return this.#request === null || !this.#request.tried.includes(index);
  }

  /** Index of the next backend for this request, or -1. */
  select(request: SelectionRequest): number {
    this.#request = request;
    try {
      return this.#selector.select(this);
    } finally {
      this.#request = null;
    }
  }

  /** Some backend other than `except` (or, failing that, `except` itself) is ready for another try. */
  anyReady(except: number): boolean {
    for (let i = 0; i < this.states.length; i++) if (i !== except && this.states[i]!.ready()) return true;
    return this.states[except]?.ready() ?? false;
  }

  /** Why nothing was eligible: every ready, untried backend is at max_connections (circuit) or none is ready. */
  circuitOpen(tried: readonly number[]): boolean {
    let full = false;
    for (let i = 0; i < this.states.length; i++) {
      const s = this.states[i]!;
      if (!s.ready() || tried.includes(i)) continue;
      if (s.inflight >= this.plan.maxConnections) full = true;
    }
    return full;
  }

  /** A retry may start if retries in flight stay within budget_percent of active requests (at least 3). */
  retryAllowed(): boolean {
    return this.activeRetries < Math.max(3, this.plan.retries.budget * this.active);
  }
}
