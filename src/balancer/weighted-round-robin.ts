import type { SelectionView, Selector, SelectorFactory, SelectorOptions } from './selector.js';

/**
 * Smooth weighted round robin, nginx's algorithm: on each pick every eligible backend's current
 * value grows by its weight, the largest current value wins (the first in config order on a tie)
 * and the winner's current value drops by the sum of the eligible weights. Over a cycle of
 * sum(weights) picks each backend is chosen exactly `weight` times, interleaved rather than in
 * bursts: weights 5,1,1 give a a b a c a a.
 */
export class WeightedRoundRobinSelector implements Selector {
  readonly #weights: Float64Array;
  readonly #current: Float64Array;

  constructor(options: SelectorOptions) {
    this.#weights = Float64Array.from(options.backends, (b) => b.weight);
    this.#current = new Float64Array(options.backends.length);
  }

  select(view: SelectionView): number {
    const weights = this.#weights;
    const current = this.#current;
    let total = 0;
    let best = -1;
    for (let i = 0; i < weights.length; i++) {
      if (!view.eligible(i)) continue;
      const weight = weights[i]!;
      const value = current[i]! + weight;
      current[i] = value;
      total += weight;
      if (best === -1 || value > current[best]!) best = i;
    }
    if (best !== -1) current[best] = current[best]! - total;
    return best;
  }
}

/** Registry factory for `weighted_round_robin`. */
export const createWeightedRoundRobin: SelectorFactory = (options) => new WeightedRoundRobinSelector(options);
