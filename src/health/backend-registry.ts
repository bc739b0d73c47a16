import type { RuntimePlan } from '../config/index.js';
import type { Clock, EventSink } from '../core/index.js';
import { ActiveChecker } from './active-checker.js';
import { BackendState } from './backend-state.js';

/**
 * All backends' runtime state, keyed by `pool/backend`. `sync(plan)` is called on start and on
 * every reload: state of backends that stay (same pool, name and address) is kept; new ones are
 * created, vanished ones dropped and their checkers stopped.
 */
export class BackendRegistry {
  readonly #states = new Map<string, BackendState>();
  readonly #checkers = new Map<string, ActiveChecker>();
  readonly #clock: Clock;
  readonly #events: EventSink;

  constructor(clock: Clock, events: EventSink) {
    this.#clock = clock;
    this.#events = events;
  }

  get(pool: string, backend: string): BackendState | undefined {
    return this.#states.get(`${pool}/${backend}`);
  }

  /** Backends of a pool in config order, as of the last sync. */
  all(): IterableIterator<BackendState> {
    return this.#states.values();
  }

  sync(plan: RuntimePlan): void {
    const seen = new Set<string>();
    for (const pool of plan.pools.values()) {
      for (const b of pool.backends) {
        const key = `${pool.name}/${b.name}`;
        seen.add(key);
        let s = this.#states.get(key);
        if (s !== undefined && s.address !== b.address) {
          this.#drop(key);
          s = undefined;
        }
        if (s === undefined) {
          s = new BackendState(
            pool.name,
            b.name,
            b.address,
            b.host,
            b.port,
            b.weight,
            this.#clock,
            this.#events,
          );
          this.#states.set(key, s);
        }
        s.weight = b.weight;
        const checker = this.#checkers.get(key);
        if (pool.healthCheck === null) {
          if (checker !== undefined) {
            checker.stop();
            this.#checkers.delete(key);
            s.healthy = true;
          }
        } else if (checker === undefined) {
          const c = new ActiveChecker(s, pool.healthCheck);
          this.#checkers.set(key, c);
          c.start();
        } else {
          checker.update(pool.healthCheck);
        }
      }
    }
    for (const key of [...this.#states.keys()]) if (!seen.has(key)) this.#drop(key);
  }

  #drop(key: string): void {
    this.#checkers.get(key)?.stop();
    this.#checkers.delete(key);
    this.#states.delete(key);
  }

  /** Runs every active check once now (tests and the admin API use it). */
  async checkAll(): Promise<void> {
    await Promise.all([...this.#checkers.values()].map((c) => c.checkNow()));
  }

  close(): void {
    for (const c of this.#checkers.values()) c.stop();
    this.#checkers.clear();
  }
}
