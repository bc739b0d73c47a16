import { ErrorCode, TollgateError } from '../core/index.js';
import { KeyIndex } from './key-index.js';

/** One counter of a summary, as read (never on the hot path). */
export interface SpaceSavingCounter {
  key: string;
  /** Estimated weight: never below the true weight since the summary was cleared. */
  count: number;
  /** Overestimation ε, the count inherited on entry: `count − errorBound ≤ true ≤ count`; 0 means exact. */
  errorBound: number;
  /** Errors observed since the key (last) entered the summary: exact when `errorBound` is 0, else a lower bound. */
  errors: number;
  /** Bytes observed since the key (last) entered the summary: exact when `errorBound` is 0, else a lower bound. */
  bytes: number;
}

/**
 * Space-Saving (Metwally, Agrawal, El Abbadi, "Efficient computation of frequent and top-k elements
 * in data streams", ICDT 2005) with `capacity` = k counters, kept in an indexed min-heap on count
 * plus a fixed hash table from key to slot (key-index.ts). With N the total weight observed since
 * the last clear():
 *
 * - memory is k counters whatever the number of distinct keys;
 * - every key whose true weight is above N/k holds a counter;
 * - for every counter, `count − errorBound ≤ true ≤ count`, and `errorBound ≤ min ≤ N/k`, where `min` is the
 *   smallest count (0 while fewer than k keys were seen: then every count is exact);
 * - a key without a counter has a true weight of at most `min`.
 *
 * A key seen for the first time when all k counters are taken replaces the key with the smallest
 * count and inherits that count as its `errorBound` (ε). The side sums (errors, bytes) restart at that
 * moment: they are attributed only from when the key entered the summary, so they are exact for a
 * key that was never evicted (`errorBound` 0) and lower bounds otherwise.
 *
 * observe() is O(log k) plus hashing the key, and allocates nothing: all memory is taken by the
 * constructor. Keys are held by reference: pass short strings (addresses, user names), not slices
 * of large buffers.
 */
export class SpaceSaving {
  readonly capacity: number;
  #index: KeyIndex;
  #count: Float64Array;
  #epsilon: Float64Array;
  #errors: Float64Array;
  #bytes: Float64Array;
  /** heap position → slot; a min-heap on #count. */
  #heap: Int32Array;
  /** slot → heap position. */
  #pos: Int32Array;
  #used = 0;
  #total = 0;

  /** `seed` salts the key hash (see KeyIndex); random unless given. */
  constructor(capacity: number, seed: number = (Math.random() * 0x100000000) | 0) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1_000_000)
      throw new TollgateError(
        ErrorCode.USAGE,
        `Space-Saving capacity must be an integer from 1 to 1000000, not ${capacity}`,
      );
    this.capacity = capacity;
    this.#index = new KeyIndex(capacity, seed);
    this.#count = new Float64Array(capacity);
    this.#epsilon = new Float64Array(capacity);
    this.#errors = new Float64Array(capacity);
    this.#bytes = new Float64Array(capacity);
    this.#heap = new Int32Array(capacity);
    this.#pos = new Int32Array(capacity);
  }

  /** Counters in use: at most `capacity`. */
  get size(): number {
    return this.#index.size;
  }

  /** N: the total weight observed since the last clear(). */
  get total(): number {
    return this.#total;
  }

  /** The smallest count once all counters are taken (else 0): the bound on every errorBound and on any absent key. */
  get min(): number {
    return this.#used < this.capacity ? 0 : this.#count[this.#heap[0]!]!;
  }

  /** Adds `weight` (> 0) to `key`, and `errors` and `bytes` (≥ 0) to its side sums. */
  observe(key: string, weight = 1, errors = 0, bytes = 0): void {
    if (!(weight > 0 && weight < Number.POSITIVE_INFINITY && errors >= 0 && bytes >= 0))
      throw new TollgateError(
        ErrorCode.USAGE,
        `Space-Saving observe needs a finite weight > 0 and errors, bytes ≥ 0, not ${weight}, ${errors}, ${bytes}`,
      );
    this.#total += weight;
    const hash = this.#index.hash(key);
    let slot = this.#index.find(key, hash);
    if (slot !== -1) {
      this.#count[slot]! += weight;
      this.#errors[slot]! += errors;
      this.#bytes[slot]! += bytes;
      this.#siftDown(this.#pos[slot]!);
      return;
    }
    if (this.#used < this.capacity) {
      slot = this.#used++;
      this.#epsilon[slot] = 0;
      this.#count[slot] = weight;
      this.#heap[slot] = slot;
      this.#pos[slot] = slot;
      this.#siftUp(slot);
    } else {
      slot = this.#heap[0]!;
      this.#index.delete(slot);
      const inherited = this.#count[slot]!;
      this.#epsilon[slot] = inherited;
      this.#count[slot] = inherited + weight;
      this.#siftDown(0);
    }
    this.#errors[slot] = errors;
    this.#bytes[slot] = bytes;
    this.#index.set(slot, key, hash);
  }

  /** The counter of `key`, or undefined when it has none (its true weight is then at most `min`). */
  get(key: string): SpaceSavingCounter | undefined {
    const slot = this.#index.find(key, this.#index.hash(key));
    return slot === -1 ? undefined : this.#counter(slot);
  }

  /** Every counter in use, largest count first (ties by key). */
  counters(): SpaceSavingCounter[] {
    const out: SpaceSavingCounter[] = [];
    for (let slot = 0; slot < this.#used; slot++) out.push(this.#counter(slot));
    return out.sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Calls `visit` for every counter in use, in no order, without allocating (for merges). */
  forEach(
    visit: (key: string, count: number, errorBound: number, errors: number, bytes: number) => void,
  ): void {
    for (let slot = 0; slot < this.#used; slot++)
      visit(
        this.#index.keyAt(slot),
        this.#count[slot]!,
        this.#epsilon[slot]!,
        this.#errors[slot]!,
        this.#bytes[slot]!,
      );
  }

  /** Forgets every key; keeps the memory for reuse. */
  clear(): void {
    this.#index.clear();
    this.#used = 0;
    this.#total = 0;
  }

  #counter(slot: number): SpaceSavingCounter {
    return {
      key: this.#index.keyAt(slot),
      count: this.#count[slot]!,
      errorBound: this.#epsilon[slot]!,
      errors: this.#errors[slot]!,
      bytes: this.#bytes[slot]!,
    };
  }

  #siftUp(i: number): void {
    const heap = this.#heap;
    const count = this.#count;
    const slot = heap[i]!;
    const c = count[slot]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (count[p]! <= c) break;
      heap[i] = p;
      this.#pos[p] = i;
      i = parent;
    }
    heap[i] = slot;
    this.#pos[slot] = i;
  }

  #siftDown(i: number): void {
    const heap = this.#heap;
    const count = this.#count;
    const n = this.#used;
    const slot = heap[i]!;
    const c = count[slot]!;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && count[heap[right]!]! < count[heap[child]!]!) child = right;
      const s = heap[child]!;
      if (count[s]! >= c) break;
      heap[i] = s;
      this.#pos[s] = i;
      i = child;
    }
    heap[i] = slot;
    this.#pos[slot] = i;
  }
}
