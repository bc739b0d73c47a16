import type { RateLimitPlan } from '../config/index.js';
import type { Clock } from '../core/index.js';

/**
 * A token bucket per key (client IP or user) for one route's `rate_limit`: a bucket holds up to
 * `burst` tokens, gains `rate` tokens per second, and each admitted request takes one.
 *
 * Memory is bounded. Buckets are kept in least-recently-used order (a touched bucket moves to
 * the end of the map). A bucket idle long enough to have refilled completely is the same as no
 * bucket, so it is dropped (a sweep from the oldest end, at most once a second, that stops at
 * the first bucket still refilling). If the map still reaches `maxKeys`, the least recently
 * used buckets are dropped until it is 10% below: such a key starts again with a full bucket,
 * the only way the limit is relaxed, and only under a flood of distinct keys.
 */
export interface RateLimiterOptions {
  /** Buckets kept at most (default 100,000: a few MB). */
  readonly maxKeys?: number;
}

class Bucket {
  tokens: number;
  /** Monotonic ms of the last refill. */
  at: number;
  constructor(tokens: number, at: number) {
    this.tokens = tokens;
    this.at = at;
  }
}

const SWEEP_EVERY_MS = 1000;

export class RateLimiter {
  readonly plan: RateLimitPlan;
  readonly #clock: Clock;
  readonly #buckets = new Map<string, Bucket>();
  readonly #maxKeys: number;
  readonly #perMs: number;
  readonly #burst: number;
  /** How long an empty bucket takes to fill: idle this long, a bucket is full. */
  readonly #fillMs: number;
  #lastSweep: number;

  constructor(plan: RateLimitPlan, clock: Clock, options: RateLimiterOptions = {}) {
    if (!(plan.ratePerSecond > 0) || !(plan.burst >= 1)) {
      throw new TypeError(
        `rate must be above 0 and burst at least 1, got ${plan.ratePerSecond}/s, ${plan.burst}`,
      );
    }
    this.plan = plan;
    this.#clock = clock;
    this.#maxKeys = Math.max(1, options.maxKeys ?? 100_000);
    this.#perMs = plan.ratePerSecond / 1000;
    this.#burst = plan.burst;
    this.#fillMs = plan.burst / this.#perMs;
    this.#lastSweep = clock.monotonic();
  }

  /** Buckets held now. */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Takes a token for `key`: 0 when the request may pass, otherwise the milliseconds until the
   * bucket has a token again (nothing is taken then).
   */
  take(key: string): number {
    const now = this.#clock.monotonic();
    if (now - this.#lastSweep >= SWEEP_EVERY_MS) this.#sweep(now);
    const buckets = this.#buckets;
    let b = buckets.get(key);
    if (b === undefined) {
      if (buckets.size >= this.#maxKeys) this.#evict();
      b = new Bucket(this.#burst, now);
      buckets.set(key, b);
    } else {
      const refilled = b.tokens + (now - b.at) * this.#perMs;
      b.tokens = Math.min(refilled, this.#burst);
      b.at = now;
      buckets.delete(key);
      buckets.set(key, b);
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.#perMs));
  }

  /** Drops buckets that have refilled completely, oldest first, up to the first one still refilling. */
  #sweep(now: number): void {
    this.#lastSweep = now;
    const buckets = this.#buckets;
    for (const [key, b] of buckets) {
      if (now - b.at < this.#fillMs && b.tokens + (now - b.at) * this.#perMs < this.#burst) break;
      buckets.delete(key);
    }
  }

  /** At the cap: the full ones go first, then the least recently used until 10% below the cap. */
  #evict(): void {
    this.#sweep(this.#clock.monotonic());
    const buckets = this.#buckets;
    const target = Math.floor(this.#maxKeys * 0.9);
    if (buckets.size < this.#maxKeys) return;
    for (const key of buckets.keys()) {
      if (buckets.size <= target) break;
      buckets.delete(key);
    }
  }
}
