import type { SelectionView, Selector, SelectorFactory } from './selector.js';

/**
 * Plain round robin: walks the backends in config order, skipping ineligible ones, and resumes
 * after the last backend it returned. Weights are ignored. A skipped backend does not give the
 * next one a double share: the rotation continues from the backend actually chosen.
 */
export class RoundRobinSelector implements Selector {
  #next = 0;

  select(view: SelectionView): number {
    const n = view.candidates.length;
    let i = this.#next < n ? this.#next : 0;
    for (let k = 0; k < n; k++) {
      if (view.eligible(i)) {
        this.#next = i + 1;
        return i;
      }
      i = i + 1 === n ? 0 : i + 1;
    }
    return -1;
  }
}

/** Registry factory for `round_robin`. */
export const createRoundRobin: SelectorFactory = () => new RoundRobinSelector();
