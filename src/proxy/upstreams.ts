import { Pool } from 'undici';
import type { PoolPlan } from '../config/index.js';
import type { BackendState } from '../health/index.js';

/**
 * Keep-alive connection pools to backends (one undici Pool per backend and settings). They
 * outlive reloads: a reload that keeps a backend's address, timeouts and limit keeps its pool,
 * so warm connections stay warm. Pools no plan uses any more are closed gracefully (in-flight
 * requests finish first).
 */
export class Upstreams {
  readonly #pools = new Map<string, Pool>();

  #key(plan: PoolPlan, b: BackendState): string {
    const t = plan.timeouts;
    return `${b.address}|${t.connectMs}|${t.responseHeaderMs}|${t.idleMs}|${plan.maxConnections}`;
  }

  /** The pool for a backend under a pool plan, created on first use. */
  get(plan: PoolPlan, b: BackendState): Pool {
    const key = this.#key(plan, b);
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      pool = new Pool(`http://${b.address}`, {
        connections: plan.maxConnections,
        connectTimeout: plan.timeouts.connectMs,
        headersTimeout: plan.timeouts.responseHeaderMs,
        bodyTimeout: plan.timeouts.idleMs,
        keepAliveTimeout: 4_000,
        keepAliveMaxTimeout: 60_000,
        pipelining: 1,
      });
      this.#pools.set(key, pool);
    }
    return pool;
  }

  /** Closes pools that the given set of keys no longer uses. */
  retain(used: ReadonlySet<Pool>): void {
    for (const [key, pool] of this.#pools) {
      if (used.has(pool)) continue;
      this.#pools.delete(key);
      pool.close().catch(() => {});
    }
  }

  async close(): Promise<void> {
    const all = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(all.map((p) => p.destroy().catch(() => {})));
  }
}
