import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createSelector, selectors } from './index.js';
import type { Selector } from './selector.js';
import { mulberry32, retryUntilExhausted, TestView, tally } from './test-helpers.js';

/** Builds the selector under test for a view's pool. */
function build(algorithm: string, view: TestView): Selector {
  return createSelector(algorithm, { backends: view.backends });
}

/** Gives each request a distinct hash key, so consistent_hash spreads them over its ring. */
function key(i: number): string {
  return `client-${i}`;
}

for (const algorithm of selectors.keys()) {
  describe(`selector contract: ${algorithm}`, () => {
    test('never returns an ineligible backend, and returns -1 exactly when none is eligible', () => {
      const view = new TestView({ weights: [1, 2, 3, 1, 1, 4, 1], seed: 7 });
      const selector = build(algorithm, view);
      const chaos = mulberry32(99);
      for (let i = 0; i < 5_000; i++) {
        view.newRequest(i % 3 === 0 ? null : key(i));
        for (let b = 0; b < view.up.length; b++) {
          view.up[b] = chaos() < 0.6;
          view.tried[b] = chaos() < 0.2;
          view.candidates[b]!.inflight = Math.floor(chaos() * 5);
          view.candidates[b]!.ewmaMs = chaos() < 0.2 ? 0 : chaos() * 100;
        }
        const anyEligible = view.up.some((up, b) => up && !view.tried[b]);
        const pick = selector.select(view);
        if (!anyEligible) {
          assert.equal(pick, -1);
          continue;
        }
        assert.ok(pick >= 0 && pick < view.candidates.length, `pick ${pick} out of range`);
        assert.ok(view.eligible(pick), `picked ineligible backend ${pick}`);
      }
    });

    test('returns -1 when no backend is eligible, with or without a hash key', () => {
      const view = new TestView();
      const selector = build(algorithm, view);
      view.up.fill(false);
      assert.equal(selector.select(view.newRequest(null)), -1);
      assert.equal(selector.select(view.newRequest('some-key')), -1);
      view.up.fill(true);
      view.tried.fill(true);
      assert.equal(selector.select(view), -1);
    });

    test('returns -1 for a pool without backends', () => {
      const view = new TestView({ weights: [] });
      assert.equal(build(algorithm, view).select(view.newRequest('k')), -1);
    });

    test('retries visit every eligible backend exactly once, then return -1', () => {
      const view = new TestView({ weights: [1, 3, 1, 2, 1, 1], seed: 3 });
      const selector = build(algorithm, view);
      const chaos = mulberry32(5);
      for (let i = 0; i < 500; i++) {
        view.newRequest(i % 4 === 0 ? null : key(i));
        for (let b = 0; b < view.up.length; b++) {
          view.up[b] = chaos() < 0.75;
          view.candidates[b]!.inflight = Math.floor(chaos() * 3);
          view.candidates[b]!.ewmaMs = chaos() * 50;
        }
        const expected = view.up.flatMap((up, b) => (up ? [b] : []));
        const picks = retryUntilExhausted(selector, view);
        assert.equal(picks.at(-1), -1, `request ${i} did not end with -1: ${picks}`);
        assert.deepEqual(
          picks.slice(0, -1).sort((a, b) => a - b),
          expected,
          `request ${i}: visited ${picks} with eligible ${expected}`,
        );
      }
    });

    test('spreads 30k requests over equal-weight backends within ±10% of uniform', (t) => {
      const view = new TestView({ names: ['api-1', 'api-2', 'api-3', 'api-4', 'api-5'], seed: 11 });
      const selector = build(algorithm, view);
      const picks: number[] = [];
      for (let i = 0; i < 30_000; i++) picks.push(selector.select(view.newRequest(key(i))));
      const counts = tally(picks, 5);
      t.diagnostic(`counts: ${counts.join(' ')}`);
      for (const count of counts)
        assert.ok(Math.abs(count - 6_000) <= 600, `counts ${counts} not within ±10%`);
    });

    test('is deterministic given a seeded random', () => {
      const run = (): number[] => {
        const view = new TestView({ weights: [2, 1, 1, 3], seed: 42 });
        const selector = build(algorithm, view);
        const load = mulberry32(8);
        const picks: number[] = [];
        for (let i = 0; i < 2_000; i++) {
          view.newRequest(i % 5 === 0 ? null : key(i % 97));
          for (const c of view.candidates) {
            c.inflight = Math.floor(load() * 4);
            c.ewmaMs = load() * 20;
          }
          view.up[i % 4] = i % 7 !== 0;
          picks.push(...retryUntilExhausted(selector, view).slice(0, 2));
        }
        return picks;
      };
      assert.deepEqual(run(), run());
    });

    test('handles a single backend: picks it, then -1 once it was tried', () => {
      const view = new TestView({ weights: [1] });
      const selector = build(algorithm, view);
      for (const hashKey of [null, 'a', 'b']) {
        assert.deepEqual(retryUntilExhausted(selector, view.newRequest(hashKey)), [0, -1]);
      }
    });

    test('finds the last backend when it is the only eligible one', () => {
      const view = new TestView({ weights: [1, 1, 1, 1, 1, 1] });
      const selector = build(algorithm, view);
      view.up.fill(false);
      view.up[5] = true;
      for (let i = 0; i < 50; i++) {
        assert.deepEqual(retryUntilExhausted(selector, view.newRequest(i % 2 ? null : key(i))), [5, -1]);
      }
    });
  });
}
