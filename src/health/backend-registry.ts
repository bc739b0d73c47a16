import type { RuntimePlan } from '../config/index.js';
import type { Clock, EventSink } from '../core/index.js';
import { ActiveChecker } from './active-checker.js';
import { BackendState } from './backend-state.js';

/** What the primary tells its workers about one backend. */
export interface BackendHealth {
  pool: string;
  name: string;
  healthy: boolean;
  draining: boolean;
}

/** What a cluster worker reports about one backend: its own share of the load. */
export interface BackendLoad {
  pool: string;
  name: string;
  inflight: number;
  ejected: boolean;
  ewmaMs: number;
  failures: number;
}

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
  /** False in a cluster worker: the primary runs the active checks and sends their verdicts (`mirror`). */
  readonly #activeChecks: boolean;

  constructor(clock: Clock, events: EventSink, activeChecks = true) {
    this.#clock = clock;
    this.#events = events;
    this.#activeChecks = activeChecks;
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
        if (pool.healthCheck === null || !this.#activeChecks) {
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

  /**
   * A cluster worker takes health and drain from the primary, which runs the active checks and
   * the admin API: set without events (the primary recorded them when they changed).
   */
  mirror(states: readonly BackendHealth[]): void {
    for (const m of states) {
      const s = this.#states.get(`${m.pool}/${m.name}`);
      if (s === undefined) continue;
      s.healthy = m.healthy;
      s.draining = m.draining;
    }
  }

  /** Health and drain of every backend, for `mirror` in the workers. */
  health(): BackendHealth[] {
    const out: BackendHealth[] = [];
    for (const s of this.#states.values())
      out.push({ pool: s.pool, name: s.name, healthy: s.healthy, draining: s.draining });
    return out;
  }

  /** This process's load on every backend, as a cluster worker reports it (`absorb` in the primary). */
  loads(): BackendLoad[] {
    const out: BackendLoad[] = [];
    for (const s of this.#states.values())
      out.push({
        pool: s.pool,
        name: s.name,
        inflight: s.inflight,
        ejected: s.ejectedUntil !== 0,
        ewmaMs: s.ewmaMs,
        failures: s.consecutiveFailures,
      });
    return out;
  }

  /**
   * The primary of a cluster serves nothing itself: its backend state takes the workers' latest
   * reports — in-flight summed, ejected if any worker ejected it (until that worker's next report;
   * the worker records the ejection and its end), latency averaged, failures the most of any worker.
   */
  absorb(reports: Iterable<readonly BackendLoad[]>): void {
    const sums = new Map<
      string,
      { inflight: number; ejected: boolean; ewma: number; n: number; failures: number }
    >();
    for (const report of reports) {
      for (const b of report) {
        const key = `${b.pool}/${b.name}`;
        const s = sums.get(key) ?? { inflight: 0, ejected: false, ewma: 0, n: 0, failures: 0 };
        s.inflight += b.inflight;
        s.ejected ||= b.ejected;
        if (b.ewmaMs > 0) {
          s.ewma += b.ewmaMs;
          s.n++;
        }
        s.failures = Math.max(s.failures, b.failures);
        sums.set(key, s);
      }
    }
    for (const [key, state] of this.#states) {
      const s = sums.get(key);
      state.inflight = s?.inflight ?? 0;
      state.ejectedUntil = s?.ejected === true ? Number.MAX_SAFE_INTEGER : 0;
      state.ewmaMs = s === undefined || s.n === 0 ? 0 : s.ewma / s.n;
      state.consecutiveFailures = s?.failures ?? 0;
    }
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
