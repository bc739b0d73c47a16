import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ALGORITHMS, createSelector, isAlgorithm, selectors } from './index.js';

const backends = [{ name: 'a', weight: 1 }];

test('the registry holds exactly the algorithms the config can name', () => {
  assert.deepEqual([...selectors.keys()].sort(), [
    'consistent_hash',
    'least_connections',
    'p2c_ewma',
    'round_robin',
    'weighted_round_robin',
  ]);
  assert.deepEqual([...ALGORITHMS].sort(), [...selectors.keys()].sort());
  for (const algorithm of ALGORITHMS) {
    assert.ok(isAlgorithm(algorithm));
    assert.equal(typeof createSelector(algorithm, { backends }).select, 'function');
  }
  assert.ok(!isAlgorithm('random'));
});

test('createSelector refuses an unknown algorithm with a TypeError naming the known ones', () => {
  assert.throws(
    () => createSelector('least_conn', { backends }),
    (error: unknown) =>
      error instanceof TypeError &&
      error.message.includes('"least_conn"') &&
      ALGORITHMS.every((name) => error.message.includes(name)),
  );
  assert.throws(() => createSelector('__proto__', { backends }), TypeError);
});

test('createSelector refuses a backend weight that is not a positive finite number', () => {
  for (const weight of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => createSelector('round_robin', { backends: [{ name: 'a', weight }] }), TypeError);
  }
  assert.throws(() => createSelector('round_robin', { backends: [{ name: '', weight: 1 }] }), TypeError);
});

test('each createSelector call returns a fresh selector with its own rotation', () => {
  const two = [...backends, { name: 'b', weight: 1 }];
  const view = { candidates: two.map((b) => ({ ...b, inflight: 0, ewmaMs: 0 })), hashKey: null };
  const full = { ...view, eligible: () => true, random: () => 0 };
  const first = createSelector('round_robin', { backends: two });
  assert.equal(first.select(full), 0);
  assert.equal(createSelector('round_robin', { backends: two }).select(full), 0);
  assert.equal(first.select(full), 1);
});
