import { hash32 } from './hash.js';
import { RoundRobinSelector } from './round-robin.js';
import type { SelectionView, Selector, SelectorFactory, SelectorOptions } from './selector.js';

/**
 * Ring points per unit of weight. Each backend's share of the ring deviates from its fair share
 * by about 1/sqrt(points): 160 points (ketama's figure) leave ±8% per backend, and over five
 * backends the worst one is commonly 15–25% off; 1024 points keep it near ±3% for 8 bytes each.
 */
export const POINTS_PER_WEIGHT = 1024;

/**
 * Upper bound on the ring's size (8 MiB of typed arrays). Only a pool whose weights sum past
 * 1024 gets fewer points per weight unit; then adding or removing a backend also moves a few
 * keys between the others, because everyone's point count is rescaled.
 */
export const MAX_RING_POINTS = 1 << 20;

/** Owner indexes are packed below the hash in one float64 for sorting: 2^32 * 2^21 = 2^53. */
const OWNER_SPAN = 2 ** 21;

/**
 * Consistent hashing on a ring of virtual nodes: backend `name` owns the points
 * `hash32(name, 0 … k-1)` where k is proportional to its weight, and a request key belongs to the
 * first point at or after `hash32(key)` (wrapping around). Points depend only on the backend's name
 * and weight, so adding or removing one backend moves only the keys it gains or loses. When the
 * owner is not eligible (unhealthy, draining, already tried) the ring is walked clockwise to the
 * next distinct eligible backend, so only that backend's keys move, spread over the others in
 * proportion to their share. Lookup is a binary search; with no hash key (`view.hashKey` null)
 * the selector falls back to round robin.
 */
export class ConsistentHashSelector implements Selector {
  /** Sorted point hashes. */
  readonly #points: Uint32Array;
  /** `#owners[p]` is the backend index owning `#points[p]`. */
  readonly #owners: Uint32Array;
  readonly #backendCount: number;
  readonly #fallback = new RoundRobinSelector();

  constructor(options: SelectorOptions) {
    const backends = options.backends;
    if (backends.length > OWNER_SPAN)
      throw new RangeError(`consistent_hash supports at most ${OWNER_SPAN} backends`);
    let totalWeight = 0;
    for (const backend of backends) totalWeight += backend.weight;
    const perWeight = Math.min(POINTS_PER_WEIGHT, MAX_RING_POINTS / totalWeight);
    const counts = backends.map((b) => Math.max(1, Math.round(b.weight * perWeight)));
    const packed = new Float64Array(counts.reduce((sum, c) => sum + c, 0));
    let p = 0;
    for (let i = 0; i < backends.length; i++) {
      const name = backends[i]!.name;
      for (let v = 0; v < counts[i]!; v++) packed[p++] = hash32(name, v) * OWNER_SPAN + i;
    }
    packed.sort();
    this.#points = new Uint32Array(packed.length);
    this.#owners = new Uint32Array(packed.length);
    for (let j = 0; j < packed.length; j++) {
      const owner = packed[j]! % OWNER_SPAN;
      this.#owners[j] = owner;
      this.#points[j] = (packed[j]! - owner) / OWNER_SPAN;
    }
    this.#backendCount = backends.length;
  }

  /** Number of points on the ring (for tests and diagnostics). */
  get ringSize(): number {
    return this.#points.length;
  }

  select(view: SelectionView): number {
    const key = view.hashKey;
    if (key === null) return this.#fallback.select(view);
    const owners = this.#owners;
    const size = owners.length;
    if (size === 0) return -1;
    let p = this.#locate(hash32(key));
    const owner = owners[p]!;
    if (view.eligible(owner)) return owner;
    if (!this.#anyEligible(view)) return -1;
    let last = owner;
    for (let step = 1; step < size; step++) {
      p = p + 1 === size ? 0 : p + 1;
      const next = owners[p]!;
      if (next === last) continue;
      if (next !== owner && view.eligible(next)) return next;
      last = next;
    }
    return -1;
  }

  /** Index of the first point >= hash, wrapping to 0 past the last one. */
  #locate(hash: number): number {
    const points = this.#points;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo === points.length ? 0 : lo;
  }

  /** O(backends) guard so the ring walk runs only when it will end on an eligible backend. */
  #anyEligible(view: SelectionView): boolean {
    for (let i = 0; i < this.#backendCount; i++) if (view.eligible(i)) return true;
    return false;
  }
}

/** Registry factory for `consistent_hash`. */
export const createConsistentHash: SelectorFactory = (options) => new ConsistentHashSelector(options);
