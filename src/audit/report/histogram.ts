/**
 * A log-bucket histogram of durations in milliseconds with a fixed relative error (the
 * DDSketch layout): bucket i holds the values in (MIN_MS·γ^(i−1), MIN_MS·γ^i] and reports them
 * as 2·MIN_MS·γ^i/(γ+1), which is within ALPHA (1%) of every value in the bucket. So a quantile
 * read from it is within 1% of the exact nearest-rank quantile of the values added, whatever
 * their number, in a fixed 10 KB per histogram. Values at or below MIN_MS (1 µs, 0 included)
 * share bucket 0; values above MAX_MS (about 28 h) share the last one. Estimates are clamped
 * into the exact [min, max] seen, so p100 is the exact maximum.
 */
export const ALPHA = 0.01;
const GAMMA = (1 + ALPHA) / (1 - ALPHA);
const LOG_GAMMA = Math.log(GAMMA);
const MIN_MS = 0.001;
const MAX_MS = 1e8;
const BUCKETS = Math.ceil(Math.log(MAX_MS / MIN_MS) / LOG_GAMMA) + 1;

export class DurationHistogram {
  #buckets: Float64Array | null = null;
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  add(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.#buckets ??= new Float64Array(BUCKETS);
    const i = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / LOG_GAMMA));
    this.#buckets[i]!++;
    this.count++;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  /** The nearest-rank quantile (q in (0, 1]) within ALPHA, or null when nothing was added. */
  quantile(q: number): number | null {
    const b = this.#buckets;
    if (b === null || this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.count));
    if (rank >= this.count) return this.max;
    let seen = 0;
    for (let i = 0; i < b.length; i++) {
      seen += b[i]!;
      if (seen >= rank) {
        const estimate = i === 0 ? MIN_MS : (2 * MIN_MS * GAMMA ** i) / (GAMMA + 1);
        return Math.min(this.max, Math.max(this.min, estimate));
      }
    }
    return this.max;
  }
}
