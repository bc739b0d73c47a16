import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSelector } from './index.js';
import { mulberry32, TestView, tally } from './test-helpers.js';

function picks(weights: readonly number[], count: number, view = new TestView({ weights })): number[] {
  const selector = createSelector('weighted_round_robin', { backends: view.backends });
  return Array.from({ length: count }, () => selector.select(view));
}

test('weighted_round_robin with weights 5,1,1 gives nginx’s smooth sequence a a b a c a a, every cycle', () => {
  const letters = picks([5, 1, 1], 21).map((i) => 'abc'[i]);
  assert.equal(letters.join(' '), 'a a b a c a a a a b a c a a a a b a c a a');
});

test('weighted_round_robin interleaves: weights 3,2 give a b a b a rather than a a a b b', () => {
  assert.deepEqual(picks([3, 2], 5), [0, 1, 0, 1, 0]);
});

test('weighted_round_robin picks each backend exactly weight times per cycle of sum(weights)', () => {
  const random = mulberry32(17);
  for (let round = 0; round < 50; round++) {
    const weights = Array.from({ length: 1 + Math.floor(random() * 6) }, () => 1 + Math.floor(random() * 9));
    const total = weights.reduce((a, b) => a + b, 0);
    const sequence = picks(weights, total * 3);
    for (let cycle = 0; cycle < 3; cycle++) {
      assert.deepEqual(tally(sequence.slice(cycle * total, (cycle + 1) * total), weights.length), weights);
    }
  }
});

test('weighted_round_robin shares an ineligible backend’s turns among the others by weight', () => {
  const view = new TestView({ weights: [2, 4, 1] });
  view.up[1] = false;
  assert.deepEqual(tally(picks([], 30, view), 3), [20, 0, 10]);
});
