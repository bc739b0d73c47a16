import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { ALGORITHMS } from '../../src/balancer/index.js';
import type { TestBackend } from '../helpers/backends.js';
import { refusedAddress, startBackend } from '../helpers/backends.js';
import type { Harness } from '../helpers/tollgate.js';
import { startTollgate } from '../helpers/tollgate.js';

async function backendOf(tg: Harness, path: string, headers: Record<string, string> = {}) {
  const res = await request(tg.url(path), { headers });
  const body = (await res.body.json()) as { backend: string };
  return { backend: body.backend, setCookie: res.headers['set-cookie'] as string | undefined };
}

/** One listener and one route to pool p; the pool's keys follow. */
const POOL_HEAD = `listeners: [{ name: public, address: 127.0.0.1:0 }]
routes: [{ name: r, pool: p }]
pools:
  - name: p
`;

describe('balancing over real sockets', () => {
  let backends: TestBackend[];
  let dead: string;
  before(async () => {
    backends = [await startBackend('b1'), await startBackend('b2'), await startBackend('b3')];
    dead = await refusedAddress();
  });
  after(async () => {
    for (const b of backends) await b.close();
  });

  // One contract, every algorithm: all backends serve, a dead backend is skipped by the retry on
  // the next distinct backend, and a drained backend gets nothing.
  for (const algorithm of ALGORITHMS) {
    it(`${algorithm}: spreads over every backend, retries past a dead one and skips a drained one`, async () => {
      const hash = algorithm === 'consistent_hash' ? '\n    hash_key: header:x-user' : '';
      const tg = await startTollgate(`${POOL_HEAD}    algorithm: ${algorithm}${hash}
    retries: { attempts: 3 }
    backends:
${backends.map((b) => `      - { name: ${b.name}, address: ${b.address} }`).join('\n')}
      - { name: dead, address: ${dead} }
`);
      try {
        const counts = new Map<string, number>();
        for (let i = 0; i < 90; i++) {
          const { backend } = await backendOf(tg, '/x', { 'x-user': `user-${i}` });
          counts.set(backend, (counts.get(backend) ?? 0) + 1);
        }
        assert.deepEqual(
          [...counts.keys()].sort(),
          ['b1', 'b2', 'b3'],
          `served by ${JSON.stringify([...counts])}`,
        );
        const records = await tg.waitForRecords(90);
        assert.ok(records.every((r) => r.tollgate.termination === 'ok'));
        const retried = records.filter((r) => r.tollgate.attempts.length > 1);
        assert.ok(
          retried.every(
            (r) =>
              r.tollgate.attempts[0]!.backend === 'dead' &&
              r.tollgate.attempts[0]!.termination === 'upstream_connect_refused',
          ),
        );
        tg.app.proxy.backends.get('p', 'b2')!.setDraining(true, 'test');
        for (let i = 0; i < 30; i++) {
          const { backend } = await backendOf(tg, '/y', { 'x-user': `user-${i}` });
          assert.notEqual(backend, 'b2');
        }
      } finally {
        await tg.close();
      }
    });
  }

  it('consistent_hash keeps a key on one backend and moves only the keys of a backend that leaves', async () => {
    const tg = await startTollgate(`${POOL_HEAD}    algorithm: consistent_hash
    hash_key: cookie:session
    backends:
${backends.map((b) => `      - { name: ${b.name}, address: ${b.address} }`).join('\n')}
`);
    try {
      const owner = new Map<string, string>();
      for (let i = 0; i < 150; i++)
        owner.set(`s${i}`, (await backendOf(tg, '/k', { cookie: `a=1; session=s${i}` })).backend);
      for (let i = 0; i < 150; i += 10)
        assert.equal((await backendOf(tg, '/k', { cookie: `session=s${i}` })).backend, owner.get(`s${i}`));
      tg.app.proxy.backends.get('p', 'b3')!.setDraining(true, 'test');
      let moved = 0;
      for (const [key, was] of owner) {
        const now = (await backendOf(tg, '/k', { cookie: `session=${key}` })).backend;
        if (was === 'b3') {
          assert.notEqual(now, 'b3');
          moved++;
        } else assert.equal(now, was, `key ${key} stayed on ${was}`);
      }
      assert.ok(moved > 20 && moved < 80, `b3 owned ${moved} of 150 keys`);
    } finally {
      await tg.close();
    }
  });

  it('sticky cookies pin a client to the backend that served it first', async () => {
    const tg = await startTollgate(`${POOL_HEAD}    algorithm: round_robin
    sticky: { cookie: tg_sticky }
    backends:
${backends.map((b) => `      - { name: ${b.name}, address: ${b.address} }`).join('\n')}
`);
    try {
      const first = await backendOf(tg, '/s');
      assert.match(first.setCookie!, /^tg_sticky=[0-9a-f]{16}; Path=\/; HttpOnly$/);
      assert.ok(!first.setCookie!.includes(first.backend), 'the cookie does not name the backend');
      const cookie = first.setCookie!.split(';')[0]!;
      for (let i = 0; i < 6; i++) {
        const r = await backendOf(tg, '/s', { cookie });
        assert.equal(r.backend, first.backend);
        assert.equal(r.setCookie, undefined, 'no new cookie while it still holds');
      }
      tg.app.proxy.backends.get('p', first.backend)!.setDraining(true, 'test');
      const moved = await backendOf(tg, '/s', { cookie });
      assert.notEqual(moved.backend, first.backend);
      assert.ok(moved.setCookie, 'a new cookie when the pinned backend is gone');
    } finally {
      await tg.close();
    }
  });

  it('after a retry, the sticky cookie names the backend that answered', async () => {
    const tg = await startTollgate(`${POOL_HEAD}    algorithm: round_robin
    sticky: { cookie: tg_sticky }
    backends:
      - { name: dead, address: ${dead} }
      - { name: b1, address: ${backends[0]!.address} }
`);
    try {
      const first = await backendOf(tg, '/s');
      assert.equal(first.backend, 'b1');
      const cookie = first.setCookie!.split(';')[0]!;
      for (let i = 0; i < 3; i++) {
        const again = await backendOf(tg, '/s', { cookie });
        assert.equal(again.backend, 'b1');
        assert.equal(again.setCookie, undefined);
      }
      const records = await tg.waitForRecords(4);
      assert.ok(
        records.slice(1).every((r) => r.tollgate.attempts.length === 1),
        'pinned requests go straight to b1',
      );
    } finally {
      await tg.close();
    }
  });

  it('weighted_round_robin follows the weights', async () => {
    const tg = await startTollgate(`${POOL_HEAD}    algorithm: weighted_round_robin
    backends:
      - { name: b1, address: ${backends[0]!.address}, weight: 3 }
      - { name: b2, address: ${backends[1]!.address}, weight: 1 }
`);
    try {
      const seen: string[] = [];
      for (let i = 0; i < 8; i++) seen.push((await backendOf(tg, '/w')).backend);
      assert.equal(seen.filter((b) => b === 'b1').length, 6);
      assert.equal(seen.filter((b) => b === 'b2').length, 2);
    } finally {
      await tg.close();
    }
  });
});
