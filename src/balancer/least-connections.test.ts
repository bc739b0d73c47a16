import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSelector } from './index.js';
import { TestView, tally } from './test-helpers.js';

function setup(weights: readonly number[], inflight: readonly number[]) {
  const view = new TestView({ weights });
  inflight.forEach((n, i) => {
    view.candidates[i]!.inflight = n;
  });
  return { view, selector: createSelector('least_connections', { backends: view.backends }) };
}

test('least_connections picks the backend with the fewest requests in flight', () => {
  const { view, selector } = setup([1, 1, 1, 1], [4, 2, 0, 3]);
  assert.equal(selector.select(view), 2);
  view.candidates[2]!.inflight = 5;
  assert.equal(selector.select(view), 1);
});

test('least_connections compares inflight per unit of weight', () => {
  // 6 in flight on weight 4 (1.5 each) is lighter than 2 on weight 1.
  const { view, selector } = setup([1, 4], [2, 6]);
  assert.equal(selector.select(view), 1);
});

test('least_connections rotates among tied backends instead of always taking index 0', () => {
  const { view, selector } = setup([1, 1, 1], [0, 0, 0]);
  assert.deepEqual(
    Array.from({ length: 6 }, () => selector.select(view)),
    [0, 1, 2, 0, 1, 2],
  );
});

test('least_connections breaks ties by weight: the heaviest first, then shares in proportion', () => {
  const { view, selector } = setup([1, 3], [0, 0]);
  const picks = Array.from({ length: 8 }, () => selector.select(view));
  assert.equal(picks[0], 1);
  assert.deepEqual(tally(picks, 2), [2, 6]);
});

test('least_connections ignores a less loaded backend that is not eligible', () => {
  const { view, selector } = setup([1, 1, 1], [5, 0, 3]);
  view.up[1] = false;
  assert.equal(selector.select(view), 2);
});
