import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { RequestRecord } from '../../src/audit/index.js';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { parseRaw, rawExchange } from '../helpers/raw.js';
import type { Harness } from '../helpers/tollgate.js';
import { startTollgate } from '../helpers/tollgate.js';

describe('malformed requests', () => {
  let b1: TestBackend;
  let tg: Harness;

  before(async () => {
    b1 = await startBackend('b1');
    tg = await startTollgate(`
listeners:
  - name: public
    address: 127.0.0.1:0
    trusted_proxies: [10.0.0.0/8]
    limits: { max_header_bytes: 4kb, headers_timeout: 500ms }
routes:
  - { name: rest, match: { path_prefix: / }, pool: api, owner: team-web }
pools:
  - name: api
    backends: [{ name: b1, address: ${b1.address} }]
`);
  });
  after(async () => {
    await tg.close();
    await b1.close();
  });

  /**
   * Sends raw bytes, expects one response with `status`, exactly one new record with that status
   * and termination and a message, and no request at the backend. Returns the record.
   */
  async function refused(
    bytes: string | Buffer,
    expect: { status: number; termination: string; paths: string[] },
    timeoutMs = 3000,
  ): Promise<RequestRecord> {
    const before = tg.records.length;
    const backendBefore = b1.count();
    const text = await rawExchange(tg.port, bytes, timeoutMs);
    const res = parseRaw(text);
    assert.equal(
      res.status,
      expect.status,
      `the client gets ${expect.status}; received ${JSON.stringify(text.slice(0, 300))}`,
    );
    const records = await tg.waitForRecords(before + 1);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(
      tg.records.length,
      before + 1,
      `exactly one record: ${JSON.stringify(records.slice(before).map((r) => [r.url.path, r.tollgate.termination]))}`,
    );
    const r = tg.records[before]!;
    assert.equal(r.tollgate.termination, expect.termination);
    assert.equal(r.http.response.status_code, expect.status);
    assert.equal(r.error.type, expect.termination);
    assert.ok(
      typeof r.error.message === 'string' && r.error.message.length > 0,
      'the record says what was wrong',
    );
    assert.equal(r.tollgate.listener, 'public');
    assert.equal(r.client.address, '127.0.0.1');
    assert.deepEqual(r.tollgate.attempts, []);
    assert.equal(r.tollgate.backend.name, null);
    if (res.headers['x-request-id'] !== undefined)
      assert.equal(res.headers['x-request-id'], r.http.request.id, 'the reply names the record');
    assert.equal(b1.count(), backendBefore, 'the backend received nothing');
    for (const p of expect.paths) assert.equal(b1.hits.get(p), undefined, `the backend never saw ${p}`);
    return r;
  }

  it('answers a request line that is not HTTP with 400 bad_request', async () => {
    await refused('GARBAGE\r\n\r\n', { status: 400, termination: 'bad_request', paths: [] });
  });

  it('answers a request with both Content-Length and Transfer-Encoding with 400 bad_request and forwards nothing (no smuggling)', async () => {
    const r = await refused(
      'POST /m-cl-te HTTP/1.1\r\nHost: h.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /m-smuggled HTTP/1.1\r\nHost: h.test\r\n\r\n',
      { status: 400, termination: 'bad_request', paths: ['/m-cl-te', '/m-smuggled'] },
    );
    assert.equal(r.http.request.method, 'POST');
    assert.equal(r.url.path, '/m-cl-te');
  });

  it('answers a request with two different Content-Length values with 400 bad_request', async () => {
    await refused(
      'POST /m-dup-cl HTTP/1.1\r\nHost: h.test\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde',
      {
        status: 400,
        termination: 'bad_request',
        paths: ['/m-dup-cl'],
      },
    );
  });

  it('answers a request head larger than max_header_bytes with 431 too_large', async () => {
    const r = await refused(
      `GET /m-big HTTP/1.1\r\nHost: h.test\r\nX-Big: ${'a'.repeat(10 * 1024)}\r\n\r\n`,
      {
        status: 431,
        termination: 'too_large',
        paths: ['/m-big'],
      },
    );
    assert.match(r.error.message!, /max_header_bytes/);
  });

  it('bounds the whole head by max_header_bytes: a head of exactly 4 KiB is served', async () => {
    const head = headOfSize('/m-exact', 4096);
    assert.equal(Buffer.byteLength(head), 4096);
    const res = parseRaw(await rawExchange(tg.port, head));
    assert.equal(res.status, 200);
    assert.equal(b1.hits.get('/m-exact'), 1);
  });

  it('bounds the whole head by max_header_bytes: a head one byte over, made of many short header lines, gets 431 too_large', async () => {
    const head = headOfSize('/m-over', 4097);
    assert.equal(Buffer.byteLength(head), 4097);
    await refused(head, { status: 431, termination: 'too_large', paths: ['/m-over'] });
  });

  it('answers a NUL byte in a header value with 400 bad_request', async () => {
    await refused('GET /m-nul HTTP/1.1\r\nHost: h.test\r\nX-Evil: a\x00b\r\n\r\n', {
      status: 400,
      termination: 'bad_request',
      paths: ['/m-nul'],
    });
  });

  it('answers an HTTP/1.1 request without Host with 400 bad_request', async () => {
    const r = await refused('GET /m-nohost HTTP/1.1\r\nConnection: close\r\n\r\n', {
      status: 400,
      termination: 'bad_request',
      paths: ['/m-nohost'],
    });
    assert.equal(r.url.path, '/m-nohost');
    assert.match(r.error.message!, /Host/);
  });

  it('answers a request with two Host headers with 400 bad_request', async () => {
    const r = await refused(
      'GET /m-twohost HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nConnection: close\r\n\r\n',
      {
        status: 400,
        termination: 'bad_request',
        paths: ['/m-twohost'],
      },
    );
    assert.equal(r.url.path, '/m-twohost');
    assert.match(r.error.message!, /Host/);
  });

  it('answers a request head that does not arrive within headers_timeout with 408 client_timeout', async () => {
    const started = Date.now();
    const r = await refused(
      'GET /m-slow HTTP/1.1\r\nHost: h.test\r\nX-Partial: still',
      { status: 408, termination: 'client_timeout', paths: ['/m-slow'] },
      5000,
    );
    const waited = Date.now() - started;
    assert.ok(waited >= 450, `the head was given its 500 ms (answered after ${waited} ms)`);
    assert.ok(waited < 3000, `the timeout fired promptly (answered after ${waited} ms)`);
    assert.match(r.error.message!, /headers_timeout/);
  });

  it('keeps serving normal requests after the malformed ones', async () => {
    const res = await request(tg.url('/after'));
    assert.equal(res.statusCode, 200);
    const body = (await res.body.json()) as { backend: string; url: string };
    assert.equal(body.backend, 'b1');
    assert.equal(body.url, '/after');
    const r = await tg.record(res.headers['x-request-id'] as string);
    assert.equal(r.tollgate.termination, 'ok');
    assert.equal(b1.hits.get('/after'), 1);
  });
});

/** A GET head of exactly `size` bytes (request line, headers, final CRLF), padded with many short header lines. */
function headOfSize(path: string, size: number): string {
  let head = `GET ${path} HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n`;
  for (let i = 0; head.length + 11 + 20 <= size; i++) head += `X-${String(i).padStart(4, '0')}: v\r\n`;
  const filler = size - head.length - 2 - 'X-Fill: \r\n'.length;
  return `${head}X-Fill: ${'f'.repeat(filler)}\r\n\r\n`;
}
