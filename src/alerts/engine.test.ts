import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileConfigText } from '../config/index.js';
import type { AdminEvent, RequestOutcome } from '../core/index.js';
import { FakeClock, silentLogger } from '../core/index.js';
import type { AlertView } from './index.js';
import { AlertEngine } from './index.js';

/** The state machine of alert instances with a fake clock: for, de-duplication, cooldown, rule errors. */

const plan = compileConfigText(
  `listeners: [{ name: l, address: 127.0.0.1:0 }]
routes: [{ name: api, pool: p, owner: team-a }]
pools: [{ name: p, backends: [{ name: b, address: 127.0.0.1:9 }] }]
alerts:
  notifiers: [{ name: n, type: webhook, url: http://127.0.0.1:9/hook }]
  rules:
    - { name: r, when: error_rate, route: api, above: 50%, window: 10s, for: 2s, cooldown: 30s }
`,
  '<inline>',
);

function outcome(clock: FakeClock, status: number): RequestOutcome {
  const now = clock.now();
  return {
    requestId: `id-${now}-${status}`,
    startMs: now - 5,
    endMs: now,
    statusCode: status,
    route: 'api',
    pool: 'p',
    backendName: 'b',
    termination: 'ok',
    errorMessage: status >= 500 ? 'backend said 500' : null,
    clientAddress: '192.0.2.1',
  } as unknown as RequestOutcome;
}

function engine() {
  const clock = new FakeClock();
  const events: AdminEvent[] = [];
  const sent: AlertView[] = [];
  const e = new AlertEngine({
    plan: () => plan,
    sources: { backends: () => [], audit: () => ({ lost: 0, queued: 0, lagSeconds: {} }), clients: null },
    events: { emit: (ev) => events.push(ev) },
    clock,
    logger: silentLogger,
    instance: 'test',
    adminUrl: () => null,
    deliver: async (_n, a) => {
      sent.push(a);
      return null;
    },
  });
  const traffic = (n: number, status: number) => {
    for (let i = 0; i < n; i++) e.signals.onOutcome(outcome(clock, status));
  };
  return { clock, events, sent, e, traffic, actions: () => events.map((x) => x.action) };
}

describe('alert engine', () => {
  it('goes pending, fires after `for`, notifies once while it holds, resolves once, then keeps quiet for the cooldown', async () => {
    const { clock, sent, e, traffic, actions } = engine();
    traffic(10, 500);
    e.tick();
    assert.deepEqual(actions(), ['alert_pending']);
    clock.advance(1000);
    traffic(2, 500);
    e.tick();
    assert.deepEqual(actions(), ['alert_pending'], 'not yet: for is 2s');
    clock.advance(1000);
    traffic(2, 500);
    e.tick();
    assert.deepEqual(actions(), ['alert_pending', 'alert_firing']);
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      traffic(2, 500);
      e.tick();
    }
    await e.close();
    assert.deepEqual(
      sent.map((a) => a.status),
      ['firing'],
      'one notification while it keeps firing',
    );
    assert.equal(sent[0]!.owner, 'team-a');
    assert.equal(sent[0]!.samples.length, 5);
    assert.deepEqual(sent[0]!.errors, ['backend said 500']);
    clock.advance(11_000); // the 500s leave the window
    traffic(20, 200);
    e.tick();
    assert.equal(actions().at(-1), 'alert_resolved');
    await e.close();
    assert.deepEqual(
      sent.map((a) => a.status),
      ['firing', 'resolved'],
    );
    // failing again within the cooldown: nothing; after it: pending again
    clock.advance(1000);
    traffic(30, 500);
    e.tick();
    assert.equal(actions().at(-1), 'alert_resolved');
    clock.advance(30_000);
    traffic(30, 500);
    e.tick();
    assert.equal(actions().at(-1), 'alert_pending');
  });

  it('a pending alert whose condition stops before `for` is cleared, never fired', async () => {
    const { clock, sent, e, traffic, actions } = engine();
    traffic(10, 500);
    e.tick();
    clock.advance(11_000);
    traffic(10, 200);
    e.tick();
    await e.close();
    assert.deepEqual(actions(), ['alert_pending', 'alert_cleared']);
    assert.equal(sent.length, 0);
  });

  it('needs at least five requests in the window before a ratio counts', () => {
    const { e, traffic, actions } = engine();
    traffic(4, 500);
    e.tick();
    assert.deepEqual(actions(), []);
    traffic(1, 500);
    e.tick();
    assert.deepEqual(actions(), ['alert_pending']);
  });
});

describe('alert rules on process state', () => {
  const statePlan = compileConfigText(
    `listeners: [{ name: l, address: 127.0.0.1:0 }]
routes: [{ name: api, pool: p, owner: team-a }]
pools: [{ name: p, backends: [{ name: b1, address: 127.0.0.1:9 }, { name: b2, address: 127.0.0.1:10 }] }]
alerts:
  rules:
    - { name: down, when: backend_down, pool: p }
    - { name: lost, when: audit_lost, window: 10s }
    - { name: lag, when: audit_lag, above: 5s }
`,
    '<inline>',
  );

  it('backend_down names each unhealthy or ejected backend; audit_lost fires on new losses; audit_lag on a sink behind', () => {
    const clock = new FakeClock();
    const events: AdminEvent[] = [];
    const backends = [
      { pool: 'p', name: 'b1', healthy: true, draining: false, ejectedUntil: 0 },
      { pool: 'p', name: 'b2', healthy: true, draining: false, ejectedUntil: 0 },
    ];
    const audit = { lost: 0, queued: 0, lagSeconds: { 'jsonl:requests.jsonl': 0 } as Record<string, number> };
    const e = new AlertEngine({
      plan: () => statePlan,
      sources: { backends: () => backends, audit: () => audit, clients: null },
      events: { emit: (ev) => events.push(ev) },
      clock,
      logger: silentLogger,
      instance: 'test',
      adminUrl: () => null,
      deliver: async () => null,
    });
    const firing = () =>
      events.filter((x) => x.action === 'alert_firing').map((x) => `${x.labels.rule}:${x.labels.key}`);
    e.tick();
    assert.deepEqual(firing(), []);
    backends[1]!.healthy = false;
    backends[0]!.ejectedUntil = 123;
    audit.lost = 3;
    audit.lagSeconds['jsonl:requests.jsonl'] = 7;
    clock.advance(1000);
    e.tick();
    assert.deepEqual(firing().sort(), ['down:p/b1', 'down:p/b2', 'lag:jsonl:requests.jsonl', 'lost:']);
    const lost = events.find((x) => x.action === 'alert_firing' && x.labels.rule === 'lost')!;
    assert.equal(lost.reason, '3 audit record(s) could not be kept in 10.0s');
    backends[1]!.healthy = true;
    clock.advance(11_000);
    e.tick();
    const resolved = events
      .filter((x) => x.action === 'alert_resolved')
      .map((x) => `${x.labels.rule}:${x.labels.key}`);
    assert.deepEqual(resolved.sort(), ['down:p/b2', 'lost:']);
    assert.deepEqual(e.firingByRule().sort(), [
      ['down', 1],
      ['lag', 1],
      ['lost', 0],
    ]);
  });
});
