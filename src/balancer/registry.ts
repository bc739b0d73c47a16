import type { Algorithm } from '../config/index.js';
import { createConsistentHash } from './consistent-hash.js';
import { createLeastConnections } from './least-connections.js';
import { createP2cEwma } from './p2c-ewma.js';
import { createRoundRobin } from './round-robin.js';
import type { Selector, SelectorFactory, SelectorOptions } from './selector.js';
import { createWeightedRoundRobin } from './weighted-round-robin.js';

/** A pool's `algorithm` as written in the config (SPEC §2); the config module owns the name list. */
export type { Algorithm };

/** Every algorithm name, in the order the SPEC lists them. */
export const ALGORITHMS: readonly Algorithm[] = Object.freeze([
  'round_robin',
  'weighted_round_robin',
  'least_connections',
  'p2c_ewma',
  'consistent_hash',
]);

/**
 * The selector factories by config name (DESIGN rule 6). The factories trust their options;
 * callers go through `createSelector`, which validates them first.
 */
export const selectors: ReadonlyMap<Algorithm, SelectorFactory> = new Map<Algorithm, SelectorFactory>([
  ['round_robin', createRoundRobin],
  ['weighted_round_robin', createWeightedRoundRobin],
  ['least_connections', createLeastConnections],
  ['p2c_ewma', createP2cEwma],
  ['consistent_hash', createConsistentHash],
]);

/** Whether `name` is a known algorithm. */
export function isAlgorithm(name: string): name is Algorithm {
  return selectors.has(name as Algorithm);
}

/**
 * A new selector for one pool (one per pool per compiled plan: selectors keep rotation state).
 * Throws a TypeError naming the known algorithms for an unknown one, and a TypeError when a
 * backend has no name or a weight that is not a positive finite number.
 */
export function createSelector(algorithm: string, options: SelectorOptions): Selector {
  const factory = isAlgorithm(algorithm) ? selectors.get(algorithm) : undefined;
  if (factory === undefined) {
    throw new TypeError(`unknown balancing algorithm "${algorithm}"; known: ${ALGORITHMS.join(', ')}`);
  }
  options.backends.forEach((backend, i) => {
    if (typeof backend.name !== 'string' || backend.name === '') {
      throw new TypeError(`backends[${i}]: name must be a non-empty string`);
    }
    if (typeof backend.weight !== 'number' || !Number.isFinite(backend.weight) || backend.weight <= 0) {
      throw new TypeError(
        `backends[${i}] (${backend.name}): weight must be a positive number, got ${backend.weight}`,
      );
    }
  });
  return factory(options);
}
