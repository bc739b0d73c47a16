import type { KeyObject } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import type { Checkpoint, Store } from '../store/index.js';
import { chainHash, embeddedSeq, GENESIS, verifyAnchor, verifyCheckpoint } from './chain.js';
import { loadCheckpoints } from './verify.js';

export interface ChainProgress {
  /** False when there is no chain key (the chain is off). */
  enabled: boolean;
  /** False once a pass found a problem (it sticks: the chain does not heal). */
  ok: boolean;
  /** The last complete pass recomputed every record from the start (or the anchor) up to this seq. */
  verifiedSeq: number | null;
  /** Epoch ms when that pass ended. */
  verifiedAt: number | null;
  /** How far the pass under way has got. */
  checkingSeq: number | null;
  /** The newest seq in the store at the last call. */
  headSeq: number | null;
  /** Signed checkpoints the last complete pass checked. */
  checkpointsChecked: number;
  lastCheckpoint: Checkpoint | null;
  problem: string | null;
  firstBadSeq: number | null;
}

interface Pass {
  prev: string;
  next: number;
  due: Checkpoint[];
  k: number;
  checked: number;
  last: Checkpoint | null;
}

/**
 * `tollgate verify` done a slice at a time by the running process, for the dashboard. A pass
 * recomputes the chain from the start (or the signed retention anchor) to the head and checks each
 * signed checkpoint it passes; each `advance` does at most `maxRows` rows and about `budgetMs` of
 * work, so the proxy's thread is never held long, and it runs only when asked
 * (`GET /api/v1/audit/health`). When a pass reaches the head it is recorded as "verified up to
 * seq N at T" and the next call starts a new pass, so a record altered after it was first checked
 * is found by the next pass. The first problem sticks and is named like `verify` names it.
 * `tollgate verify` stays the authority (it can run on a copy, away from the host).
 */
export class ChainWatch {
  readonly #store: Store;
  readonly #keyFile: string;
  readonly #checkpointsFile: string;
  readonly #now: () => number;
  #key: KeyObject | null = null;
  #pass: Pass | null = null;
  readonly #state: ChainProgress = {
    enabled: false,
    ok: true,
    verifiedSeq: null,
    verifiedAt: null,
    checkingSeq: null,
    headSeq: null,
    checkpointsChecked: 0,
    lastCheckpoint: null,
    problem: null,
    firstBadSeq: null,
  };

  constructor(store: Store, keyFile: string, checkpointsFile: string, now: () => number) {
    this.#store = store;
    this.#keyFile = keyFile;
    this.#checkpointsFile = checkpointsFile;
    this.#now = now;
  }

  progress(): ChainProgress {
    return { ...this.#state };
  }

  advance(maxRows = 50_000, budgetMs = 50): ChainProgress {
    const s = this.#state;
    if (!s.ok) return this.progress();
    if (this.#key === null) {
      if (!fs.existsSync(this.#keyFile)) return this.progress();
      this.#key = createPublicKey(fs.readFileSync(this.#keyFile, 'utf8'));
      s.enabled = true;
    }
    const key = this.#key;
    s.headSeq = this.#store.last()?.seq ?? null;
    const bad = (seq: number, problem: string): ChainProgress => {
      s.ok = false;
      s.problem = problem;
      s.firstBadSeq = seq;
      s.checkingSeq = null;
      this.#pass = null;
      return this.progress();
    };
    let pass = this.#pass;
    if (pass === null) {
      pass = { prev: GENESIS, next: 1, due: [], k: 0, checked: 0, last: null };
      const anchor = this.#store.anchor();
      if (anchor !== null) {
        if (!verifyAnchor(key, anchor.seq, anchor.hash, anchor.ts, anchor.signature))
          return bad(anchor.seq, `the retention anchor at seq ${anchor.seq} has an invalid signature`);
        pass.prev = anchor.hash;
        pass.next = anchor.seq + 1;
      }
      pass.due = loadCheckpoints(this.#store, this.#checkpointsFile).filter((c) => c.seq >= pass!.next);
      this.#pass = pass;
    }
    const started = performance.now();
    let done = 0;
    for (;;) {
      if (done >= maxRows || performance.now() - started > budgetMs) {
        s.checkingSeq = pass.next - 1;
        return this.progress();
      }
      const rows = this.#store.rowsFrom(pass.next, Math.min(2000, maxRows - done));
      if (rows.length === 0) break;
      for (const row of rows) {
        if (row.seq !== pass.next) {
          // retention may have pruned under a slow pass: start again from the new anchor
          const anchor = this.#store.anchor();
          if (anchor !== null && anchor.seq >= pass.next) {
            this.#pass = null;
            return this.advance(maxRows, budgetMs);
          }
          return bad(pass.next, `seq ${pass.next} missing`);
        }
        if (embeddedSeq(row.rec) !== row.seq)
          return bad(row.seq, `seq ${row.seq} out of order (the record says seq ${embeddedSeq(row.rec)})`);
        const h = chainHash(pass.prev, row.rec);
        if (h !== row.hash) return bad(row.seq, `seq ${row.seq} altered`);
        while (pass.k < pass.due.length && pass.due[pass.k]!.seq === row.seq) {
          const c = pass.due[pass.k]!;
          if (!verifyCheckpoint(key, c.seq, c.hash, c.ts, c.signature))
            return bad(c.seq, `checkpoint at seq ${c.seq} has an invalid signature`);
          if (c.hash !== h)
            return bad(
              c.seq,
              `seq ${c.seq} altered: the chain no longer matches the checkpoint signed there`,
            );
          pass.checked++;
          pass.last = c;
          pass.k++;
        }
        pass.prev = h;
        pass.next = row.seq + 1;
      }
      done += rows.length;
    }
    if (pass.k < pass.due.length) {
      const c = pass.due[pass.due.length - 1]!;
      return bad(pass.next, `truncated: records end at seq ${pass.next - 1}, checkpoint signs ${c.seq}`);
    }
    // the pass reached the head: that is what "verified" means; the next call starts over
    s.verifiedSeq = pass.next - 1 > 0 ? pass.next - 1 : null;
    s.verifiedAt = this.#now();
    s.checkingSeq = null;
    s.checkpointsChecked = pass.checked;
    s.lastCheckpoint = pass.last;
    this.#pass = null;
    return this.progress();
  }
}
