/**
 * Test-only helpers for the balancer's tests (not exported from index.ts): a seeded PRNG and a
 * mutable SelectionView with a retry loop, so selectors can be driven deterministically.
 */
import type { Candidate, SelectionView, Selector } from './selector.js';

/** mulberry32: a tiny seeded PRNG returning numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface MutableCandidate extends Candidate {
  name: string;
  weight: number;
  inflight: number;
  ewmaMs: number;
}

export interface TestViewOptions {
  /** Backend weights (default: five backends of weight 1). */
  readonly weights?: readonly number[];
  /** Backend names (default: b0, b1, …). */
  readonly names?: readonly string[];
  readonly seed?: number;
  readonly hashKey?: string | null;
}

/** A SelectionView whose eligibility, load and hash key a test sets directly. */
export class TestView implements SelectionView {
  readonly candidates: MutableCandidate[];
  /** Per backend: may it be chosen (false = unhealthy / draining / ejected). */
  readonly up: boolean[];
  /** Per backend: tried by the current request. */
  readonly tried: boolean[];
  hashKey: string | null;
  random: () => number;
  eligibleCalls = 0;

  constructor(options: TestViewOptions = {}) {
    const weights = options.weights ?? options.names?.map(() => 1) ?? [1, 1, 1, 1, 1];
    this.candidates = weights.map((weight, i) => ({
      name: options.names?.[i] ?? `b${i}`,
      weight,
      inflight: 0,
      ewmaMs: 0,
    }));
    this.up = weights.map(() => true);
    this.tried = weights.map(() => false);
    this.hashKey = options.hashKey ?? null;
    this.random = mulberry32(options.seed ?? 1);
  }

  /** The options a selector for this view's pool is built from. */
  get backends(): readonly { readonly name: string; readonly weight: number }[] {
    return this.candidates.map((c) => ({ name: c.name, weight: c.weight }));
  }

  eligible(index: number): boolean {
    this.eligibleCalls++;
    return this.up[index] === true && this.tried[index] === false;
  }

  /** Forget the tries of the previous request. */
  newRequest(hashKey: string | null = this.hashKey): this {
    this.tried.fill(false);
    this.hashKey = hashKey;
    return this;
  }
}

/**
 * One request with unlimited retries: select, mark the pick tried, select again, until -1 (or
 * until more picks than backends, which is a bug the caller's assertions will show).
 */
export function retryUntilExhausted(selector: Selector, view: TestView): number[] {
  const picks: number[] = [];
  for (let k = 0; k <= view.candidates.length; k++) {
    const pick = selector.select(view);
    picks.push(pick);
    if (pick < 0) break;
    view.tried[pick] = true;
  }
  return picks;
}

/** How many times each index appears in `picks` (ignoring -1). */
export function tally(picks: Iterable<number>, size: number): number[] {
  const counts = new Array<number>(size).fill(0);
  for (const pick of picks) if (pick >= 0) counts[pick] = (counts[pick] ?? 0) + 1;
  return counts;
}
