import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSelector } from './index.js';
import { TestView } from './test-helpers.js';

test('round_robin rotates through the backends in config order, ignoring weights', () => {
  const view = new TestView({ weights: [5, 1, 1] });
  const selector = createSelector('round_robin', { backends: view.backends });
  const picks = Array.from({ length: 7 }, () => selector.select(view));
  assert.deepEqual(picks, [0, 1, 2, 0, 1, 2, 0]);
});

test('round_robin skips an ineligible backend without doubling the next one', () => {
  const view = new TestView({ weights: [1, 1, 1, 1] });
  const selector = createSelector('round_robin', { backends: view.backends });
  view.up[1] = false;
  const picks = Array.from({ length: 6 }, () => selector.select(view));
  assert.deepEqual(picks, [0, 2, 3, 0, 2, 3]);
});
