import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RateLimitPlan, RoutePlan } from '../config/index.js';
import { FakeClock } from '../core/index.js';
import { RateLimiter, RateLimits } from './index.js';

function limit(ratePerSecond: number, burst: number, per: RateLimitPlan['per'] = 'client_ip'): RateLimitPlan {
  return { per, ratePerSecond, burst, rateText: `${ratePerSecond}/s` };
}

/** Takes n tokens at once; how many were admitted. */
function burst(l: RateLimiter, key: string, n: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (l.take(key) === 0) ok++;
  return ok;
}

describe('rate limiter (token bucket)', () => {
  test('admits a burst, then refuses with the wait until the next token', () => {
    const clock = new FakeClock();
    const l = new RateLimiter(limit(10, 5), clock);
    assert.equal(burst(l, '10.0.0.1', 5), 5);
    assert.equal(l.take('10.0.0.1'), 100, 'one token every 100 ms');
    clock.advance(40);
    assert.equal(l.take('10.0.0.1'), 60);
    clock.advance(60);
    assert.equal(l.take('10.0.0.1'), 0, 'the token that refilled');
    assert.equal(l.take('10.0.0.1'), 100);
  });

  test('refills at the rate up to the burst, never above', () => {
    const clock = new FakeClock();
    const l = new RateLimiter(limit(2, 4), clock);
    assert.equal(burst(l, 'k', 10), 4);
    clock.advance(1000);
    assert.equal(burst(l, 'k', 10), 2, 'two tokens after one second at 2/s');
    clock.advance(3_600_000);
    assert.equal(burst(l, 'k', 10), 4, 'a long pause refills only up to burst');
  });

  test('a refused request takes nothing: steady retries still get one token per interval', () => {
    const clock = new FakeClock();
    const l = new RateLimiter(limit(1, 1), clock);
    let admitted = 0;
    for (let ms = 0; ms < 10_000; ms += 50) {
      if (l.take('k') === 0) admitted++;
      clock.advance(50);
    }
    assert.equal(admitted, 10);
  });

  test('keys have their own buckets', () => {
    const l = new RateLimiter(limit(1, 2), new FakeClock());
    assert.equal(burst(l, 'a', 5), 2);
    assert.equal(burst(l, 'b', 5), 2);
    assert.equal(l.size, 2);
  });

  test('slow rates: 6/m gives a retry wait of ten seconds', () => {
    const l = new RateLimiter(
      { per: 'client_ip', ratePerSecond: 0.1, burst: 1, rateText: '6/m' },
      new FakeClock(),
    );
    assert.equal(l.take('k'), 0);
    assert.equal(l.take('k'), 10_000);
  });

  test('buckets idle long enough to be full again are dropped', () => {
    const clock = new FakeClock();
    const l = new RateLimiter(limit(10, 10), clock);
    for (let i = 0; i < 1000; i++) l.take(`10.0.${i >> 8}.${i & 255}`);
    assert.equal(l.size, 1000);
    clock.advance(500);
    l.take('busy');
    clock.advance(600);
    l.take('busy');
    clock.advance(1000);
    l.take('busy');
    assert.equal(l.size, 1, 'only the busy key is left (the others refilled in 1 s)');
  });

  test('memory is capped: at maxKeys the least recently used buckets go', () => {
    const clock = new FakeClock();
    const l = new RateLimiter(limit(1, 5), clock, { maxKeys: 100 });
    assert.equal(burst(l, 'hot', 5), 5);
    for (let i = 0; i < 1000; i++) {
      l.take(`spray-${i}`);
      if (i % 50 === 0) assert.notEqual(l.take('hot'), 0, 'the hot key stays limited while touched');
    }
    assert.ok(l.size <= 100, `size ${l.size}`);
    assert.notEqual(l.take('hot'), 0, 'the recently used key kept its empty bucket');
  });

  test('refuses nonsense settings', () => {
    assert.throws(() => new RateLimiter(limit(0, 1), new FakeClock()), TypeError);
    assert.throws(() => new RateLimiter(limit(1, 0), new FakeClock()), TypeError);
  });
});

describe('rate limits across reloads', () => {
  function route(name: string, rateLimit: RateLimitPlan | null): RoutePlan {
    return {
      name,
      host: null,
      pathPrefix: null,
      methods: null,
      pool: 'p',
      owner: null,
      tags: null,
      auth: null,
      rateLimit,
    };
  }

  test('a route that keeps its limit keeps its buckets; a changed or removed limit does not', () => {
    const limits = new RateLimits(new FakeClock());
    limits.sync([route('api', limit(1, 2)), route('web', limit(1, 2)), route('free', null)]);
    const api = limits.get('api')!;
    const web = limits.get('web')!;
    assert.equal(limits.get('free'), null);
    assert.equal(burst(api, 'k', 5), 2);
    limits.sync([route('api', limit(1, 2)), route('web', limit(1, 3)), route('free', null)]);
    assert.equal(limits.get('api'), api, 'same limit: same buckets');
    assert.notEqual(limits.get('web'), web, 'changed burst: new buckets');
    assert.equal(burst(limits.get('api')!, 'k', 5), 0, 'the emptied bucket survived the reload');
    limits.sync([route('web', limit(1, 3))]);
    assert.equal(limits.get('api'), null);
  });
});
