import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConsistentHashSelector, MAX_RING_POINTS, POINTS_PER_WEIGHT } from './consistent-hash.js';
import { createSelector } from './index.js';
import type { Selector } from './selector.js';
import { TestView, tally } from './test-helpers.js';

const NAMES = ['api-1', 'api-2', 'api-3', 'api-4', 'api-5'];
const KEYS = 100_000;

function ring(names: readonly string[], weights: readonly number[] = names.map(() => 1)) {
  const view = new TestView({ names, weights });
  return { view, selector: createSelector('consistent_hash', { backends: view.backends }) };
}

/** The backend name each of `KEYS` keys maps to. */
function owners(selector: Selector, view: TestView): string[] {
  return Array.from(
    { length: KEYS },
    (_, i) => view.candidates[selector.select(view.newRequest(`key-${i}`))]!.name,
  );
}

test('consistent_hash maps the same key to the same backend, across independently built rings', () => {
  const a = ring(NAMES);
  const b = ring(NAMES);
  for (let i = 0; i < 1_000; i++) {
    const key = `10.0.${i >> 8}.${i & 255}`;
    const first = a.selector.select(a.view.newRequest(key));
    assert.equal(a.selector.select(a.view.newRequest(key)), first);
    assert.equal(b.selector.select(b.view.newRequest(key)), first);
  }
});

test('consistent_hash: removing one backend of five moves only the keys that were on it', (t) => {
  const full = ring(NAMES);
  const before = owners(full.selector, full.view);
  const reduced = ring(NAMES.filter((n) => n !== 'api-3'));
  const after = owners(reduced.selector, reduced.view);
  let moved = 0;
  for (let i = 0; i < KEYS; i++) {
    if (before[i] === 'api-3') moved++;
    else assert.equal(after[i], before[i], `key-${i} moved from ${before[i]} to ${after[i]}`);
  }
  const share = moved / KEYS;
  t.diagnostic(`moved share: ${(share * 100).toFixed(2)}% of ${KEYS} keys (ideal 20%)`);
  assert.ok(Math.abs(share - 0.2) <= 0.03, `moved share ${share}`);
});

test('consistent_hash: an ineligible backend’s keys go where a ring without it would put them, the rest stay', (t) => {
  const full = ring(NAMES);
  const before = owners(full.selector, full.view);
  full.view.up[2] = false;
  const during = owners(full.selector, full.view);
  const reduced = ring(NAMES.filter((n) => n !== 'api-3'));
  assert.deepEqual(during, owners(reduced.selector, reduced.view));
  const spread = new Map<string, number>();
  let moved = 0;
  for (let i = 0; i < KEYS; i++) {
    if (before[i] !== 'api-3') {
      assert.equal(during[i], before[i]);
      continue;
    }
    moved++;
    spread.set(during[i]!, (spread.get(during[i]!) ?? 0) + 1);
  }
  t.diagnostic(`moved share: ${((moved / KEYS) * 100).toFixed(2)}%; went to ${[...spread].join(' ')}`);
  assert.equal(spread.size, 4);
  for (const count of spread.values()) assert.ok(count / moved > 0.15 && count / moved < 0.35);
});

test('consistent_hash: weights skew the share (weight 2 against 1 → about 2/3)', (t) => {
  const { view, selector } = ring(['heavy', 'light'], [2, 1]);
  const counts = tally(
    Array.from({ length: KEYS }, (_, i) => selector.select(view.newRequest(`user-${i}`))),
    2,
  );
  const share = counts[0]! / KEYS;
  t.diagnostic(`weight-2 share: ${(share * 100).toFixed(2)}%`);
  assert.ok(Math.abs(share - 2 / 3) <= 0.05, `share ${share}`);
});

test('consistent_hash: a retry goes where the key would go if its first backend were down', () => {
  const { view, selector } = ring(NAMES);
  for (let i = 0; i < 500; i++) {
    const first = selector.select(view.newRequest(`k${i}`));
    view.tried[first] = true;
    const second = selector.select(view);
    view.newRequest(`k${i}`);
    view.up[first] = false;
    assert.equal(selector.select(view), second);
    view.up[first] = true;
  }
});

test('consistent_hash falls back to round robin when the request has no hash key', () => {
  const { view, selector } = ring(NAMES);
  assert.deepEqual(
    Array.from({ length: 7 }, () => selector.select(view.newRequest(null))),
    [0, 1, 2, 3, 4, 0, 1],
  );
});

test('consistent_hash places POINTS_PER_WEIGHT points per weight unit, capped at MAX_RING_POINTS', () => {
  const small = new ConsistentHashSelector({
    backends: [
      { name: 'a', weight: 1 },
      { name: 'b', weight: 3 },
    ],
  });
  assert.equal(small.ringSize, 4 * POINTS_PER_WEIGHT);
  const huge = new ConsistentHashSelector({
    backends: Array.from({ length: 4 }, (_, i) => ({ name: `b${i}`, weight: 1_000 })),
  });
  assert.equal(huge.ringSize, MAX_RING_POINTS);
});
