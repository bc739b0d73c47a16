/**
 * Sliding windows over one-second buckets in a ring, for alert rules: O(1) to add, O(window in
 * seconds) to read. A bucket is reset lazily when the ring comes round to it again, so nothing
 * runs on a timer. Times are monotonic milliseconds from the injected clock.
 */

/** The longest window a rule may ask for. */
export const MAX_WINDOW_MS = 15 * 60_000;
const SLOTS = MAX_WINDOW_MS / 1000 + 1;

export class RollingCounter {
  readonly #values = new Float64Array(SLOTS);
  /** The second each slot holds, so a stale one reads as 0. */
  readonly #seconds = new Float64Array(SLOTS).fill(-1);

  add(nowMs: number, v = 1): void {
    const sec = Math.floor(nowMs / 1000);
    const i = sec % SLOTS;
    if (this.#seconds[i] !== sec) {
      this.#seconds[i] = sec;
      this.#values[i] = 0;
    }
    this.#values[i]! += v;
  }

  /** The sum over the last `windowMs` (whole seconds, the current one included). */
  sum(nowMs: number, windowMs: number): number {
    const now = Math.floor(nowMs / 1000);
    const n = Math.min(SLOTS - 1, Math.max(1, Math.ceil(windowMs / 1000)));
    let total = 0;
    for (let s = now - n + 1; s <= now; s++) {
      const i = ((s % SLOTS) + SLOTS) % SLOTS;
      if (this.#seconds[i] === s) total += this.#values[i]!;
    }
    return total;
  }
}

/** Log-spaced latency buckets: 0.1 ms × 1.25^k, k < 64 (up to ~160 s), so a quantile is within 12.5%. */
const BUCKETS = 64;
const BASE_MS = 0.1;
const LOG_GROWTH = Math.log(1.25);

function bucketOf(ms: number): number {
  if (ms <= BASE_MS) return 0;
  const k = Math.ceil(Math.log(ms / BASE_MS) / LOG_GROWTH);
  return k >= BUCKETS ? BUCKETS - 1 : k;
}

function upperBound(k: number): number {
  return BASE_MS * 1.25 ** k;
}

/** Latency histograms per second, for a quantile over a sliding window. */
export class RollingHistogram {
  readonly #counts = new Uint32Array(SLOTS * BUCKETS);
  readonly #seconds = new Float64Array(SLOTS).fill(-1);

  add(nowMs: number, ms: number): void {
    const sec = Math.floor(nowMs / 1000);
    const i = sec % SLOTS;
    if (this.#seconds[i] !== sec) {
      this.#seconds[i] = sec;
      this.#counts.fill(0, i * BUCKETS, (i + 1) * BUCKETS);
    }
    this.#counts[i * BUCKETS + bucketOf(ms)]!++;
  }

  /** The q-quantile (0.99 for p99) in ms over the window, as a bucket's upper bound, and how many samples. */
  quantile(nowMs: number, windowMs: number, q: number): { value: number; count: number } {
    const now = Math.floor(nowMs / 1000);
    const n = Math.min(SLOTS - 1, Math.max(1, Math.ceil(windowMs / 1000)));
    const merged = new Float64Array(BUCKETS);
    let count = 0;
    for (let s = now - n + 1; s <= now; s++) {
      const i = ((s % SLOTS) + SLOTS) % SLOTS;
      if (this.#seconds[i] !== s) continue;
      for (let k = 0; k < BUCKETS; k++) {
        const c = this.#counts[i * BUCKETS + k]!;
        merged[k]! += c;
        count += c;
      }
    }
    if (count === 0) return { value: 0, count: 0 };
    const rank = Math.ceil(q * count);
    let seen = 0;
    for (let k = 0; k < BUCKETS; k++) {
      seen += merged[k]!;
      if (seen >= rank) return { value: upperBound(k), count };
    }
    return { value: upperBound(BUCKETS - 1), count };
  }
}

/** The last `size` items pushed (a ring: a push overwrites the oldest; no shifting), read oldest first. */
export class Recent<T> {
  readonly #items: T[] = [];
  readonly #size: number;
  #next = 0;
  constructor(size: number) {
    this.#size = size;
  }
  push(item: T): void {
    if (this.#items.length < this.#size) this.#items.push(item);
    else this.#items[this.#next] = item;
    this.#next = (this.#next + 1) % this.#size;
  }
  list(): readonly T[] {
    const items = this.#items;
    return items.length < this.#size ? items : [...items.slice(this.#next), ...items.slice(0, this.#next)];
  }
}
