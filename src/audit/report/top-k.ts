/**
 * Space-Saving (Metwally, Agrawal, El Abbadi 2005): the heaviest keys of a stream in a fixed
 * number of counters. While there are at most `capacity` distinct keys every count is exact.
 * Past that, a new key takes over the smallest counter (count + 1, remembering the count it
 * inherited as `error`), so a count over-estimates by at most its `error` ≤ N / capacity, and
 * every key seen more than N / capacity times holds a counter. A counter with error 0 has been
 * its key's since the key first came: its count and its `stats` are exact. The report
 * re-counts the others from the store before it shows them.
 *
 * The counters sit in a min-heap on count, so an update is O(log capacity) at worst.
 */
export interface Counter<S> {
  key: string;
  count: number;
  error: number;
  stats: S;
  /** Position in the heap. */
  pos: number;
}

export class SpaceSaving<S> {
  readonly #capacity: number;
  readonly #make: () => S;
  readonly #heap: Counter<S>[] = [];
  readonly #byKey = new Map<string, Counter<S>>();
  /** Whether a counter was ever taken over (some counts are then estimates). */
  overflowed = false;

  constructor(capacity: number, make: () => S) {
    this.#capacity = capacity;
    this.#make = make;
  }

  /** Counts one occurrence of `key`; returns its counter so the caller can add to its stats. */
  add(key: string): Counter<S> {
    const heap = this.#heap;
    let c = this.#byKey.get(key);
    if (c !== undefined) {
      c.count++;
      this.#down(c.pos);
      return c;
    }
    if (heap.length < this.#capacity) {
      c = { key, count: 1, error: 0, stats: this.#make(), pos: heap.length };
      heap.push(c);
      this.#byKey.set(key, c);
      this.#up(c.pos);
      return c;
    }
    this.overflowed = true;
    c = heap[0]!;
    this.#byKey.delete(c.key);
    c.key = key;
    c.error = c.count;
    c.count++;
    c.stats = this.#make();
    this.#byKey.set(key, c);
    this.#down(0);
    return c;
  }

  /** The `n` largest counters, largest first (ties by key). */
  top(n: number): Counter<S>[] {
    return [...this.#heap]
      .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .slice(0, n);
  }

  get size(): number {
    return this.#heap.length;
  }

  #up(i: number): void {
    const heap = this.#heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.count <= heap[i]!.count) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const heap = this.#heap;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) return;
      const r = l + 1;
      const child = r < heap.length && heap[r]!.count < heap[l]!.count ? r : l;
      if (heap[i]!.count <= heap[child]!.count) return;
      this.#swap(i, child);
      i = child;
    }
  }

  #swap(i: number, j: number): void {
    const heap = this.#heap;
    const a = heap[i]!;
    const b = heap[j]!;
    heap[i] = b;
    heap[j] = a;
    a.pos = j;
    b.pos = i;
  }
}
