import type { RateLimitPlan } from '../config/index.js';
import type { Clock } from '../core/index.js';
import type { Lease, SharedBuckets } from './shared-buckets.js';

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
  /**
   * Fleet mode: the bucket of a key is shared by every instance (Redis). Each instance holds a
   * small lease of tokens per key and renews it in the background; while the store is down the
   * local bucket applies. `route` names the bucket in the store.
   */
  readonly shared?: { readonly buckets: SharedBuckets; readonly route: string } | null;
}

/** A key's tokens leased from the shared bucket. */
class Held {
  /** May dip to -1: one request admitted on credit while a lease was on its way (repaid from it). */
  tokens = 0;
  /** Monotonic ms after which unused leased tokens are given up (so a lease is never hoarded). */
  expires = 0;
  /** Monotonic ms before which the shared bucket is known to be empty. */
  emptyUntil = 0;
  pending = false;
}

/** Unused leased tokens are dropped after this long. */
const LEASE_MS = 1000;

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
  readonly #shared: SharedBuckets | null;
  readonly #sharedId: string;
  /** Tokens asked for per lease: about 50 ms of the rate, at most the burst. */
  readonly #batch: number;
  readonly #held = new Map<string, Held>();

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
    this.#shared = options.shared?.buckets ?? null;
    this.#sharedId = `${options.shared?.route ?? ''}:${plan.per}:${plan.ratePerSecond}:${plan.burst}`;
    this.#batch = Math.max(1, Math.min(plan.burst, Math.ceil(plan.ratePerSecond / 20)));
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
    if (this.#shared?.up === true) return this.#takeShared(key, this.#shared);
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

  /**
   * Fleet mode: a token from this instance's lease of the shared bucket. When the lease runs low
   * a renewal is sent in the background; when it is empty and nothing is on its way, one request
   * goes through on credit (repaid from the next lease), so a quiet client never waits for a
   * round trip. A request never waits on the store.
   */
  #takeShared(key: string, shared: SharedBuckets): number {
    const now = this.#clock.monotonic();
    const held = this.#held;
    let h = held.get(key);
    if (h === undefined) {
      if (held.size >= this.#maxKeys) this.#evictHeld(now);
      h = new Held();
      held.set(key, h);
    }
    if (h.expires <= now && h.tokens > 0) h.tokens = 0;
    if (h.tokens >= 1) {
      h.tokens -= 1;
      if (h.tokens < this.#batch / 2 && !h.pending && now >= h.emptyUntil) this.#renew(key, h, shared, now);
      return 0;
    }
    if (now < h.emptyUntil) return Math.max(1, Math.ceil(h.emptyUntil - now));
    const wait = Math.max(1, Math.ceil(1 / this.#perMs));
    if (h.pending) return wait;
    // on credit only while no earlier credit is outstanding: at most one token owed per key
    const credit = h.tokens >= 0;
    if (credit) h.tokens -= 1;
    this.#renew(key, h, shared, now);
    return credit ? 0 : wait;
  }

  #renew(key: string, h: Held, shared: SharedBuckets, now: number): void {
    h.pending = true;
    const want = this.#batch + (h.tokens < 0 ? Math.ceil(-h.tokens) : 0);
    const clock = this.#clock;
    shared.lease(`${this.#sharedId}:${key}`, this.plan.ratePerSecond, this.#burst, want).then(
      (l: Lease) => {
        h.pending = false;
        h.tokens += l.granted;
        h.expires = now + LEASE_MS;
        if (l.granted < want) h.emptyUntil = clock.monotonic() + Math.max(1, l.waitMs);
      },
      () => {
        // the store is down: it says so itself (event, metric); this key waits for the next try
        h.pending = false;
        h.emptyUntil = clock.monotonic() + 100;
      },
    );
  }

  /** Leases not touched for a while go first (their tokens are expired anyway). */
  #evictHeld(now: number): void {
    const held = this.#held;
    const target = Math.floor(this.#maxKeys * 0.9);
    for (const [key, h] of held) {
      if (held.size <= target) break;
      if (!h.pending && (h.expires <= now || held.size >= this.#maxKeys)) held.delete(key);
    }
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
