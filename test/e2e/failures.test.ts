import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { TestBackend } from '../helpers/backends.js';
import { blackholeAddress, refusedAddress, startBackend } from '../helpers/backends.js';
import { buildDist } from '../helpers/process.js';
import { assertStoredAndVerified } from '../helpers/store.js';
import type { Harness } from '../helpers/tollgate.js';
import { startTollgate } from '../helpers/tollgate.js';

async function get(tg: Harness, path: string, init: Parameters<typeof request>[1] = {}) {
  const res = await request(tg.url(path), init);
  const body = await res.body.text();
  const id = res.headers['x-request-id'] as string;
  return { status: res.statusCode, body, id, record: await tg.record(id) };
}

function pool(backends: string, extra = ''): string {
  return `
listeners: [{ name: public, address: 127.0.0.1:0 }]
routes: [{ name: r, pool: p, owner: team-a }]
pools:
  - name: p
    algorithm: round_robin
    backends: [${backends}]
${extra}`;
}

describe('upstream failures, terminations and retries', () => {
  let good: TestBackend;
  let good2: TestBackend;
  let refused: string;
  before(async () => {
    buildDist();
    good = await startBackend('good');
    good2 = await startBackend('good2');
    refused = await refusedAddress();
  });
  after(async () => {
    await good.close();
    await good2.close();
  });

  it('answers 502 upstream_connect_refused naming the backend when the only backend refuses', async () => {
    const tg = await startTollgate(
      pool(`{ name: dead, address: ${refused} }`, '    retries: { attempts: 0 }'),
    );
    try {
      const r = await get(tg, '/x');
      assert.equal(r.status, 502);
      assert.equal(JSON.parse(r.body).error, 'upstream_connect_refused');
      assert.equal(r.record.tollgate.termination, 'upstream_connect_refused');
      assert.equal(r.record.error.type, 'upstream_connect_refused');
      assert.match(
        r.record.error.message!,
        new RegExp(`dead \\(${refused}\\): connection refused after [\\d.]+ (ms|µs)`),
      );
      assert.equal(r.record.tollgate.attempts.length, 1);
      assert.equal(r.record.tollgate.backend.name, null);
    } finally {
      await tg.close();
    }
  });

  it('retries a refused connect on the next distinct backend, for any method', async () => {
    const tg = await startTollgate(
      pool(
        `{ name: dead, address: ${refused} }, { name: good, address: ${good.address} }`,
        '    retries: { attempts: 1, on: [] }',
      ),
    );
    try {
      const r = await get(tg, '/sink', { method: 'POST', body: 'hello' });
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.body), { backend: 'good', received: 5 });
      const attempts = r.record.tollgate.attempts;
      assert.deepEqual(
        attempts.map((a) => [a.backend, a.termination]),
        [
          ['dead', 'upstream_connect_refused'],
          ['good', 'ok'],
        ],
      );
      assert.equal(r.record.tollgate.backend.name, 'good');
      assert.equal(r.record.tollgate.termination, 'ok');
      assert.equal(r.record.http.request.body.size, 5);
    } finally {
      await tg.close();
    }
  });

  it('makes at most attempts+1 tries, each on a backend not yet tried', async () => {
    const r2 = await refusedAddress();
    const r3 = await refusedAddress();
    const tg = await startTollgate(
      pool(
        `{ name: d1, address: ${refused} }, { name: d2, address: ${r2} }, { name: d3, address: ${r3} }`,
        '    retries: { attempts: 2 }',
      ),
    );
    try {
      const r = await get(tg, '/x');
      assert.equal(r.status, 502);
      const names = r.record.tollgate.attempts.map((a) => a.backend);
      assert.equal(names.length, 3);
      assert.equal(new Set(names).size, 3);
      assert.match(r.record.error.message!, /attempt d1 .*; retried on d2 .*; retried on d3 .*no tries left/);
    } finally {
      await tg.close();
    }
  });

  it('answers 504 upstream_connect_timeout when connects hang', async () => {
    const hole = await blackholeAddress();
    const tg = await startTollgate(
      pool(
        `{ name: hole, address: ${hole.address} }`,
        '    timeouts: { connect: 300ms }\n    retries: { attempts: 0 }',
      ),
    );
    try {
      const r = await get(tg, '/x');
      assert.equal(r.status, 504);
      assert.equal(r.record.tollgate.termination, 'upstream_connect_timeout');
      assert.ok(r.record.tollgate.attempts[0]!.duration_ms! >= 250);
    } finally {
      await tg.close();
      hole.close();
    }
  });

  it('answers 504 upstream_response_timeout when the backend accepts and never answers', async () => {
    const tg = await startTollgate(
      pool(`{ name: good, address: ${good.address} }`, '    timeouts: { response_header: 300ms }'),
    );
    try {
      const r = await get(tg, '/stall');
      assert.equal(r.status, 504);
      assert.equal(r.record.tollgate.termination, 'upstream_response_timeout');
      assert.equal(
        r.record.tollgate.attempts.length,
        1,
        'a response timeout is not in the default retries.on',
      );
      assert.ok(r.record.tollgate.attempts[0]!.connect_ms !== null);
      await assertStoredAndVerified(tg);
    } finally {
      await tg.close();
    }
  });

  it('answers 502 upstream_reset when the backend resets; retries an idempotent request when reset is listed', async () => {
    const tg = await startTollgate(
      pool(
        `{ name: good, address: ${good.address} }, { name: good2, address: ${good2.address} }`,
        '    retries: { attempts: 1, on: [reset] }',
      ),
    );
    try {
      const g = await get(tg, '/reset');
      assert.equal(g.status, 502, 'both backends reset');
      assert.deepEqual(
        g.record.tollgate.attempts.map((a) => a.termination),
        ['upstream_reset', 'upstream_reset'],
      );
      assert.equal(g.record.tollgate.termination, 'upstream_reset');
      const before = good.count() + good2.count();
      const p = await get(tg, '/reset', { method: 'POST', body: 'x' });
      assert.equal(p.status, 502);
      assert.equal(p.record.tollgate.attempts.length, 1, 'a POST that reached a backend is not retried');
      assert.equal(good.count() + good2.count() - before, 1);
    } finally {
      await tg.close();
    }
  });

  it('retries on a listed status for an idempotent request and passes the last answer through', async () => {
    const tg = await startTollgate(
      pool(
        `{ name: good, address: ${good.address} }, { name: good2, address: ${good2.address} }`,
        '    retries: { attempts: 1, on: [503] }',
      ),
    );
    try {
      const r = await get(tg, '/status/503');
      assert.equal(r.status, 503, 'both answered 503: the last answer is passed through');
      assert.equal(r.record.tollgate.termination, 'ok');
      assert.equal(r.record.tollgate.attempts.length, 2);
      assert.match(r.record.tollgate.attempts[0]!.error!, /answered 503 .*retried/);
      assert.equal(r.record.tollgate.upstream.status_code, 503);
    } finally {
      await tg.close();
    }
  });

  it('passes a retryable status through when no backend is left to retry on', async () => {
    const tg = await startTollgate(
      pool(
        `{ name: good, address: ${good.address} }`,
        '    retries: { attempts: 2, on: [503] }\n    outlier_detection: { consecutive_failures: 1, ejection_time: 30s }',
      ),
    );
    try {
      const r = await get(tg, '/status/503');
      assert.equal(r.status, 503);
      assert.equal(JSON.parse(r.body).backend, 'good', "the backend's own answer, not a local reply");
      assert.equal(r.record.tollgate.termination, 'ok');
      assert.equal(r.record.tollgate.attempts.length, 1);
    } finally {
      await tg.close();
    }
  });

  it('answers 502 upstream_protocol_error when the backend does not speak HTTP', async () => {
    const tg = await startTollgate(
      pool(`{ name: good, address: ${good.address} }`, '    retries: { attempts: 0 }'),
    );
    try {
      const r = await get(tg, '/garbage');
      assert.equal(r.status, 502);
      assert.equal(r.record.tollgate.termination, 'upstream_protocol_error');
    } finally {
      await tg.close();
    }
  });

  it('cuts the response and records upstream_reset when the backend dies mid-body', async () => {
    const tg = await startTollgate(pool(`{ name: good, address: ${good.address} }`));
    try {
      const res = await request(tg.url('/cut?bytes=5000'));
      assert.equal(res.statusCode, 200);
      await assert.rejects(res.body.arrayBuffer());
      const r = await tg.record(res.headers['x-request-id'] as string);
      assert.equal(r.tollgate.termination, 'upstream_reset');
      assert.equal(r.http.response.status_code, 200);
      assert.equal(r.http.response.body.size, 5000);
      assert.match(r.error.message!, /failed mid-response/);
      await assertStoredAndVerified(tg);
    } finally {
      await tg.close();
    }
  });

  it('records upstream_response_timeout when the backend stalls mid-body longer than the idle timeout', async () => {
    const staller = await startBackend('staller', (_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('x'.repeat(10)); // then nothing
    });
    const tg = await startTollgate(
      pool(`{ name: staller, address: ${staller.address} }`, '    timeouts: { idle: 300ms }'),
    );
    try {
      const res = await request(tg.url('/half'));
      assert.equal(res.statusCode, 200);
      await assert.rejects(res.body.text());
      const r = await tg.record(res.headers['x-request-id'] as string);
      assert.equal(r.tollgate.termination, 'upstream_response_timeout');
      assert.equal(r.http.response.status_code, 200);
      assert.equal(r.http.response.body.size, 10);
    } finally {
      await tg.close();
      await staller.close();
    }
  });

  it('answers 408 client_timeout when the client sends its body too slowly (request_timeout)', async () => {
    const tg = await startTollgate(`
listeners: [{ name: public, address: 127.0.0.1:0, limits: { request_timeout: 600ms, headers_timeout: 500ms } }]
routes: [{ name: r, pool: p }]
pools: [{ name: p, backends: [{ name: good, address: ${good.address} }] }]
`);
    try {
      const socket = net.connect(tg.port, '127.0.0.1');
      socket.on('error', () => {});
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      await new Promise((r) => socket.once('connect', r));
      socket.write('POST /sink HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\nabc');
      const closed = new Promise((r) => socket.once('close', r));
      const [r] = await tg.waitForRecords(1, 5000);
      await closed;
      assert.equal(r!.tollgate.termination, 'client_timeout');
      assert.match(text, /^HTTP\/1\.1 408/);
      assert.equal(r!.http.response.status_code, 408);
    } finally {
      await tg.close();
    }
  });

  it('records client_aborted with 499 and does not hold it against the backend', async () => {
    const tg = await startTollgate(
      pool(
        `{ name: good, address: ${good.address} }`,
        '    outlier_detection: { consecutive_failures: 1, ejection_time: 30s }',
      ),
    );
    try {
      const req = http.get(tg.url('/slow?ms=2000'));
      req.on('error', () => {});
      await sleep(150);
      req.destroy();
      const [r] = await tg.waitForRecords(1);
      assert.equal(r!.tollgate.termination, 'client_aborted');
      assert.equal(r!.http.response.status_code, 499);
      assert.equal(r!.tollgate.attempts[0]!.termination, 'client_aborted');
      assert.equal(tg.app.proxy.backends.get('p', 'good')!.ready(), true);
      assert.equal(tg.app.proxy.backends.get('p', 'good')!.inflight, 0);
      const ok = await get(tg, '/x');
      assert.equal(ok.status, 200);
    } finally {
      await tg.close();
    }
  });

  it('answers 503 circuit_open when every backend is at max_connections', async () => {
    const tg = await startTollgate(
      pool(`{ name: good, address: ${good.address} }`, '    max_connections: 1'),
    );
    try {
      const slow = request(tg.url('/slow?ms=400'));
      await sleep(100);
      const r = await get(tg, '/x');
      assert.equal(r.status, 503);
      assert.equal(r.record.tollgate.termination, 'circuit_open');
      assert.match(r.record.error.message!, /max_connections \(1\)/);
      const s = await slow;
      assert.equal(s.statusCode, 200);
      await s.body.dump();
    } finally {
      await tg.close();
    }
  });

  it('takes a backend out after failed active checks and answers 503 no_healthy_backend when none is left', async () => {
    const tg = await startTollgate(
      pool(
        `{ name: good, address: ${good.address} }`,
        '    health_check: { path: /healthz, interval: 100ms, timeout: 200ms, healthy_threshold: 1, unhealthy_threshold: 2 }',
      ),
    );
    try {
      good.healthy = false;
      const state = tg.app.proxy.backends.get('p', 'good')!;
      for (let i = 0; i < 5 && state.ready(); i++) await tg.app.proxy.backends.checkAll();
      const r = await get(tg, '/x');
      assert.equal(r.status, 503);
      assert.equal(r.record.tollgate.termination, 'no_healthy_backend');
      assert.match(r.record.error.message!, /good: unhealthy/);
      assert.ok(tg.events.some((e) => e.action === 'backend_unhealthy' && e.labels.backend === 'good'));
      good.healthy = true;
      for (let i = 0; i < 5 && !state.ready(); i++) await tg.app.proxy.backends.checkAll();
      const back = await get(tg, '/x');
      assert.equal(back.status, 200);
      assert.ok(tg.events.some((e) => e.action === 'backend_healthy'));
    } finally {
      good.healthy = true;
      await tg.close();
    }
  });

  it('ejects a backend after consecutive failures (passive outlier detection) and routes around it', async () => {
    const tg = await startTollgate(
      pool(
        `{ name: dead, address: ${refused} }, { name: good, address: ${good.address} }`,
        '    outlier_detection: { consecutive_failures: 2, ejection_time: 30s }\n    retries: { attempts: 1 }',
      ),
    );
    try {
      for (let i = 0; i < 4; i++) assert.equal((await get(tg, '/x')).status, 200);
      const ejected = tg.events.filter((e) => e.action === 'backend_ejected');
      assert.equal(ejected.length, 1);
      assert.equal(ejected[0]!.labels.backend, 'dead');
      const before = tg.records.length;
      for (let i = 0; i < 4; i++) await get(tg, '/y');
      const later = tg.records.slice(before);
      assert.ok(
        later.every((r) => r.tollgate.attempts.length === 1 && r.tollgate.attempts[0]!.backend === 'good'),
        'the ejected backend gets no attempts',
      );
    } finally {
      await tg.close();
    }
  });
});
