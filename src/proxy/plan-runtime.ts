import type { RoutePlan, RuntimePlan } from '../config/index.js';
import type { Clock } from '../core/index.js';
import type { BackendRegistry } from '../health/index.js';
import type { Authenticator, RateLimiter, RateLimits } from '../identity/index.js';
import { createAuthenticator } from '../identity/index.js';
import { PoolRuntime } from './pool-runtime.js';
import { RouteTable } from './route-table.js';
import type { Upstreams } from './upstreams.js';

/** A route as one plan runs it: its plan and what admit needs, each null when off. */
export interface RouteRuntime {
  readonly plan: RoutePlan;
  /** Built once per plan from `auth`; null: every request is anonymous. */
  readonly authenticator: Authenticator | null;
  /** The route's limiter from the shared RateLimits (its buckets outlive the plan); null: no limit. */
  readonly limiter: RateLimiter | null;
}

/** Runtime state several plans share: backend health, rate-limit buckets, the clock. */
export interface SharedRuntime {
  readonly clock: Clock;
  readonly backends: BackendRegistry;
  readonly upstreams: Upstreams;
  /** Synced to the plan before it is built. */
  readonly rateLimits: RateLimits;
}

/**
 * Everything the hot path looks up for one plan: the route table (with each route's
 * authenticator and rate limiter) and the pools. Requests keep the PlanRuntime they started
 * with, so a reload never changes a request in flight.
 */
export class PlanRuntime {
  readonly plan: RuntimePlan;
  readonly routes: RouteTable;
  readonly pools: ReadonlyMap<string, PoolRuntime>;
  /** durability: strict — responses end only once their record is durable. */
  readonly strict: boolean;

  constructor(plan: RuntimePlan, shared: SharedRuntime) {
    this.plan = plan;
    this.routes = new RouteTable(
      plan.routes.map((r) => ({
        plan: r,
        authenticator: r.auth === null ? null : createAuthenticator(r.auth, { clock: shared.clock }),
        limiter: r.rateLimit === null ? null : shared.rateLimits.get(r.name),
      })),
    );
    this.strict = plan.audit.durability === 'strict';
    const pools = new Map<string, PoolRuntime>();
    for (const p of plan.pools.values())
      pools.set(p.name, new PoolRuntime(p, shared.backends, shared.upstreams));
    this.pools = pools;
  }
}
