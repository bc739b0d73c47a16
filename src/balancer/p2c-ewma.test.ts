import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSelector } from './index.js';
import { TestView, tally } from './test-helpers.js';

function setup(load: readonly (readonly [ewmaMs: number, inflight: number])[], seed = 1) {
  const view = new TestView({ weights: load.map(() => 1), seed });
  load.forEach(([ewmaMs, inflight], i) => {
    view.candidates[i]!.ewmaMs = ewmaMs;
    view.candidates[i]!.inflight = inflight;
  });
  return { view, selector: createSelector('p2c_ewma', { backends: view.backends }) };
}

test('p2c_ewma keeps the candidate with the lower ewma × (inflight + 1)', () => {
  // costs: 10 × 1 = 10 against 2 × (3 + 1) = 8
  const { view, selector } = setup([
    [10, 0],
    [2, 3],
  ]);
  for (let i = 0; i < 20; i++) assert.equal(selector.select(view), 1);
  view.candidates[1]!.inflight = 5; // now 12
  for (let i = 0; i < 20; i++) assert.equal(selector.select(view), 0);
});

test('p2c_ewma tries a backend whose latency is still unknown (ewma 0)', () => {
  const { view, selector } = setup([
    [5, 0],
    [0, 2],
  ]);
  assert.equal(selector.select(view), 1);
});

test('p2c_ewma draws two distinct candidates even when random() repeats itself', () => {
  for (const fixed of [0, 0.5, 0.999999]) {
    const { view, selector } = setup([
      [50, 0],
      [1, 0],
    ]);
    view.random = () => fixed;
    assert.equal(selector.select(view), 1, `random() always ${fixed}`);
  }
});

test('p2c_ewma never picks the costliest backend while another is eligible', () => {
  const { view, selector } = setup([
    [10, 1],
    [12, 0],
    [500, 0],
    [9, 2],
    [11, 1],
  ]);
  const counts = tally(
    Array.from({ length: 10_000 }, () => selector.select(view)),
    5,
  );
  assert.equal(counts[2], 0);
  assert.ok(
    counts.every((c, i) => i === 2 || c > 0),
    `counts ${counts}`,
  );
});

test('p2c_ewma returns the only eligible backend without drawing', () => {
  const { view, selector } = setup([
    [1, 0],
    [1, 0],
    [1, 0],
  ]);
  view.up[0] = false;
  view.up[2] = false;
  view.random = () => assert.fail('random() should not be called');
  assert.equal(selector.select(view), 1);
});
