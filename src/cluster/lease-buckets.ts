import type { Lease } from '../identity/index.js';

interface Bucket {
  tokens: number;
  /** Monotonic ms of the last refill. */
  at: number;
  /** Monotonic ms when it is full again (then it is the same as no bucket). */
  fullAt: number;
}

const SWEEP_EVERY_MS = 1000;
const MAX_KEYS = 200_000;

/**
 * `workers` > 1: the primary's token buckets, which every worker's rate limiters lease from, so
 * a route's `rate_limit` holds for the instance and not once per worker. Same semantics as the
 * fleet's Redis buckets (docs/adr/0006-fleet.md): refilled on the primary's clock, up to `want`
 * tokens granted per lease, and when fewer, the ms until half of `want` (at most the burst) is
 * there again. A bucket is forgotten once it would be full; at MAX_KEYS the least recently used
 * go first (a forgotten key starts full, as with no bucket).
 */
export class LeaseBuckets {
  readonly #buckets = new Map<string, Bucket>();
  #lastSweep = 0;

  lease(id: string, ratePerSecond: number, burst: number, want: number, now: number): Lease {
    const perMs = ratePerSecond / 1000;
    if (now - this.#lastSweep >= SWEEP_EVERY_MS) this.#sweep(now);
    let b = this.#buckets.get(id);
    if (b === undefined) {
      if (this.#buckets.size >= MAX_KEYS) this.#evict();
      b = { tokens: burst, at: now, fullAt: now };
    } else {
      this.#buckets.delete(id);
      if (now > b.at) b.tokens = Math.min(burst, b.tokens + (now - b.at) * perMs);
      b.at = now;
    }
    const granted = Math.max(0, Math.min(want, Math.floor(b.tokens)));
    b.tokens -= granted;
    b.fullAt = now + (burst - b.tokens) / perMs;
    this.#buckets.set(id, b);
    const waitMs =
      granted < want ? Math.max(1, Math.ceil((Math.min(Math.ceil(want / 2), burst) - b.tokens) / perMs)) : 0;
    return { granted, waitMs };
  }

  /** Buckets held now. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Oldest touched first, up to the first one still refilling (later ones were touched later). */
  #sweep(now: number): void {
    this.#lastSweep = now;
    for (const [id, b] of this.#buckets) {
      if (b.fullAt > now) break;
      this.#buckets.delete(id);
    }
  }

  #evict(): void {
    const target = Math.floor(MAX_KEYS * 0.9);
    for (const id of this.#buckets.keys()) {
      if (this.#buckets.size <= target) break;
      this.#buckets.delete(id);
    }
  }
}
