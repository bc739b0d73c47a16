/**
 * A fixed-size map from string keys to slots 0..slots−1, for Space-Saving's hot path: open
 * addressing with linear probing in a power-of-two table at most half full, and deletion by
 * backward shift (no tombstones), so that inserting and deleting keys forever allocates nothing.
 * A Map would do the same job but, once its table lives in the old generation, every rehash forced
 * by deletions allocates a new table there: about 56 bytes of old-space garbage per evicted key,
 * measured with k = 256.
 *
 * The hash is FNV-1a over the UTF-16 code units, from a per-instance seed, with Murmur3's finalizer;
 * the seed (random unless injected) keeps a client from choosing addresses that share a probe run.
 * The full 32-bit hash of each slot is kept, so a probe compares numbers before strings.
 */
export class KeyIndex {
  readonly slots: number;
  #seed: number;
  #mask: number;
  /** table position → slot + 1; 0 is empty. */
  #table: Int32Array;
  #keys: string[];
  #hashes: Int32Array;
  #size = 0;

  constructor(slots: number, seed: number) {
    this.slots = slots;
    this.#seed = seed | 0;
    let size = 8;
    while (size < 2 * slots) size *= 2;
    this.#mask = size - 1;
    this.#table = new Int32Array(size);
    this.#keys = new Array<string>(slots).fill('');
    this.#hashes = new Int32Array(slots);
  }

  /** Keys held. */
  get size(): number {
    return this.#size;
  }

  hash(key: string): number {
    let h = this.#seed ^ 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return h ^ (h >>> 16);
  }

  /** The slot of `key` (whose hash() is `hash`), or −1. */
  find(key: string, hash: number): number {
    const table = this.#table;
    const mask = this.#mask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const entry = table[i]!;
      if (entry === 0) return -1;
      if (this.#hashes[entry - 1] === hash && this.#keys[entry - 1] === key) return entry - 1;
    }
  }

  /** Puts `key` (absent, with hash() `hash`) in the free `slot`. */
  set(slot: number, key: string, hash: number): void {
    const table = this.#table;
    const mask = this.#mask;
    let i = hash & mask;
    while (table[i] !== 0) i = (i + 1) & mask;
    table[i] = slot + 1;
    this.#keys[slot] = key;
    this.#hashes[slot] = hash;
    this.#size++;
  }

  /** Frees `slot` (which holds a key). */
  delete(slot: number): void {
    const table = this.#table;
    const mask = this.#mask;
    let hole = this.#hashes[slot]! & mask;
    while (table[hole] !== slot + 1) hole = (hole + 1) & mask;
    // Backward shift: pull later entries of the run into the hole unless that moves one before its home.
    for (let j = (hole + 1) & mask; table[j] !== 0; j = (j + 1) & mask) {
      const entry = table[j]!;
      const home = this.#hashes[entry - 1]! & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        table[hole] = entry;
        hole = j;
      }
    }
    table[hole] = 0;
    this.#keys[slot] = '';
    this.#size--;
  }

  keyAt(slot: number): string {
    return this.#keys[slot]!;
  }

  clear(): void {
    this.#table.fill(0);
    this.#keys.fill('');
    this.#size = 0;
  }
}
