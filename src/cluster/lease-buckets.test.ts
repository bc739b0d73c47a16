import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaseBuckets } from './lease-buckets.js';

describe('LeaseBuckets (the primary’s rate-limit buckets)', () => {
  it('grants up to the burst, then what the rate refilled, and says how long until half a lease is back', () => {
    const b = new LeaseBuckets();
    // 10/s, burst 5: a fresh bucket grants its burst
    assert.deepEqual(b.lease('k', 10, 5, 4, 0), { granted: 4, waitMs: 0 });
    assert.deepEqual(b.lease('k', 10, 5, 4, 0), { granted: 1, waitMs: 200 });
    assert.deepEqual(b.lease('k', 10, 5, 4, 0), { granted: 0, waitMs: 200 });
    // 250 ms later: 2.5 tokens refilled, 2 granted
    assert.deepEqual(b.lease('k', 10, 5, 4, 250), { granted: 2, waitMs: 150 });
    // another key has its own bucket
    assert.deepEqual(b.lease('other', 10, 5, 4, 250), { granted: 4, waitMs: 0 });
  });

  it('forgets a bucket once it would be full again', () => {
    const b = new LeaseBuckets();
    b.lease('a', 10, 5, 5, 0);
    b.lease('b', 10, 5, 1, 0);
    assert.equal(b.size, 2);
    // at 1,000 ms: both are full again (a needed 500 ms, b 100 ms); the sweep drops them
    b.lease('c', 10, 5, 1, 1000);
    assert.equal(b.size, 1);
    // a forgotten key starts full
    assert.deepEqual(b.lease('a', 10, 5, 5, 1000), { granted: 5, waitMs: 0 });
  });
});
