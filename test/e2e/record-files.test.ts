import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { rawExchange } from '../helpers/raw.js';
import { assertValidRecord } from '../helpers/schema.js';
import { readStore } from '../helpers/store.js';
import { startTollgate } from '../helpers/tollgate.js';

/** One listener, one route, one pool with backend b1, and any extra top-level YAML. */
function onePool(b: TestBackend, extra = ''): string {
  return `listeners: [{ name: public, address: 127.0.0.1:0 }]\nroutes: [{ name: r, pool: p }]\npools: [{ name: p, backends: [{ name: b1, address: ${b.address} }] }]\n${extra}`;
}

const COMBINED =
  /^(\S+) - (\S+) \[(\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] "([^"]*)" (\d{3}) (\d+) "([^"]*)" "([^"]*)"$/;

describe('record files', () => {
  let b: TestBackend;
  before(async () => {
    b = await startBackend('b1');
  });
  after(async () => {
    await b.close();
  });

  it('ships the stored records to a rotated jsonl sink and a combined log that escapes control bytes', async () => {
    const tg = await startTollgate(`
listeners: [{ name: public, address: 127.0.0.1:0 }]
routes: [{ name: r, pool: p }]
pools: [{ name: p, backends: [{ name: b1, address: ${b.address} }] }]
audit:
  sinks:
    - { type: jsonl, path: sink/requests.jsonl, rotate: 4kb, keep: 2 }
    - { type: combined, path: access.log }
`);
    try {
      for (let i = 0; i < 12; i++) {
        const res = await request(tg.url(`/page/${i}?token=secret&x=${i}`), {
          headers: { referer: 'http://ref.example/', 'user-agent': 'agent/1.0' },
        });
        await res.body.dump();
      }
      // a user agent with a quote, a backslash and a non-ASCII byte
      await rawExchange(
        tg.port,
        'GET /odd HTTP/1.1\r\nHost: h\r\nConnection: close\r\nUser-Agent: a"b\\c\xe9\r\n\r\n',
      );
      await tg.waitForRecords(13);
      await sleep(100);
      await tg.app.audit.committed();
      await sleep(400); // sinks ship from the store every 200 ms
      const main = readStore(tg.dataDir).requests;
      assert.equal(main.length, 13);

      const dir = path.join(tg.dataDir, 'sink');
      const files = fs.readdirSync(dir).sort();
      assert.deepEqual(
        files,
        ['requests.jsonl', 'requests.jsonl.1', 'requests.jsonl.2'].filter((f) => files.includes(f)),
      );
      assert.ok(
        files.includes('requests.jsonl') && files.includes('requests.jsonl.1'),
        `rotated, and the live file exists: ${files}`,
      );
      assert.ok(fs.statSync(path.join(dir, 'requests.jsonl.1')).size >= 4096);
      const shipped = ['requests.jsonl.2', 'requests.jsonl.1', 'requests.jsonl']
        .filter((f) => files.includes(f))
        .flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n'))
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l));
      const seqs = shipped.map((r) => r.tollgate.chain.seq);
      assert.deepEqual(
        seqs,
        [...seqs].sort((a, b) => a - b),
        'shipped in chain order',
      );
      const shippedRequests = shipped.filter((r) => r.schema === 'tollgate.request/1');
      assert.ok(shippedRequests.length >= 1);
      for (const r of shippedRequests) {
        assertValidRecord(r);
        assert.match(r.tollgate.chain.hash ?? '', /^[0-9a-f]{64}$/);
      }

      const access = fs.readFileSync(path.join(tg.dataDir, 'access.log'), 'latin1').trim().split('\n');
      assert.equal(access.length, 13);
      const m = COMBINED.exec(access[0]!)!;
      assert.ok(m, access[0]);
      assert.equal(m[1], '127.0.0.1');
      assert.equal(m[4], 'GET /page/0?token=REDACTED&x=0 HTTP/1.1');
      assert.equal(m[5], '200');
      assert.equal(m[7], 'http://ref.example/');
      assert.equal(m[8], 'agent/1.0');
      const odd = access.find((l) => l.includes('/odd')) ?? '';
      assert.ok(COMBINED.test(odd), odd);
      assert.ok(odd.endsWith('"a\\x22b\\x5cc\\xc3\\xa9"'), odd); // é arrives as two bytes, each escaped
    } finally {
      await tg.close();
    }
  });

  it('counts the bytes of the replies Tollgate writes itself', async () => {
    const tg = await startTollgate(`
listeners: [{ name: public, address: 127.0.0.1:0 }]
routes: [{ name: r, match: { path_prefix: /only }, pool: p }]
pools: [{ name: p, backends: [{ name: b1, address: ${b.address} }] }]
`);
    try {
      const res = await request(tg.url('/nope'));
      const body = await res.body.text();
      const r = await tg.record(res.headers['x-request-id'] as string);
      assert.equal(r.http.response.body.size, Buffer.byteLength(body));
    } finally {
      await tg.close();
    }
  });

  it('refuses CONNECT with 400 and a record', async () => {
    const tg = await startTollgate(onePool(b));
    try {
      const before = b.count();
      const text = await rawExchange(
        tg.port,
        'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
      );
      assert.match(text, /^HTTP\/1\.1 400/);
      const [r] = await tg.waitForRecords(1);
      assert.equal(r!.tollgate.termination, 'bad_request');
      assert.equal(r!.http.request.method, 'CONNECT');
      assert.equal(b.count(), before);
    } finally {
      await tg.close();
    }
  });

  it('records a client that hangs up in the middle of the head as client_aborted 499', async () => {
    const tg = await startTollgate(onePool(b));
    try {
      await rawExchange(tg.port, 'GET /half HTTP/1.1\r\nHost: h\r\nX-Partial: ye', 300).catch(() => '');
      const [r] = await tg.waitForRecords(1);
      assert.equal(r!.tollgate.termination, 'client_aborted');
      assert.equal(r!.http.response.status_code, 499);
    } finally {
      await tg.close();
    }
  });
});
