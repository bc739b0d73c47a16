import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { parseRaw, rawExchange } from '../helpers/raw.js';
import type { Harness } from '../helpers/tollgate.js';
import { startTollgate } from '../helpers/tollgate.js';

describe('forwarding', () => {
  let b1: TestBackend;
  let b2: TestBackend;
  let tg: Harness;

  before(async () => {
    b1 = await startBackend('b1');
    b2 = await startBackend('b2');
    tg = await startTollgate(`
listeners:
  - { name: public, address: 127.0.0.1:0, trusted_proxies: [10.0.0.0/8] }
routes:
  - { name: api, match: { host: api.example.com, path_prefix: /v1, methods: [GET, POST] }, pool: api, owner: team-payments, tags: { env: test } }
  - { name: rest, match: { path_prefix: / }, pool: api, owner: team-web }
pools:
  - name: api
    algorithm: round_robin
    backends:
      - { name: b1, address: ${b1.address} }
      - { name: b2, address: ${b2.address} }
audit:
  capture_headers: [user-agent, authorization, x-custom]
  redact: { headers: [authorization], query_params: [token] }
`);
  });
  after(async () => {
    await tg.close();
    await b1.close();
    await b2.close();
  });

  it('forwards to the backends in turn and writes one valid record per request', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await request(tg.url('/hello'));
      assert.equal(res.statusCode, 200);
      seen.push(((await res.body.json()) as { backend: string }).backend);
    }
    assert.deepEqual(seen, ['b1', 'b2', 'b1', 'b2']);
    const records = await tg.waitForRecords(4);
    assert.equal(records.length, 4);
    for (const r of records) {
      assert.equal(r.tollgate.termination, 'ok');
      assert.equal(r.tollgate.route, 'rest');
      assert.equal(r.tollgate.owner, 'team-web');
      assert.equal(r.tollgate.attempts.length, 1);
      assert.equal(r.http.response.status_code, 200);
      assert.ok(r.event.duration > 0);
    }
    assert.deepEqual(
      records.map((r) => r.tollgate.backend.name),
      ['b1', 'b2', 'b1', 'b2'],
    );
  });

  it('matches routes by host, path prefix and method; first match wins', async () => {
    const res = await request(tg.url('/v1/pay'), { headers: { host: 'API.example.com:8443' } });
    const id = res.headers['x-request-id'] as string;
    await res.body.dump();
    const r = await tg.record(id);
    assert.equal(r.tollgate.route, 'api');
    assert.equal(r.tollgate.owner, 'team-payments');
    assert.deepEqual(r.tollgate.tags, { env: 'test' });
    assert.equal(r.server.address, 'api.example.com');
    assert.equal(r.server.port, 8443);
    const del = await request(tg.url('/v1/pay'), { method: 'DELETE', headers: { host: 'api.example.com' } });
    await del.body.dump();
    const rd = await tg.record(del.headers['x-request-id'] as string);
    assert.equal(rd.tollgate.route, 'rest', 'DELETE is not in the api route methods');
  });

  it('sends the request id and a traceparent to the backend and returns the id to the client', async () => {
    const res = await request(tg.url('/ids'), {
      headers: {
        'x-request-id': 'client-chosen-id',
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      },
    });
    const body = (await res.body.json()) as { headers: Record<string, string> };
    const id = res.headers['x-request-id'] as string;
    assert.notEqual(id, 'client-chosen-id', 'an untrusted peer cannot choose the request id');
    assert.equal(body.headers['x-request-id'], id);
    const r = await tg.record(id);
    assert.equal(r.trace.id, '4bf92f3577b34da6a3ce929d0e0e4736', 'the trace is continued');
    assert.equal(body.headers.traceparent, `00-${r.trace.id}-${r.span.id}-01`);
  });

  it('drops hop-by-hop headers and those named in Connection, and replaces forwarding headers from untrusted peers', async () => {
    const text = await rawExchange(
      tg.port,
      'GET /hop HTTP/1.1\r\nHost: h.test\r\nConnection: close, X-Secret-Hop\r\nX-Secret-Hop: 1\r\nProxy-Authorization: Basic abc\r\n' +
        'X-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\nTE: trailers\r\nKeep-Alive: timeout=5\r\n\r\n',
    );
    const res = parseRaw(text);
    assert.equal(res.status, 200);
    const body = JSON.parse(res.body) as { headers: Record<string, string> };
    assert.equal(body.headers['x-secret-hop'], undefined);
    assert.equal(body.headers['proxy-authorization'], undefined);
    assert.equal(body.headers.te, undefined);
    assert.equal(body.headers['keep-alive'], undefined);
    assert.equal(body.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(body.headers.forwarded, 'for=127.0.0.1;proto=http;host="h.test"');
    assert.equal(body.headers['x-forwarded-proto'], 'http');
    assert.equal(body.headers['x-forwarded-host'], 'h.test');
    const r = await tg.record(res.headers['x-request-id']!);
    assert.equal(r.client.address, '127.0.0.1', 'X-Forwarded-For from an untrusted peer is not believed');
  });

  it('redacts configured headers and query parameters; JSON escapes control characters', async () => {
    const text = await rawExchange(
      tg.port,
      'GET /r?token=s3cret&page=2 HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\nAuthorization: Bearer top-secret\r\n' +
        'X-Custom: visible\r\nUser-Agent: caf\u00e9-client\r\n\r\n',
    );
    const res = parseRaw(text);
    const r = await tg.record(res.headers['x-request-id']!);
    assert.equal(r.url.query, 'token=REDACTED&page=2');
    assert.equal(r.http.request.header.authorization, 'REDACTED');
    assert.equal(r.http.request.header['x-custom'], 'visible');
    const line = JSON.stringify(r);
    assert.ok(!line.includes('top-secret') && !line.includes('s3cret'));
  });

  it('refuses a request whose header value a backend could not be sent (control characters) with 400 and a record', async () => {
    const text = await rawExchange(
      tg.port,
      'GET /ctl HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\nUser-Agent: evil\x1b[31m\r\n\r\n',
    );
    const res = parseRaw(text);
    assert.equal(res.status, 400);
    const records = await tg.waitForRecords(1);
    const r = records.find((x) => x.url.path === '/ctl')!;
    assert.ok(r, 'a record for the refused request');
    assert.equal(r.tollgate.termination, 'bad_request');
    assert.ok(JSON.stringify(r).includes('\\u001b') || r.user_agent.original === null);
  });

  it('answers 404 no_route with a record when nothing matches', async () => {
    const tg2 = await startTollgate(`
listeners: [{ name: public, address: 127.0.0.1:0 }]
routes: [{ name: only, match: { path_prefix: /only }, pool: p }]
pools: [{ name: p, backends: [{ name: b1, address: ${b1.address} }] }]
`);
    try {
      const res = await request(tg2.url('/elsewhere'));
      assert.equal(res.statusCode, 404);
      const body = (await res.body.json()) as { error: string; message: string };
      assert.equal(body.error, 'no_route');
      const r = await tg2.record(res.headers['x-request-id'] as string);
      assert.equal(r.tollgate.termination, 'no_route');
      assert.equal(r.tollgate.route, null);
      assert.match(r.error.message!, /no route matches GET .*\/elsewhere/);
    } finally {
      await tg2.close();
    }
  });
});
