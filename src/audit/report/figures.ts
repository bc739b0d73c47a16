import type { DurationHistogram } from './histogram.js';
import type { Durations } from './types.js';

/** Small helpers the report's builders share: times, rounding, quantiles, ordering, sampled records. */
export const iso = (ts: number): string => new Date(ts).toISOString();
export const isoOrNull = (ts: number): string | null => (Number.isFinite(ts) ? iso(ts) : null);
export const round = (n: number | null): number | null => (n === null ? null : Math.round(n * 1000) / 1000);

export function durations(h: DurationHistogram): Durations {
  return {
    p50_ms: round(h.quantile(0.5)),
    p99_ms: round(h.quantile(0.99)),
    max_ms: h.count === 0 ? null : round(h.max),
  };
}

/** Code-point order (not the locale's), so lists sort the same everywhere; null last. */
export function cmp(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}

export function byCountThenName<T>(
  count: (t: T) => number,
  name: (t: T) => string | null,
): (a: T, b: T) => number {
  return (a, b) => count(b) - count(a) || cmp(name(a), name(b));
}

/** The few record fields the report shows for a sample (any may be missing in a damaged record). */
export interface Sampled {
  http?: { request?: { method?: string } };
  url?: { path?: string };
  error?: { message?: string | null };
  user_agent?: { original?: string | null };
}

export function parse(text: string | undefined): Sampled | null {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as Sampled;
  } catch {
    return null;
  }
}
