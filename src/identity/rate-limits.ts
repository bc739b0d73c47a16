import type { RateLimitPlan, RoutePlan } from '../config/index.js';
import type { Clock } from '../core/index.js';
import { RateLimiter } from './rate-limiter.js';
import type { SharedBuckets } from './shared-buckets.js';

export interface RateLimitsOptions {
  readonly maxKeys?: number;
  /** Fleet mode: buckets shared by every instance (each route's limiter leases from them). */
  readonly sharedBuckets?: SharedBuckets | null;
}

/**
 * The rate limiters of the running routes: runtime state kept apart from the immutable plan
 * (DESIGN rule 7). `sync(plan.routes)` at every install keeps a route's buckets across reloads
 * while its name and its `rate_limit` (per, rate, burst) stay the same; a changed limit starts
 * with fresh buckets, a route gone or without a limit drops them.
 */
export class RateLimits {
  readonly #clock: Clock;
  readonly #options: RateLimitsOptions;
  #limiters = new Map<string, RateLimiter>();

  constructor(clock: Clock, options: RateLimitsOptions = {}) {
    this.#clock = clock;
    this.#options = options;
  }

  sync(routes: readonly RoutePlan[]): void {
    const next = new Map<string, RateLimiter>();
    for (const r of routes) {
      if (r.rateLimit === null) continue;
      const kept = this.#limiters.get(r.name);
      next.set(
        r.name,
        kept !== undefined && sameLimit(kept.plan, r.rateLimit)
          ? kept
          : new RateLimiter(r.rateLimit, this.#clock, {
              maxKeys: this.#options.maxKeys,
              shared:
                this.#options.sharedBuckets == null
                  ? null
                  : { buckets: this.#options.sharedBuckets, route: r.name },
            }),
      );
    }
    this.#limiters = next;
  }

  /** The limiter of a route (after `sync`), or null when the route has no rate_limit. */
  get(route: string): RateLimiter | null {
    return this.#limiters.get(route) ?? null;
  }
}

function sameLimit(a: RateLimitPlan, b: RateLimitPlan): boolean {
  return a.per === b.per && a.ratePerSecond === b.ratePerSecond && a.burst === b.burst;
}
