import fs from 'node:fs';
import type { Checkpoint, Store } from '../store/index.js';
import { chainHash, embeddedSeq, GENESIS, verifyAnchor, verifyCheckpoint } from './chain.js';

/**
 * `tollgate verify`: recompute the chain from the records themselves and check every signed
 * checkpoint. The first problem found is named by seq:
 *   `seq N missing` (a gap), `seq N out of order` (a record that says it is another seq),
 *   `seq N altered` (its bytes or its hash changed), `truncated: records end at seq N,
 *   checkpoint signs M`, or a checkpoint whose signature or hash does not hold.
 */
export interface VerifyResult {
  ok: boolean;
  /** Records checked. */
  records: number;
  firstSeq: number | null;
  lastSeq: number | null;
  checkpoints: number;
  lastCheckpoint: Checkpoint | null;
  problem: string | null;
  firstBadSeq: number | null;
}

/** Checkpoints from the store and from checkpoints.jsonl, by seq (the file survives a truncated table). */
export function loadCheckpoints(store: Store, file: string | null): Checkpoint[] {
  const bySeq = new Map<number, Checkpoint>();
  for (const c of store.checkpoints()) bySeq.set(c.seq, c);
  if (file !== null && fs.existsSync(file)) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        const c = JSON.parse(line) as Checkpoint;
        if (Number.isInteger(c.seq) && !bySeq.has(c.seq)) bySeq.set(c.seq, c);
      } catch {
        // a torn last line (crash while appending) is not a checkpoint
      }
    }
  }
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

export function verifyChain(
  store: Store,
  publicKeyPem: string,
  checkpointsFile: string | null,
  onProgress: ((checked: number, total: number) => void) | null = null,
): VerifyResult {
  const checkpoints = loadCheckpoints(store, checkpointsFile);
  const total = store.count();
  const result: VerifyResult = {
    ok: false,
    records: 0,
    firstSeq: null,
    lastSeq: null,
    checkpoints: 0,
    lastCheckpoint: null,
    problem: null,
    firstBadSeq: null,
  };
  const bad = (seq: number, problem: string): VerifyResult => {
    result.problem = problem;
    result.firstBadSeq = seq;
    return result;
  };

  let prev = GENESIS;
  let expected = 1;
  const anchor = store.anchor();
  if (anchor !== null) {
    if (!verifyAnchor(publicKeyPem, anchor.seq, anchor.hash, anchor.ts, anchor.signature)) {
      return bad(anchor.seq, `the retention anchor at seq ${anchor.seq} has an invalid signature`);
    }
    prev = anchor.hash;
    expected = anchor.seq + 1;
  }
  const due = checkpoints.filter((c) => c.seq >= expected);
  let next = 0; // index into due
  let lastGood: Checkpoint | null = null;
  for (let from = expected; ; ) {
    const rows = store.rowsFrom(from, 10_000);
    if (rows.length === 0) break;
    for (const row of rows) {
      if (row.seq !== expected) return bad(expected, `seq ${expected} missing`);
      if (embeddedSeq(row.rec) !== row.seq)
        return bad(row.seq, `seq ${row.seq} out of order (the record says seq ${embeddedSeq(row.rec)})`);
      const h = chainHash(prev, row.rec);
      if (h !== row.hash) return bad(row.seq, `seq ${row.seq} altered`);
      while (next < due.length && due[next]!.seq === row.seq) {
        const c = due[next]!;
        if (!verifyCheckpoint(publicKeyPem, c.seq, c.hash, c.ts, c.signature))
          return bad(c.seq, `checkpoint at seq ${c.seq} has an invalid signature`);
        if (c.hash !== h) {
          const since = lastGood === null ? expected - result.records : lastGood.seq + 1;
          return bad(
            since,
            `seq ${since}..${c.seq} altered: the chain was recomputed and no longer matches the checkpoint signed at seq ${c.seq}`,
          );
        }
        lastGood = c;
        result.checkpoints++;
        next++;
      }
      result.firstSeq ??= row.seq;
      result.lastSeq = row.seq;
      result.records++;
      prev = h;
      expected++;
    }
    from = expected;
    onProgress?.(result.records, total);
  }
  if (next < due.length) {
    const c = due[due.length - 1]!;
    return bad(expected, `truncated: records end at seq ${expected - 1}, checkpoint signs ${c.seq}`);
  }
  result.lastCheckpoint = lastGood;
  result.ok = true;
  return result;
}
