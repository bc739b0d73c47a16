/**
 * The newest `limit` matches by seq, read from an index in time order.
 *
 * Every index reads a filter + time range in `ts` order (records_ts has `ts` right after `kind`;
 * the others end in `ts`), so SQLite hands out the matches newest-first by `ts` without sorting
 * them; the order of equal times does not matter here. `query` promises
 * newest-first by `seq`, and `ts` only nearly follows `seq` (records are numbered as they reach
 * the writer, a few ms after their `event.end`). The store bounds how far that can go: `lag` is
 * the largest amount by which a record's ts was ever behind the newest ts already stored when it
 * was inserted (kept by `insertBatch`). So a record inserted after record r has ts ≥ ts(r) − lag.
 *
 * Reading in `ts DESC` order while keeping the `limit` highest seqs seen: let r be the lowest
 * of those. Once the stream reaches ts < ts(r) − lag, every record not yet read was inserted
 * before r (a later one would have ts ≥ ts(r) − lag), so its seq is below all those kept, and
 * the answer is complete. Reading stops there: about `limit` entries plus the lag's worth of
 * time, however large the store, instead of sorting every match of the range.
 */
export type StreamEntry = readonly [seq: number, ts: number, clientIp?: string | null];

/** A min-heap of [seq, ts] by seq: the lowest kept seq is on top. */
class SeqHeap {
  readonly seqs: number[] = [];
  readonly ts: number[] = [];

  get size(): number {
    return this.seqs.length;
  }

  push(seq: number, ts: number): void {
    let i = this.seqs.length;
    this.seqs.push(seq);
    this.ts.push(ts);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.seqs[parent]! <= seq) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  /** Replaces the lowest seq with this one and restores the heap. */
  replaceTop(seq: number, ts: number): void {
    this.seqs[0] = seq;
    this.ts[0] = ts;
    const n = this.seqs.length;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let low = i;
      if (left < n && this.seqs[left]! < this.seqs[low]!) low = left;
      if (right < n && this.seqs[right]! < this.seqs[low]!) low = right;
      if (low === i) return;
      this.#swap(i, low);
      i = low;
    }
  }

  #swap(a: number, b: number): void {
    const s = this.seqs[a]!;
    const t = this.ts[a]!;
    this.seqs[a] = this.seqs[b]!;
    this.ts[a] = this.ts[b]!;
    this.seqs[b] = s;
    this.ts[b] = t;
  }
}

/**
 * The `limit` highest seqs among the entries `accept` takes, highest first, from a stream ordered
 * by ts descending (equal times in any order). Stops reading as soon as no later entry can qualify.
 */
export function newestSeqs(
  stream: Iterable<StreamEntry>,
  limit: number,
  lag: number,
  accept: ((entry: StreamEntry) => boolean) | null,
): number[] {
  const heap = new SeqHeap();
  let bound = Number.NEGATIVE_INFINITY;
  for (const entry of stream) {
    const [seq, ts] = entry;
    if (ts < bound) break;
    if (accept !== null && !accept(entry)) continue;
    if (heap.size < limit) {
      heap.push(seq, ts);
      if (heap.size === limit) bound = heap.ts[0]! - lag;
    } else if (seq > heap.seqs[0]!) {
      heap.replaceTop(seq, ts);
      bound = heap.ts[0]! - lag;
    }
  }
  return heap.seqs.sort((a, b) => b - a);
}
