import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { readStore } from '../helpers/store.js';
import type { Harness } from '../helpers/tollgate.js';
import { startTollgate } from '../helpers/tollgate.js';

/**
 * Slow and greedy clients (issue 9.2): slowloris connections trickling their heads and readers
 * that never read do not keep a normal client from being served in under a second; the limits
 * (headers_timeout, send_timeout, max_connections_per_ip) end them, and each ended request is on
 * the record. The attackers come from other loopback addresses (127.0.0.2, 127.0.0.3) than the
 * normal client (127.0.0.1), as they would from other hosts.
 */
const SLOWLORIS = 300;
const HEADERS_TIMEOUT_MS = 1500;

/** A normal client's GET: its latency in ms (asserted < 1 s by the callers) and its record id. */
async function timedGet(tg: Harness, path: string): Promise<{ ms: number; status: number; id: string }> {
  const t0 = performance.now();
  const res = await request(tg.url(path), { headersTimeout: 5000, bodyTimeout: 5000 });
  await res.body.dump();
  return { ms: performance.now() - t0, status: res.statusCode, id: res.headers['x-request-id'] as string };
}

function connectFrom(localAddress: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(s));
    s.once('error', reject);
  });
}

describe('slow and greedy clients', () => {
  let backend: TestBackend;
  let tg: Harness;

  before(async () => {
    backend = await startBackend('b1');
    tg = await startTollgate(`
listeners:
  - name: public
    address: 127.0.0.1:0
    limits: { headers_timeout: ${HEADERS_TIMEOUT_MS}ms, send_timeout: 1s, max_connections_per_ip: 400 }
routes: [{ name: r, pool: p, owner: team-a }]
pools:
  - name: p
    backends: [{ name: b1, address: ${backend.address} }]
    timeouts: { idle: 500ms }
    outlier_detection: { consecutive_failures: 2, ejection_time: 30s }
`);
  });
  after(async () => {
    await tg.close();
    await backend.close();
  });

  it(`serves a normal client in under a second while ${SLOWLORIS} slowloris connections trickle their heads, then ends each with 408 client_timeout and a record`, async () => {
    const before = tg.records.length;
    const sockets: net.Socket[] = [];
    const answers: string[] = [];
    for (let i = 0; i < SLOWLORIS; i++) {
      const s = await connectFrom('127.0.0.2', tg.port);
      s.on('error', () => {});
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString('latin1')));
      s.on('close', () => answers.push(got));
      s.write(`GET /loris/${i} HTTP/1.1\r\nHost: h.test\r\n`);
      sockets.push(s);
    }
    // one header byte per connection every 100 ms: never a complete head
    const trickle = setInterval(() => {
      for (const s of sockets) if (!s.destroyed) s.write('X');
    }, 100);
    try {
      const latencies: number[] = [];
      const started = Date.now();
      while (Date.now() - started < HEADERS_TIMEOUT_MS - 200) {
        const r = await timedGet(tg, '/normal');
        assert.equal(r.status, 200);
        latencies.push(r.ms);
        await sleep(50);
      }
      assert.ok(latencies.length >= 5, `the normal client made requests: ${latencies.length}`);
      const worst = Math.max(...latencies);
      assert.ok(
        worst < 1000,
        `every normal request was served in under a second (worst ${worst.toFixed(0)} ms)`,
      );
      // the limit ends every slowloris connection
      const deadline = Date.now() + HEADERS_TIMEOUT_MS + 4000;
      while (answers.length < SLOWLORIS && Date.now() < deadline) await sleep(50);
    } finally {
      clearInterval(trickle);
    }
    assert.equal(answers.length, SLOWLORIS, 'every slowloris connection was closed by Tollgate');
    assert.ok(
      answers.every((a) => a.startsWith('HTTP/1.1 408 ')),
      `each got 408: ${JSON.stringify(answers.find((a) => !a.startsWith('HTTP/1.1 408 ')))}`,
    );
    await tg.waitForRecords(before + SLOWLORIS, 5000);
    // node reports the timeout without the partial head, so these records have no method or path
    const loris = tg.records.slice(before).filter((r) => r.client.address === '127.0.0.2');
    assert.equal(loris.length, SLOWLORIS, 'one record per slowloris request');
    for (const r of loris) {
      assert.equal(r.tollgate.termination, 'client_timeout');
      assert.equal(r.http.response.status_code, 408);
      assert.equal(r.client.address, '127.0.0.2');
      assert.match(r.error.message!, /headers_timeout/);
    }
    assert.equal(backend.hits.get('/loris/0'), undefined, 'no slowloris request reached the backend');
  });

  it('closes connections over max_connections_per_ip at accept, counts them in tollgate_connections_refused_total, and still serves others', async () => {
    const sockets: net.Socket[] = [];
    const closedEarly: number[] = [];
    for (let i = 0; i < 450; i++) {
      const s = await connectFrom('127.0.0.4', tg.port);
      s.on('error', () => {});
      s.on('close', () => closedEarly.push(i));
      sockets.push(s);
    }
    await sleep(200);
    try {
      const r = await timedGet(tg, '/normal-2');
      assert.equal(r.status, 200);
      assert.ok(r.ms < 1000, `served in ${r.ms.toFixed(0)} ms`);
      assert.equal(closedEarly.length, 50, 'the 50 connections over the cap of 400 were closed');
      assert.ok(
        closedEarly.every((i) => i >= 400),
        'the first 400 were kept',
      );
      const metrics = tg.app.metrics.render();
      assert.match(metrics, /tollgate_connections_refused_total\{listener="public"\} 50\b/);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it('cuts readers that read nothing for send_timeout with a client_timeout record, not held against the backend, while a normal client is served in under a second', async () => {
    const before = tg.records.length;
    const readers: net.Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const s = await connectFrom('127.0.0.3', tg.port);
      s.on('error', () => {});
      s.pause(); // reads nothing: the response backs up to the backend
      s.write(`GET /bytes?n=${50_000_000}&r=${i} HTTP/1.1\r\nHost: h.test\r\n\r\n`);
      readers.push(s);
    }
    try {
      const latencies: number[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await timedGet(tg, '/normal-3');
        assert.equal(r.status, 200);
        latencies.push(r.ms);
        await sleep(100);
      }
      const worst = Math.max(...latencies);
      assert.ok(
        worst < 1000,
        `every normal request was served in under a second (worst ${worst.toFixed(0)} ms)`,
      );
      const records = await tg.waitForRecords(before + 30, 6000);
      const cut = records.slice(before).filter((r) => r.url.path === '/bytes');
      assert.equal(cut.length, 20, 'one record per slow reader');
      for (const r of cut) {
        assert.equal(r.tollgate.termination, 'client_timeout');
        assert.equal(r.http.response.status_code, 200, 'the status the client was sent');
        assert.match(r.error.message!, /did not read the response for 1\.00 s \(send_timeout/);
        assert.ok(r.http.response.body.size < 50_000_000);
        assert.equal(r.tollgate.attempts[0]!.termination, 'client_aborted', 'not the backend fault');
      }
      assert.equal(
        tg.events.filter((e) => e.action === 'backend_ejected').length,
        0,
        'the backend was not ejected',
      );
    } finally {
      for (const s of readers) s.destroy();
    }
  });

  it('has exactly one stored record per request of this file', async () => {
    const ids = tg.records.map((r) => r.http.request.id);
    await tg.app.stop(1000);
    const stored = readStore(tg.dataDir).requests.map((r) => r.http.request.id);
    assert.deepEqual([...stored].sort(), [...ids].sort());
  });
});
