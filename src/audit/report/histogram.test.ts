import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALPHA, DurationHistogram } from './histogram.js';

/** A deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function exact(sorted: number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

describe('DurationHistogram', () => {
  it('answers every quantile within 1% of the exact nearest-rank value, over six decades', () => {
    const random = prng(7);
    const h = new DurationHistogram();
    // log-uniform from 10 µs to 10 s, plus a heavy tail
    const values = Array.from(
      { length: 20_000 },
      () => 10 ** (random() * 6 - 2) * (random() < 0.01 ? 30 : 1),
    );
    for (const v of values) h.add(v);
    values.sort((a, b) => a - b);
    for (const q of [0.01, 0.1, 0.5, 0.9, 0.99, 0.999]) {
      const want = exact(values, q);
      const got = h.quantile(q)!;
      assert.ok(Math.abs(got - want) <= ALPHA * want, `q${q}: ${got} vs exact ${want}`);
    }
    assert.equal(h.quantile(1), values[values.length - 1], 'p100 is the exact maximum');
    assert.equal(h.count, 20_000);
  });

  it('is empty until something is added, and keeps zero and sub-microsecond values within 1 µs', () => {
    const h = new DurationHistogram();
    assert.equal(h.quantile(0.5), null);
    h.add(0);
    h.add(0);
    h.add(0.0004);
    h.add(Number.NaN);
    h.add(-1);
    assert.equal(h.count, 3, 'NaN and negative durations are not counted');
    // at or below 1 µs the error is absolute: within 1 µs
    assert.ok(h.quantile(0.5)! <= 0.001, String(h.quantile(0.5)));
    assert.equal(h.quantile(1), 0.0004);
  });
});
