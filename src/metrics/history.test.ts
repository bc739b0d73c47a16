import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bucketQuantile, HISTORY_CLASSES, MetricsHistory } from './history.js';
import { DURATION_BUCKETS } from './tollgate-metrics.js';

/** Cumulative counters a test moves by hand, as the registry would. */
function counters() {
  const classes = new Float64Array(HISTORY_CLASSES.length);
  const buckets = new Float64Array(DURATION_BUCKETS.length + 1);
  return {
    totals: () => ({ classes, buckets }),
    /** n requests of class (e.g. '5xx') that took `seconds`. */
    add(cls: (typeof HISTORY_CLASSES)[number], n: number, seconds: number) {
      classes[HISTORY_CLASSES.indexOf(cls)]! += n;
      let i = 0;
      while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
      buckets[i]! += n;
    },
  };
}

describe('metrics history', () => {
  it('turns counter differences into requests per second per class, one point per second', () => {
    const c = counters();
    const h = new MetricsHistory(c.totals);
    const t0 = 1_700_000_000_000;
    h.sample(t0); // baseline
    c.add('2xx', 10, 0.004);
    c.add('5xx', 2, 0.004);
    h.sample(t0 + 1000);
    c.add('2xx', 4, 0.004);
    h.sample(t0 + 2000);
    const s = h.series(60_000, t0 + 2000);
    assert.equal(s.stepMs, 1000);
    assert.equal(s.since, t0);
    assert.deepEqual(s.t, [t0, t0 + 1000]);
    assert.deepEqual(s.rps, [12, 4]);
    assert.deepEqual(s.byClass['2xx'], [10, 4]);
    assert.deepEqual(s.byClass['5xx'], [2, 0]);
    assert.equal(s.requests, 16);
  });

  it('answers p50 and p99 by interpolating within the duration bucket, null for a step without requests', () => {
    const c = counters();
    const h = new MetricsHistory(c.totals);
    const t0 = 1_700_000_000_000;
    h.sample(t0);
    c.add('2xx', 98, 0.007); // (5 ms, 10 ms]
    c.add('2xx', 2, 0.2); // (100 ms, 250 ms]
    h.sample(t0 + 1000);
    h.sample(t0 + 2000); // nothing happened in this second
    const s = h.series(60_000, t0 + 2000);
    assert.equal(s.p50Ms[0], 5 + (5 * 50) / 98);
    assert.equal(s.p99Ms[0], 100 + (150 * 0.5) / 1);
    assert.equal(s.p50Ms[1], null);
    assert.equal(s.rps[1], 0);
  });

  it('serves long windows from the coarser tier, never older than the first sample', () => {
    const c = counters();
    const h = new MetricsHistory(c.totals);
    const t0 = 1_700_000_040_000; // 40 s into a minute
    h.sample(t0);
    for (let i = 1; i <= 30; i++) {
      c.add('4xx', 1, 0.001);
      h.sample(t0 + i * 1000);
    }
    const s = h.series(3600_000, t0 + 30_000);
    assert.equal(s.stepMs, 10_000);
    assert.ok(s.t[0]! >= Math.floor(t0 / 10_000) * 10_000, 'no point before the history began');
    assert.equal(s.requests, 30);
    // one request per second whatever the step
    for (const r of s.rps) assert.ok(Math.abs(r - 1) < 0.11, `rate ${r}`);
    const coarse = h.series(60_000, t0 + 30_000, 10_000);
    assert.equal(coarse.stepMs, 10_000, 'a coarser step when asked');
    assert.equal(coarse.requests, 30);
    const day = h.series(24 * 3600_000, t0 + 30_000);
    assert.equal(day.stepMs, 60_000);
    assert.equal(day.requests, 30);
  });

  it('puts a quantile past the last bound at that bound', () => {
    const counts = new Float64Array(DURATION_BUCKETS.length + 1);
    counts[DURATION_BUCKETS.length] = 3;
    assert.equal(bucketQuantile(0.5, counts), 60_000);
    assert.equal(bucketQuantile(0.5, new Float64Array(DURATION_BUCKETS.length + 1)), null);
  });
});
