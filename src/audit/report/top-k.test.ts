import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpaceSaving } from './top-k.js';

describe('SpaceSaving', () => {
  it('counts exactly while the keys fit, with stats per key', () => {
    const s = new SpaceSaving(8, () => ({ bytes: 0 }));
    const stream = ['a', 'b', 'a', 'c', 'a', 'b'];
    for (const k of stream) s.add(k).stats.bytes += 10;
    assert.equal(s.overflowed, false);
    assert.deepEqual(
      s.top(2).map((c) => [c.key, c.count, c.error, c.stats.bytes]),
      [
        ['a', 3, 0, 30],
        ['b', 2, 0, 20],
      ],
    );
  });

  it('keeps every key heavier than N/capacity once full, and brackets its true count', () => {
    const capacity = 50;
    const s = new SpaceSaving(capacity, () => null);
    const truth = new Map<string, number>();
    const add = (k: string) => {
      s.add(k);
      truth.set(k, (truth.get(k) ?? 0) + 1);
    };
    // 2,000 one-off keys interleaved with five heavy ones that start late
    for (let i = 0; i < 2000; i++) {
      add(`noise-${i}`);
      if (i > 1000 && i % 5 === 0) add(`heavy-${i % 25}`);
    }
    const n = [...truth.values()].reduce((a, b) => a + b, 0);
    assert.equal(s.overflowed, true);
    assert.equal(s.size, capacity);
    const top = s.top(capacity);
    for (const [key, count] of truth) {
      const c = top.find((x) => x.key === key);
      if (count > n / capacity) assert.ok(c, `${key} (${count} of ${n}) holds a counter`);
      if (c === undefined) continue;
      assert.ok(c.count >= count && c.count - c.error <= count, `${key}: ${c.count}−${c.error} vs ${count}`);
      if (c.error === 0) assert.equal(c.count, count, `${key}: error 0 means exact`);
    }
    assert.deepEqual(
      s
        .top(5)
        .map((c) => c.key)
        .sort(),
      ['heavy-0', 'heavy-10', 'heavy-15', 'heavy-20', 'heavy-5'],
    );
  });
});
