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
  /** Silences longer than twice the heartbeat interval that no clean stop explains. */
  gaps: TrailGap[];
  /** The last liveness marker (heartbeat, start or stop) seen, to judge the silence since. */
  lastMarker: { seq: number; ts: number; action: string; intervalMs: number } | null;
}

/** A stretch of the trail with no heartbeat: the writer, the store or the process stood still. */
export interface TrailGap {
  /** The marker before the silence and the one that ended it. */
  fromSeq: number;
  toSeq: number;
  fromTs: number;
  toTs: number;
  /** The heartbeat interval in effect. */
  intervalMs: number;
  /** What the trail says about it: a store failure recorded inside the gap, or null. */
  cause: string | null;
}

/** `tollgate verify` appends each result to this file in the data dir (read by `tollgate review`). */
export const VERIFY_LOG = 'verify.jsonl';

/** Admin actions that prove the writer was alive at their time; a stop explains the silence after it. */
const MARKERS = new Set(['audit_heartbeat', 'audit_pipeline_started', 'audit_pipeline_stopped']);

/** Finds heartbeat gaps in seq order (fed every admin row by `verifyChain`). */
class GapFinder {
  readonly gaps: TrailGap[] = [];
  last: VerifyResult['lastMarker'] = null;
  #cause: string | null = null;

  onAdmin(seq: number, ts: number, action: string, rec: string): void {
    if (action === 'audit_pipeline_failed') {
      this.#cause ??= `the store could not be written: ${labelOf(rec, 'reason') ?? 'see the audit_pipeline_failed event'}`;
      return;
    }
    if (!MARKERS.has(action)) return;
    const prev = this.last;
    if (
      prev !== null &&
      prev.action !== 'audit_pipeline_stopped' &&
      prev.intervalMs > 0 &&
      ts - prev.ts > 2 * prev.intervalMs
    ) {
      this.gaps.push({
        fromSeq: prev.seq,
        toSeq: seq,
        fromTs: prev.ts,
        toTs: ts,
        intervalMs: prev.intervalMs,
        cause:
          this.#cause ?? (action === 'audit_pipeline_started' ? 'no clean stop before this start' : null),
      });
    }
    this.#cause = null;
    let intervalMs = prev?.intervalMs ?? 0;
    if (action === 'audit_heartbeat') intervalMs = Number(labelOf(rec, 'interval_ms') ?? intervalMs);
    else if (action === 'audit_pipeline_started') intervalMs = Number(labelOf(rec, 'heartbeat_ms') ?? 0);
    this.last = { seq, ts, action, intervalMs: Number.isFinite(intervalMs) ? intervalMs : 0 };
  }
}

/** `event.reason` or a `tollgate.labels` entry of an admin record's text. */
function labelOf(rec: string, key: string): string | number | null {
  try {
    const r = JSON.parse(rec) as {
      event?: { reason?: string };
      tollgate?: { labels?: Record<string, unknown> };
    };
    const v = key === 'reason' ? r.event?.reason : r.tollgate?.labels?.[key];
    return typeof v === 'string' || typeof v === 'number' ? v : null;
  } catch {
    return null;
  }
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
    gaps: [],
    lastMarker: null,
  };
  const gaps = new GapFinder();
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
      if (row.kind === 'admin' && row.action !== null) gaps.onAdmin(row.seq, row.ts, row.action, row.rec);
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
  result.gaps = gaps.gaps;
  result.lastMarker = gaps.last;
  result.ok = true;
  return result;
}
