import { DURATION_BUCKETS } from './tollgate-metrics.js';

/** Status classes, in the order of `HistoryTotals.classes`. */
export const HISTORY_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'none'] as const;
export type HistoryClass = (typeof HISTORY_CLASSES)[number];

const N_CLASS = HISTORY_CLASSES.length;
/** Duration buckets plus +Inf. */
const N_BUCKET = DURATION_BUCKETS.length + 1;
/** Per point: class counts, then bucket counts. */
const WIDTH = N_CLASS + N_BUCKET;

/** Cumulative counters since the start, as the metrics registry holds them. */
export interface HistoryTotals {
  /** Requests per status class (HISTORY_CLASSES order). */
  readonly classes: ArrayLike<number>;
  /** Requests per duration bucket (DURATION_BUCKETS, then +Inf), not cumulative. */
  readonly buckets: ArrayLike<number>;
}

export interface HistoryTier {
  readonly stepMs: number;
  readonly points: number;
}

/** 1 s for 15 minutes, 10 s for 6 hours, 1 min for 48 hours: about 1.1 MB in all. */
export const HISTORY_TIERS: readonly HistoryTier[] = [
  { stepMs: 1000, points: 900 },
  { stepMs: 10_000, points: 2160 },
  { stepMs: 60_000, points: 2880 },
];

export interface HistorySeries {
  windowMs: number;
  stepMs: number;
  /** Epoch ms of the first sample: nothing older exists. */
  since: number;
  /** Bucket start times, epoch ms, ascending. */
  t: number[];
  /** Requests per second, per point. */
  rps: number[];
  byClass: Record<HistoryClass, number[]>;
  p50Ms: (number | null)[];
  p99Ms: (number | null)[];
  requests: number;
}

/** A ring of fixed-width points, one per step. */
class Ring {
  readonly stepMs: number;
  readonly size: number;
  readonly data: Float64Array;
  /** Index (time / step) of each slot's point; -1 when empty. */
  readonly index: Float64Array;
  /** Newest point index written. */
  head = -1;

  constructor(tier: HistoryTier) {
    this.stepMs = tier.stepMs;
    this.size = tier.points;
    this.data = new Float64Array(tier.points * WIDTH);
    this.index = new Float64Array(tier.points).fill(-1);
  }

  add(atMs: number, delta: Float64Array): void {
    const p = Math.floor(atMs / this.stepMs);
    if (p < this.head) return; // the clock stepped back: keep what we have
    const slot = p % this.size;
    if (this.index[slot] !== p) {
      this.index[slot] = p;
      this.data.fill(0, slot * WIDTH, (slot + 1) * WIDTH);
    }
    const base = slot * WIDTH;
    for (let i = 0; i < WIDTH; i++) this.data[base + i]! += delta[i]!;
    this.head = p;
  }

  /** Offset of point p's data, or -1 when it holds nothing (no sample fell in that step). */
  offset(p: number): number {
    const slot = p % this.size;
    return this.index[slot] === p ? slot * WIDTH : -1;
  }
}

/**
 * Upper-bound interpolation in the bucket where the rank falls (Prometheus' histogram_quantile):
 * accurate to the bucket's width; past the last finite bound it answers that bound.
 */
export function bucketQuantile(q: number, counts: ArrayLike<number>, offset = 0): number | null {
  let total = 0;
  for (let i = 0; i < N_BUCKET; i++) total += counts[offset + i]!;
  if (total <= 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < N_BUCKET; i++) {
    const c = counts[offset + i]!;
    if (seen + c >= rank && c > 0) {
      if (i === N_BUCKET - 1) return DURATION_BUCKETS[DURATION_BUCKETS.length - 1]! * 1000;
      const lo = i === 0 ? 0 : DURATION_BUCKETS[i - 1]!;
      const hi = DURATION_BUCKETS[i]!;
      return (lo + ((hi - lo) * (rank - seen)) / c) * 1000;
    }
    seen += c;
  }
  return DURATION_BUCKETS[DURATION_BUCKETS.length - 1]! * 1000;
}

/**
 * Time series of the request counters for the dashboard's charts: `sample(now)` (every second,
 * from the app) takes the difference of the registry's cumulative counters since the previous
 * sample and adds it to the current point of each tier. Nothing runs on the request path; the
 * history starts with the process, and a point is as precise as the duration buckets.
 */
export class MetricsHistory {
  readonly #totals: () => HistoryTotals;
  readonly #rings: Ring[];
  readonly #prev = new Float64Array(WIDTH);
  readonly #delta = new Float64Array(WIDTH);
  #since = -1;
  #last = -1;

  constructor(totals: () => HistoryTotals, tiers: readonly HistoryTier[] = HISTORY_TIERS) {
    this.#totals = totals;
    this.#rings = tiers.map((t) => new Ring(t));
  }

  /** The longest window kept. */
  get maxWindowMs(): number {
    let max = 0;
    for (const r of this.#rings) max = Math.max(max, r.stepMs * r.size);
    return max;
  }

  sample(nowMs: number): void {
    const t = this.#totals();
    const d = this.#delta;
    for (let i = 0; i < N_CLASS; i++) d[i] = t.classes[i]! - this.#prev[i]!;
    for (let i = 0; i < N_BUCKET; i++) d[N_CLASS + i] = t.buckets[i]! - this.#prev[N_CLASS + i]!;
    for (let i = 0; i < N_CLASS; i++) this.#prev[i] = t.classes[i]!;
    for (let i = 0; i < N_BUCKET; i++) this.#prev[N_CLASS + i] = t.buckets[i]!;
    if (this.#since < 0) {
      // the first sample only sets the baseline (counts before it belong to no known step)
      this.#since = nowMs;
      this.#last = nowMs;
      for (let i = 0; i < WIDTH; i++) d[i] = 0;
    }
    // the counts accrued in (last, now]: filed under the step that ends at now
    const at = Math.max(nowMs - 1, this.#since);
    for (const r of this.#rings) r.add(at, d);
    this.#last = nowMs;
  }

  /** The steps kept, finest first. */
  get stepsMs(): number[] {
    return this.#rings.map((r) => r.stepMs);
  }

  /** The series over the last `windowMs`, from the finest tier that covers it with steps of at least `minStepMs`. */
  series(windowMs: number, nowMs: number, minStepMs = 0): HistorySeries {
    const ring =
      this.#rings.find((r) => r.stepMs * r.size >= windowMs && r.stepMs >= minStepMs) ??
      this.#rings[this.#rings.length - 1]!;
    const step = ring.stepMs;
    const out: HistorySeries = {
      windowMs,
      stepMs: step,
      since: this.#since < 0 ? nowMs : this.#since,
      t: [],
      rps: [],
      byClass: { '1xx': [], '2xx': [], '3xx': [], '4xx': [], '5xx': [], none: [] },
      p50Ms: [],
      p99Ms: [],
      requests: 0,
    };
    if (this.#since < 0) return out;
    const first = Math.max(Math.floor((nowMs - windowMs) / step) + 1, Math.floor(this.#since / step));
    const lastPoint = Math.floor(Math.max(this.#last - 1, this.#since) / step);
    for (let p = first; p <= lastPoint; p++) {
      const start = p * step;
      // the seconds this point covers: a whole step, except the first (history began) and the current one
      const from = Math.max(start, this.#since);
      const to = Math.min(start + step, Math.max(this.#last, from + 1));
      const secs = Math.max((to - from) / 1000, 0.001);
      const o = ring.offset(p);
      out.t.push(start);
      let total = 0;
      for (let c = 0; c < N_CLASS; c++) {
        const n = o < 0 ? 0 : ring.data[o + c]!;
        total += n;
        out.byClass[HISTORY_CLASSES[c]!].push(n / secs);
      }
      out.requests += total;
      out.rps.push(total / secs);
      out.p50Ms.push(o < 0 ? null : bucketQuantile(0.5, ring.data, o + N_CLASS));
      out.p99Ms.push(o < 0 ? null : bucketQuantile(0.99, ring.data, o + N_CLASS));
    }
    return out;
  }
}
