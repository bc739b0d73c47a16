import type { RuntimePlan } from '../config/index.js';
import type { BackendRegistry } from '../health/index.js';
import { PoolRuntime } from './pool-runtime.js';
import { RouteTable } from './route-table.js';
import type { Upstreams } from './upstreams.js';

/**
 * Everything the hot path looks up for one plan: the route table and the pools. Requests keep
 * the PlanRuntime they started with, so a reload never changes a request in flight.
 */
export class PlanRuntime {
  readonly plan: RuntimePlan;
  readonly routes: RouteTable;
  readonly pools: ReadonlyMap<string, PoolRuntime>;
  /** durability: strict — responses end only once their record is durable. */
  readonly strict: boolean;

  constructor(plan: RuntimePlan, registry: BackendRegistry, upstreams: Upstreams) {
    this.plan = plan;
    this.routes = new RouteTable(plan.routes);
    this.strict = plan.audit.durability === 'strict';
    const pools = new Map<string, PoolRuntime>();
    for (const p of plan.pools.values()) pools.set(p.name, new PoolRuntime(p, registry, upstreams));
    this.pools = pools;
  }
}
