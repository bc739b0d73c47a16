import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock, isTollgateError } from '../core/index.js';
import { SpaceSaving, TopClients } from './index.js';
import { KeyIndex } from './key-index.js';

// A small deterministic PRNG (mulberry32), so every run sees the same streams.
function prng(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws key indexes 0..n-1 with P(i) ∝ 1 / (i + 1)^s. */
function zipf(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / (i + 1) ** s;
  return () => {
    const u = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

function address(i: number): string {
  return `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
}

const MIB = 1024 * 1024;

for (const weighted of [false, true]) {
  test(`Space-Saving on a Zipf stream${weighted ? ' with weights' : ''} keeps every key above N/k and brackets every true count`, () => {
    const random = prng(weighted ? 7 : 3);
    const draw = zipf(50_000, 1.1, random);
    const k = 100;
    const sketch = new SpaceSaving(k);
    const truth = new Map<string, number>();
    let total = 0;
    for (let i = 0; i < 200_000; i++) {
      const key = `client-${draw()}`;
      const weight = weighted ? 1 + Math.floor(random() * 5) : 1;
      sketch.observe(key, weight);
      truth.set(key, (truth.get(key) ?? 0) + weight);
      total += weight;
    }
    assert.equal(sketch.total, total);
    assert.equal(sketch.size, k);
    const threshold = total / k;
    const heavy = [...truth].filter(([, n]) => n > threshold);
    assert.ok(heavy.length >= 5, `only ${heavy.length} keys above N/k: the stream does not test much`);
    for (const [key, n] of heavy)
      assert.ok(sketch.get(key), `${key} (true ${n} > N/k ${threshold}) is missing`);

    const min = sketch.min;
    assert.ok(min > 0 && min <= threshold, `min ${min} within (0, N/k = ${threshold}]`);
    let countSum = 0;
    for (const c of sketch.counters()) {
      const n = truth.get(c.key) ?? 0;
      assert.ok(
        c.count - c.errorBound <= n && n <= c.count,
        `${c.key}: ${c.count} − ${c.errorBound} ≤ ${n} ≤ ${c.count}`,
      );
      assert.ok(c.errorBound <= min, `${c.key}: error bound ${c.errorBound} ≤ min ${min}`);
      countSum += c.count;
    }
    assert.equal(countSum, total, 'the counts of Space-Saving add up to N');
    for (const [key, n] of truth)
      if (sketch.get(key) === undefined) assert.ok(n <= min, `absent ${key} has ${n} > min ${min}`);
  });
}

test('one million distinct addresses stay within buckets × k counters and a small heap budget, and a 2% address is still found first', (t) => {
  const clock = new FakeClock();
  const topClients = new TopClients({ clock }); // 10 s buckets, k = 256, windows 1m/5m/15m
  const { buckets, maxCounters } = topClients.stats();
  assert.equal(buckets, 91);
  assert.equal(maxCounters, 91 * 256);
  const hot = '203.0.113.7';
  const FIFTEEN_MIN = 900_000;

  // Fills all 91 buckets with 1M distinct addresses over 15 minutes (steady state), then sends
  // another 1M distinct ones plus the hot address (1 request in 50) over the next 15 minutes.
  for (let i = 0; i < 1_000_000; i++) {
    clock.advance(FIFTEEN_MIN / 1_000_000);
    topClients.observe(address(i), false, 100);
  }
  const full = topClients.stats();
  // Every bucket but the newest (it has just begun) holds k counters after the warm-up.
  assert.ok(full.counters >= maxCounters - 256, `${full.counters} counters after the warm-up`);
  // The new addresses and the record of the hot requests are made before the heap is read, so
  // that what the second million leaves behind is the summaries' own growth. charCodeAt flattens
  // each address now (V8 builds the longer ones as cons strings, and flattening one on first
  // hashing allocates its flat copy, which this array would keep).
  const fresh = Array.from({ length: 1_000_000 }, (_, i) => {
    const key = address(1_000_000 + i);
    key.charCodeAt(0);
    return key;
  });
  const hotTimes = new Float64Array(Math.ceil(1_000_000 / 49));
  let hotSent = 0;
  const heapBefore = process.memoryUsage().heapUsed;
  for (let i = 0; i < 1_000_000; i++) {
    clock.advance(FIFTEEN_MIN / 1_000_000);
    topClients.observe(fresh[i]!, false, 100);
    if (i % 49 === 0) {
      topClients.observe(hot, false, 100);
      hotTimes[hotSent++] = clock.monotonic();
    }
  }
  const heapAfter = process.memoryUsage().heapUsed;
  assert.equal(hotSent, hotTimes.length);
  const after = topClients.stats();
  assert.ok(after.counters <= maxCounters, `${after.counters} counters > ${maxCounters}`);
  const growth = heapAfter - heapBefore;
  t.diagnostic(`heap growth ${(growth / MIB).toFixed(1)} MiB over the second million`);
  assert.ok(growth < 20 * MIB, `heap grew ${(growth / MIB).toFixed(1)} MiB over 1M new distinct addresses`);

  const now = clock.monotonic();
  for (const windowMs of [60_000, 300_000, 900_000]) {
    const rows = topClients.top(windowMs, 10);
    assert.equal(rows.length, 10);
    const first = rows[0]!;
    assert.equal(first.key, hot, `top(${windowMs}) first is ${first.key}`);
    // The window's buckets: the current one and the windowMs / 10 s before it.
    const oldest = Math.floor(now / 10_000) - windowMs / 10_000;
    const trueHot = [...hotTimes].filter((t) => Math.floor(t / 10_000) >= oldest).length;
    assert.ok(
      first.requests - first.error_bound <= trueHot && trueHot <= first.requests,
      `${windowMs} ms: ${first.requests} − ${first.error_bound} ≤ ${trueHot} ≤ ${first.requests}`,
    );
    // The bound is useful: well under the hot address's own count.
    assert.ok(first.error_bound < trueHot / 2, `error bound ${first.error_bound} against ${trueHot}`);
    for (const row of rows.slice(1)) assert.ok(row.requests < first.requests);
  }
});

test('a window covers the current bucket and the window before it: a key hot 20 min ago is out of 15m, one hot 2 min ago is in 5m and out of 1m', () => {
  const clock = new FakeClock();
  const topClients = new TopClients({ clock, capacity: 8 });
  for (let i = 0; i < 100; i++) topClients.observe('old', false, 10);
  assert.equal(topClients.top(900_000, 10)[0]?.key, 'old');
  clock.advance(18 * 60_000);
  for (let i = 0; i < 50; i++) topClients.observe('recent', false, 10);
  clock.advance(2 * 60_000);
  topClients.observe('now', false, 10);

  const keys = (windowMs: number) => topClients.top(windowMs, 10).map((r) => r.key);
  assert.deepEqual(keys(900_000), ['recent', 'now']);
  assert.deepEqual(keys(300_000), ['recent', 'now']);
  assert.deepEqual(keys(60_000), ['now']);
  assert.deepEqual(topClients.top(300_000, 1), [
    { key: 'recent', requests: 50, errors: 0, bytes: 500, error_bound: 0 },
  ]);
});

test('observe() files a request under the time it is given, else under the clock time', () => {
  const clock = new FakeClock();
  const topClients = new TopClients({ clock });
  topClients.observe('clock', false, 0); // at 0
  topClients.observe('given', false, 0, 20 * 60_000);
  clock.advance(20 * 60_000);
  assert.deepEqual(
    topClients.top(60_000, 5).map((r) => r.key),
    ['given'],
  );
});

test('an observation exactly one window old is in the window, one older than window + bucket is out', () => {
  const clock = new FakeClock();
  const topClients = new TopClients({ clock, bucketMs: 10_000, windowsMs: [60_000] });
  clock.advance(123_456);
  topClients.observe('edge', false, 0);
  clock.advance(60_000);
  assert.deepEqual(
    topClients.top(60_000, 5).map((r) => r.key),
    ['edge'],
  );
  clock.advance(10_001);
  assert.deepEqual(topClients.top(60_000, 5), []);
});

test('top() refuses a window it does not keep and names the ones it does', () => {
  const topClients = new TopClients({ clock: new FakeClock() });
  assert.throws(
    () => topClients.top(120_000, 10),
    (err: unknown) =>
      isTollgateError(err) &&
      err.code === 'TG_ERR_USAGE' &&
      err.message.includes('120000 ms') &&
      err.message.includes('1m (60000 ms), 5m (300000 ms), 15m (900000 ms)'),
  );
  assert.throws(() => topClients.top(60_000, 0), /n must be a positive integer/);
  assert.throws(
    () => new TopClients({ clock: new FakeClock(), windowsMs: [15_000] }),
    /multiple of the 10000 ms/,
  );
});

test('merged windows keep the bounds against exact counts: requests − error_bound ≤ true ≤ requests, every key above N/k listed', () => {
  const clock = new FakeClock();
  const k = 20;
  const topClients = new TopClients({ clock, capacity: k });
  const random = prng(11);
  const draw = zipf(5000, 1.2, random);
  const truth = new Map<string, number>();
  const N = 100_000;
  for (let i = 0; i < N; i++) {
    clock.advance(2.4); // 240 s in all: 25 buckets inside the 5m window
    const key = `user-${draw()}`;
    topClients.observe(key, false, 1);
    truth.set(key, (truth.get(key) ?? 0) + 1);
  }
  const rows = topClients.top(300_000, 1_000_000);
  const listed = new Map(rows.map((r) => [r.key, r]));
  let withError = 0;
  for (const r of rows) {
    const n = truth.get(r.key) ?? 0;
    assert.ok(
      r.requests - r.error_bound <= n && n <= r.requests,
      `${r.key}: ${r.requests} − ${r.error_bound} ≤ ${n}`,
    );
    if (r.error_bound > 0) withError++;
  }
  assert.ok(withError > 0, 'the stream forced evictions');
  const heavy = [...truth].filter(([, n]) => n > N / k);
  assert.ok(heavy.length >= 3, `${heavy.length} keys above N/k`);
  for (const [key, n] of heavy) assert.ok(listed.has(key), `${key} (${n} > N/k) is not listed`);
  for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1]!.requests >= rows[i]!.requests, 'sorted');
});

test('errors and bytes are exact for keys that were never evicted, through churn', () => {
  const random = prng(5);
  const sketch = new SpaceSaving(50);
  const clock = new FakeClock();
  const topClients = new TopClients({ clock, capacity: 50 });
  const truth = new Map<string, { requests: number; errors: number; bytes: number }>();
  const heavy = Array.from({ length: 20 }, (_, i) => `198.51.100.${i}`);
  let churn = 0;
  for (let round = 0; round < 2000; round++) {
    clock.advance(100); // 200 s: 21 buckets
    for (const key of heavy) {
      const isError = random() < 0.1 + heavy.indexOf(key) / 100;
      const bytes = Math.floor(random() * 5000);
      sketch.observe(key, 1, isError ? 1 : 0, bytes);
      topClients.observe(key, isError, bytes);
      const t = truth.get(key) ?? { requests: 0, errors: 0, bytes: 0 };
      t.requests++;
      t.errors += isError ? 1 : 0;
      t.bytes += bytes;
      truth.set(key, t);
    }
    for (let j = 0; j < 5; j++) {
      const key = address(churn++);
      sketch.observe(key, 1, 1, 7);
      topClients.observe(key, true, 7);
    }
  }
  assert.ok(sketch.min > 0, 'the churn filled the summary and evicted');
  for (const key of heavy) {
    const c = sketch.get(key);
    const t = truth.get(key)!;
    assert.deepEqual(c, { key, count: t.requests, errorBound: 0, errors: t.errors, bytes: t.bytes });
  }
  const rows = new Map(topClients.top(300_000, 100).map((r) => [r.key, r]));
  for (const key of heavy) {
    const t = truth.get(key)!;
    assert.deepEqual(rows.get(key), { key, ...t, error_bound: 0 });
  }
  // Churned keys entered by eviction: their bound is positive and their side sums lower bounds.
  for (const c of sketch.counters())
    if (!heavy.includes(c.key)) {
      assert.ok(c.errorBound > 0, `${c.key} entered by eviction`);
      assert.equal(c.errors, c.count - c.errorBound, `${c.key}: errors since it entered`);
      assert.equal(c.bytes, 7 * c.errors);
    }
});

test('SpaceSaving refuses a bad capacity and bad weights, and clear() forgets everything', () => {
  assert.throws(() => new SpaceSaving(0), /capacity must be an integer/);
  const sketch = new SpaceSaving(2);
  assert.throws(() => sketch.observe('a', 0), /weight > 0/);
  assert.throws(() => sketch.observe('a', 1, 0, Number.NaN), /bytes ≥ 0/);
  sketch.observe('a');
  sketch.observe('b', 2);
  sketch.observe('c'); // evicts a (count 1): c inherits 1
  assert.deepEqual(sketch.counters(), [
    { key: 'b', count: 2, errorBound: 0, errors: 0, bytes: 0 },
    { key: 'c', count: 2, errorBound: 1, errors: 0, bytes: 0 },
  ]);
  assert.equal(sketch.get('a'), undefined);
  sketch.clear();
  assert.equal(sketch.size, 0);
  assert.equal(sketch.total, 0);
  assert.equal(sketch.min, 0);
  assert.deepEqual(sketch.counters(), []);
  sketch.observe('a');
  assert.deepEqual(sketch.get('a'), { key: 'a', count: 1, errorBound: 0, errors: 0, bytes: 0 });
});

test('KeyIndex finds every key after any run of sets and deletes, also when hashes collide or wrap around the table', () => {
  const slots = 12; // a table of 32 positions
  const hashes: Record<string, (index: KeyIndex, key: string, n: number) => number> = {
    seeded: (index, key) => index.hash(key),
    colliding: () => 7,
    wrapping: (_index, _key, n) => 31 - (n % 3), // runs that cross the end of the table
    clustered: (_index, _key, n) => (n % 4) * 8 + (n % 2),
  };
  for (const [name, hashOf] of Object.entries(hashes)) {
    const random = prng(name.length);
    const index = new KeyIndex(slots, 42);
    const model = new Map<string, number>(); // key → slot
    const hashFor = new Map<string, number>();
    const free = Array.from({ length: slots }, (_, i) => i);
    for (let step = 0; step < 20_000; step++) {
      const n = Math.floor(random() * 40);
      const key = `k${n}`;
      if (!hashFor.has(key)) hashFor.set(key, hashOf(index, key, n));
      const hash = hashFor.get(key)!;
      assert.equal(index.find(key, hash), model.get(key) ?? -1, `${name} step ${step}: find ${key}`);
      if (model.has(key) && random() < 0.5) {
        index.delete(model.get(key)!);
        free.push(model.get(key)!);
        model.delete(key);
      } else if (!model.has(key) && free.length > 0) {
        const slot = free.splice(Math.floor(random() * free.length), 1)[0]!;
        index.set(slot, key, hash);
        model.set(key, slot);
      }
      assert.equal(index.size, model.size);
    }
    for (const [key, slot] of model) {
      assert.equal(index.find(key, hashFor.get(key)!), slot, `${name}: ${key} at the end`);
      assert.equal(index.keyAt(slot), key);
    }
  }
});
