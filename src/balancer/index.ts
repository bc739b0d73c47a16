/**
 * The balancer module's only public door: the Selector interface, the registry of selectors by
 * config name, the sticky-cookie codec and the ring's hash function.
 */
export { hash32 } from './hash.js';
export type { Algorithm } from './registry.js';
export { ALGORITHMS, createSelector, isAlgorithm, selectors } from './registry.js';
export type { Candidate, SelectionView, Selector, SelectorFactory, SelectorOptions } from './selector.js';
export type { StickyCodec } from './sticky.js';
export { createStickyCodec } from './sticky.js';
