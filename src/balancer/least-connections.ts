import type { SelectionView, Selector, SelectorFactory, SelectorOptions } from './selector.js';

/**
 * Least connections, weighted: picks the eligible backend with the lowest `inflight / weight`
 * (compared as cross products, so no division). Backends tied on that load share the pick by
 * smooth weighted round robin, as nginx's `least_conn` does: the heaviest tied backend goes
 * first, and repeated ties rotate (in proportion to weight) instead of all landing on index 0.
 * Without load (every inflight 0) this is exactly smooth weighted round robin.
 */
export class LeastConnectionsSelector implements Selector {
  readonly #weights: Float64Array;
  readonly #current: Float64Array;

  constructor(options: SelectorOptions) {
    this.#weights = Float64Array.from(options.backends, (b) => b.weight);
    this.#current = new Float64Array(options.backends.length);
  }

  select(view: SelectionView): number {
    const weights = this.#weights;
    const candidates = view.candidates;
    // Pass 1: the lowest inflight/weight among eligible backends.
    let least = -1;
    let leastInflight = 0;
    for (let i = 0; i < weights.length; i++) {
      if (!view.eligible(i)) continue;
      const inflight = candidates[i]!.inflight;
      if (least === -1 || inflight * weights[least]! < leastInflight * weights[i]!) {
        least = i;
        leastInflight = inflight;
      }
    }
    if (least === -1) return -1;
    // Pass 2: smooth weighted round robin among the backends tied with it.
    const leastWeight = weights[least]!;
    const current = this.#current;
    let total = 0;
    let best = -1;
    for (let i = least; i < weights.length; i++) {
      if (!view.eligible(i)) continue;
      const weight = weights[i]!;
      if (candidates[i]!.inflight * leastWeight !== leastInflight * weight) continue;
      const value = current[i]! + weight;
      current[i] = value;
      total += weight;
      if (best === -1 || value > current[best]!) best = i;
    }
    current[best] = current[best]! - total;
    return best;
  }
}

/** Registry factory for `least_connections`. */
export const createLeastConnections: SelectorFactory = (options) => new LeastConnectionsSelector(options);
