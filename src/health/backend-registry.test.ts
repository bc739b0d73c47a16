import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileConfigText } from '../config/index.js';
import type { AdminEvent } from '../core/index.js';
import { systemClock } from '../core/index.js';
import { BackendRegistry } from './backend-registry.js';

const plan = compileConfigText(
  `listeners: [{ name: public, address: 127.0.0.1:0 }]
routes: [{ name: r, pool: p }]
pools:
  - name: p
    health_check: { path: /healthz }
    backends: [{ name: a, address: 127.0.0.1:9001 }, { name: b, address: 127.0.0.1:9002 }]
`,
  't.yaml',
);

describe('BackendRegistry in a cluster', () => {
  it('a worker reports its load; the primary sums the reports (in-flight added, any ejection, latency averaged, most failures)', () => {
    const events: AdminEvent[] = [];
    const worker1 = new BackendRegistry(systemClock, { emit: (e) => events.push(e) }, false);
    const worker2 = new BackendRegistry(systemClock, { emit: (e) => events.push(e) }, false);
    worker1.sync(plan);
    worker2.sync(plan);
    worker1.get('p', 'a')!.inflight = 3;
    worker1.get('p', 'a')!.ewmaMs = 2;
    worker2.get('p', 'a')!.inflight = 4;
    worker2.get('p', 'a')!.ewmaMs = 4;
    worker2.get('p', 'a')!.consecutiveFailures = 2;
    worker2.get('p', 'b')!.observeAttempt(true, 1, { consecutiveFailures: 1, ejectionTimeMs: 60_000 });

    const primary = new BackendRegistry(systemClock, { emit: () => {} }, false);
    primary.sync(plan);
    primary.absorb([worker1.loads(), worker2.loads()]);
    const a = primary.get('p', 'a')!;
    assert.deepEqual([a.inflight, a.ewmaMs, a.consecutiveFailures, a.ready()], [7, 3, 2, true]);
    const b = primary.get('p', 'b')!;
    assert.equal(b.ready(), false, 'ejected by one worker: not ready in the primary’s view');
    // the worker recorded the ejection; the primary's view records nothing of its own
    assert.deepEqual(
      events.map((e) => e.action),
      ['backend_ejected'],
    );
    primary.absorb([worker1.loads()]);
    assert.deepEqual([primary.get('p', 'a')!.inflight, primary.get('p', 'b')!.ready()], [3, true]);
  });

  it('a worker takes health and drain from the primary without events of its own', () => {
    const events: AdminEvent[] = [];
    const worker = new BackendRegistry(systemClock, { emit: (e) => events.push(e) }, false);
    worker.sync(plan);
    worker.mirror([
      { pool: 'p', name: 'a', healthy: false, draining: false },
      { pool: 'p', name: 'b', healthy: true, draining: true },
    ]);
    assert.deepEqual([worker.get('p', 'a')!.ready(), worker.get('p', 'b')!.ready()], [false, false]);
    assert.deepEqual(events, []);
    worker.close();
  });
});
