import type { Clock, TopClientView } from '../core/index.js';
import { ErrorCode, TollgateError } from '../core/index.js';
import { SpaceSaving } from './space-saving.js';

export interface TopClientsOptions {
  /** Time source; buckets follow its monotonic() time (no timers). */
  clock: Clock;
  /** Counters per bucket: k of Space-Saving. Default 256. */
  capacity?: number;
  /** Width of one time bucket in ms. Default 10 s. */
  bucketMs?: number;
  /** The windows top() answers, in ms, each a multiple of bucketMs. Default 1 min, 5 min, 15 min. */
  windowsMs?: readonly number[];
  /** Salts the key hash of every bucket (see key-index.ts). Default random. */
  seed?: number;
}

/** One row of top(): the field names are those of the admin API. */
export type TopClient = TopClientView;

export interface TopClientsStats {
  buckets: number;
  /** k: counters per bucket. */
  capacity: number;
  /** Counters in use across all buckets. */
  counters: number;
  /** buckets × k: the most counters this instance ever holds, whatever the number of distinct keys. */
  maxCounters: number;
}

interface Merged {
  key: string;
  /** Σ count over the buckets where the key holds a counter. */
  present: number;
  /** Σ (count − ε) over the same buckets: the lower bound. */
  lower: number;
  /** Σ min over the same buckets (to add the other buckets' min to the upper bound). */
  presentMin: number;
  errors: number;
  bytes: number;
}

export const DEFAULT_TOP_CLIENTS_WINDOWS_MS: readonly number[] = [60_000, 300_000, 900_000];

function usage(message: string): TollgateError {
  return new TollgateError(ErrorCode.USAGE, message, { source: 'usage' });
}

function windowName(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * The busiest keys (client addresses, or users) over sliding windows, in bounded memory: a ring of
 * time buckets (default 91 of 10 s, enough for 15 min), each its own Space-Saving summary of k
 * counters. observe() goes to the current bucket; top(window) merges the buckets the window covers.
 *
 * A window of W ms covers the current bucket and the W / bucketMs buckets before it: every
 * observation at most W old is in, none older than W + bucketMs is, so a 1 min window reads 60 to
 * 70 s of history. Other windows are refused (TG_ERR_USAGE naming the allowed ones) rather than
 * rounded, so that a number in the API always means the same span.
 *
 * Memory is buckets × k counters whatever the number of distinct keys (see docs/top-clients.md).
 */
export class TopClients {
  readonly bucketMs: number;
  readonly capacity: number;
  readonly windowsMs: readonly number[];
  #clock: Clock;
  #sketches: SpaceSaving[];
  /** slot → the bucket number (monotonic ms / bucketMs) it holds; −∞ when never used. */
  #epochs: Float64Array;
  #epoch = Number.NEGATIVE_INFINITY;
  #current: SpaceSaving;

  constructor(options: TopClientsOptions) {
    const bucketMs = options.bucketMs ?? 10_000;
    const capacity = options.capacity ?? 256;
    const windows = [...(options.windowsMs ?? DEFAULT_TOP_CLIENTS_WINDOWS_MS)].sort((a, b) => a - b);
    if (!Number.isInteger(bucketMs) || bucketMs < 1)
      throw usage(`top clients: bucketMs must be a positive integer, not ${bucketMs}`);
    if (windows.length === 0) throw usage('top clients: windowsMs needs at least one window');
    for (const w of windows)
      if (!Number.isInteger(w) || w < bucketMs || w % bucketMs !== 0)
        throw usage(`top clients: window ${w} ms is not a positive multiple of the ${bucketMs} ms bucket`);
    const buckets = windows[windows.length - 1]! / bucketMs + 1;
    if (buckets > 100_000) throw usage(`top clients: ${buckets} buckets is too many; use wider buckets`);
    this.bucketMs = bucketMs;
    this.capacity = capacity;
    this.windowsMs = Object.freeze(windows);
    this.#clock = options.clock;
    const seed = options.seed ?? (Math.random() * 0x100000000) | 0;
    this.#sketches = Array.from({ length: buckets }, () => new SpaceSaving(capacity, seed));
    this.#epochs = new Float64Array(buckets).fill(Number.NEGATIVE_INFINITY);
    this.#current = this.#sketches[0]!;
  }

  /**
   * Counts one request of `key` in the current bucket (hot path: O(log k), no allocation). `nowMs`
   * is the clock's monotonic() time: an observer feeding several instances (client address, user)
   * can read the clock once and pass it, as reading it can cost more than the rest of observe().
   */
  observe(key: string, isError: boolean, bytes: number, nowMs: number = this.#clock.monotonic()): void {
    const epoch = Math.floor(nowMs / this.bucketMs);
    if (epoch > this.#epoch) this.#rotate(epoch);
    this.#current.observe(key, 1, isError ? 1 : 0, bytes);
  }

  /**
   * The `n` keys with the most requests over the last `windowMs` (one of windowsMs), most first.
   * Counts over buckets add up: for each bucket the key has no counter in, its true count there is
   * at most that bucket's min, which is added to both `requests` and `error_bound`. So
   * `requests − error_bound ≤ true ≤ requests`, and every key with more than N/k of the window's N
   * requests is listed.
   */
  top(windowMs: number, n: number): TopClient[] {
    if (!this.windowsMs.includes(windowMs))
      throw usage(
        `top clients: window ${windowMs} ms is not one of ${this.windowsMs
          .map((w) => `${windowName(w)} (${w} ms)`)
          .join(', ')}`,
      );
    if (!Number.isInteger(n) || n < 1) throw usage(`top clients: n must be a positive integer, not ${n}`);
    const now = Math.floor(this.#clock.monotonic() / this.bucketMs);
    const oldest = now - windowMs / this.bucketMs;
    const merged = new Map<string, Merged>();
    let minSum = 0;
    let min = 0;
    const add = (key: string, count: number, errorBound: number, errors: number, bytes: number): void => {
      let m = merged.get(key);
      if (m === undefined) {
        m = { key, present: 0, lower: 0, presentMin: 0, errors: 0, bytes: 0 };
        merged.set(key, m);
      }
      m.present += count;
      m.lower += count - errorBound;
      m.presentMin += min;
      m.errors += errors;
      m.bytes += bytes;
    };
    for (let slot = 0; slot < this.#sketches.length; slot++) {
      const epoch = this.#epochs[slot]!;
      if (epoch < oldest || epoch > now) continue;
      const sketch = this.#sketches[slot]!;
      min = sketch.min;
      minSum += min;
      sketch.forEach(add);
    }
    const rows: TopClient[] = [];
    for (const m of merged.values()) {
      const requests = m.present + (minSum - m.presentMin);
      rows.push({ key: m.key, requests, errors: m.errors, bytes: m.bytes, error_bound: requests - m.lower });
    }
    rows.sort((a, b) => b.requests - a.requests || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    if (rows.length > n) rows.length = n;
    return rows;
  }

  /** The memory bound in counters, and how many are in use. */
  stats(): TopClientsStats {
    let counters = 0;
    for (const s of this.#sketches) counters += s.size;
    return {
      buckets: this.#sketches.length,
      capacity: this.capacity,
      counters,
      maxCounters: this.#sketches.length * this.capacity,
    };
  }

  /** Moves to bucket `epoch`, clearing the slots it reuses (at most one pass over the ring). */
  #rotate(epoch: number): void {
    const ring = this.#sketches.length;
    for (let e = Math.max(this.#epoch + 1, epoch - ring + 1); e <= epoch; e++) {
      const slot = ((e % ring) + ring) % ring;
      this.#sketches[slot]!.clear();
      this.#epochs[slot] = e;
    }
    this.#epoch = epoch;
    this.#current = this.#sketches[((epoch % ring) + ring) % ring]!;
  }
}
