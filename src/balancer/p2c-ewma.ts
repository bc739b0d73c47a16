import type { Candidate, SelectionView, Selector, SelectorFactory } from './selector.js';

/**
 * Power of two choices over a latency EWMA: draws two distinct eligible backends uniformly with
 * `view.random()` (always exactly two draws when two or more are eligible) and keeps the one with
 * the lower cost `ewmaMs * (inflight + 1)`. A backend whose EWMA is still unknown (0) costs 0, so
 * new or recovered backends get tried; equal costs go to the one with fewer requests in flight,
 * then to the first draw. With one eligible backend it is returned without drawing; the
 * costliest backend is never chosen while another is eligible.
 */
export class P2cEwmaSelector implements Selector {
  select(view: SelectionView): number {
    const n = view.candidates.length;
    let count = 0;
    let only = -1;
    for (let i = 0; i < n; i++) {
      if (view.eligible(i)) {
        count++;
        only = i;
      }
    }
    if (count < 2) return only;

    const first = Math.min(count - 1, Math.floor(view.random() * count));
    let second = Math.min(count - 2, Math.floor(view.random() * (count - 1)));
    if (second >= first) second++;

    let a = -1;
    let b = -1;
    for (let i = 0, rank = 0; i < n && (a === -1 || b === -1); i++) {
      if (!view.eligible(i)) continue;
      if (rank === first) a = i;
      else if (rank === second) b = i;
      rank++;
    }
    return better(view.candidates[a]!, view.candidates[b]!) ? a : b;
  }
}

/** Whether `a` should be preferred over `b` (true on a full tie: the first draw wins). */
function better(a: Candidate, b: Candidate): boolean {
  const costA = a.ewmaMs * (a.inflight + 1);
  const costB = b.ewmaMs * (b.inflight + 1);
  if (costA !== costB) return costA < costB;
  return a.inflight <= b.inflight;
}

/** Registry factory for `p2c_ewma`. */
export const createP2cEwma: SelectorFactory = () => new P2cEwmaSelector();
