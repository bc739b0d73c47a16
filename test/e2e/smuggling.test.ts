import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { cli } from '../helpers/audit.js';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { buildDist } from '../helpers/process.js';
import { parseRaw, rawExchange } from '../helpers/raw.js';
import { readStore } from '../helpers/store.js';
import type { Harness } from '../helpers/tollgate.js';
import { startTollgate } from '../helpers/tollgate.js';

/**
 * Request smuggling and desync (issue 9.1): a corpus of raw requests. Each one is either refused
 * (400, or 431 for an over-long head) with one record, the connection closed and nothing at the
 * backend — not even the request hidden behind it — or forwarded so that the backend sees exactly
 * the requests listed, with their method, target and body. At the end every record of the run is
 * in the store and `tollgate verify` passes.
 */
const H = 'Host: h.test\r\n';
/** Appended to every refused case: a backend that ever sees /smuggled was desynchronised. */
const SMUGGLED = `GET /smuggled HTTP/1.1\r\n${H}\r\n`;

interface Seen {
  method: string;
  url: string;
  body: string;
}

type Refused = { name: string; raw: string; status?: 400 | 431 };
type Forwarded = { name: string; raw: string; seen: Seen[] };

const refused: Refused[] = [
  // Content-Length
  {
    name: 'two equal Content-Length',
    raw: `POST /r HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc`,
  },
  {
    name: 'two different Content-Length',
    raw: `POST /r HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 30\r\n\r\nabc`,
  },
  { name: 'Content-Length list', raw: `POST /r HTTP/1.1\r\n${H}Content-Length: 3, 3\r\n\r\nabc` },
  { name: 'Content-Length +3', raw: `POST /r HTTP/1.1\r\n${H}Content-Length: +3\r\n\r\nabc` },
  { name: 'Content-Length -1', raw: `POST /r HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\nabc` },
  { name: 'Content-Length in hex', raw: `POST /r HTTP/1.1\r\n${H}Content-Length: 0x3\r\n\r\nabc` },
  { name: 'Content-Length with inner space', raw: `POST /r HTTP/1.1\r\n${H}Content-Length: 1 2\r\n\r\nabc` },
  {
    name: 'Content-Length overflow',
    raw: `POST /r HTTP/1.1\r\n${H}Content-Length: 99999999999999999999999\r\n\r\nabc`,
  },
  // Transfer-Encoding and both together
  {
    name: 'Transfer-Encoding then Content-Length',
    raw: `POST /r HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`,
  },
  {
    name: 'Content-Length then Transfer-Encoding',
    raw: `POST /r HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  },
  {
    name: 'Transfer-Encoding xchunked',
    raw: `POST /r HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
  },
  {
    name: 'Transfer-Encoding chunked, identity',
    raw: `POST /r HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
  },
  {
    name: 'Transfer-Encoding identity, chunked',
    raw: `POST /r HTTP/1.1\r\n${H}Transfer-Encoding: identity, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
  },
  {
    name: 'Transfer-Encoding gzip, chunked',
    raw: `POST /r HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
  },
  {
    name: 'Transfer-Encoding with a space before the colon',
    raw: `POST /r HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
  },
  {
    name: 'Transfer-Encoding with a vertical tab',
    raw: `POST /r HTTP/1.1\r\n${H}Transfer-Encoding:\x0bchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
  },
  {
    name: 'Transfer-Encoding twice',
    raw: `POST /r HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
  },
  {
    name: 'Transfer-Encoding chunked then identity',
    raw: `POST /r HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
  },
  {
    name: 'Transfer-Encoding quoted',
    raw: `POST /r HTTP/1.1\r\n${H}Transfer-Encoding: "chunked"\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
  },
  {
    name: 'Transfer-Encoding in HTTP/1.0',
    raw: `POST /r HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
  },
  {
    name: 'Transfer-Encoding folded (obs-fold)',
    raw: `POST /r HTTP/1.1\r\n${H}Transfer-Encoding:\r\n chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
  },
  // line endings, folding, control bytes
  { name: 'obs-fold in a header', raw: `GET /r HTTP/1.1\r\n${H}X-A: one\r\n two\r\n\r\n` },
  { name: 'obs-fold on the first header line', raw: `GET /r HTTP/1.1\r\n ${H}\r\n` },
  { name: 'bare LF line ends', raw: `GET /r HTTP/1.1\n${H.replace('\r', '')}X-A: b\n\n` },
  { name: 'bare LF inside the head', raw: `GET /r HTTP/1.1\r\n${H}X-A: b\nX-B: c\r\n\r\n` },
  { name: 'bare CR inside the head', raw: `GET /r HTTP/1.1\r\n${H}X-A: b\rX-B: c\r\n\r\n` },
  { name: 'NUL in a header name', raw: `GET /r HTTP/1.1\r\n${H}X\x00A: b\r\n\r\n` },
  { name: 'NUL in a header value', raw: `GET /r HTTP/1.1\r\n${H}X-A: b\x00c\r\n\r\n` },
  { name: 'SOH in a header value', raw: `GET /r HTTP/1.1\r\n${H}X-A: b\x01c\r\n\r\n` },
  { name: 'ESC in a header value', raw: `GET /r HTTP/1.1\r\n${H}X-A: b\x1bc\r\n\r\n` },
  { name: 'DEL in a header value', raw: `GET /r HTTP/1.1\r\n${H}X-A: b\x7fc\r\n\r\n` },
  { name: 'control byte in the target', raw: `GET /r\x01x HTTP/1.1\r\n${H}\r\n` },
  { name: 'space in a header name', raw: `GET /r HTTP/1.1\r\n${H}X A: b\r\n\r\n` },
  // chunk sizes and framing
  {
    name: 'negative chunk size',
    raw: `POST /r HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n`,
  },
  {
    name: 'chunk size with 0x',
    raw: `POST /r HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n`,
  },
  {
    name: 'chunk size overflow',
    raw: `POST /r HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n0\r\n\r\n`,
  },
  {
    name: 'chunk size with a trailing space',
    raw: `POST /r HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n`,
  },
  {
    name: 'chunk extension ended by bare LF',
    raw: `POST /r HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;x\nabc\r\n0\r\n\r\n`,
  },
  {
    name: 'chunk longer than its size',
    raw: `POST /r HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n`,
  },
  {
    name: 'chunk lines ended by bare LF',
    raw: `POST /r HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n`,
  },
  // targets and Host
  { name: 'absolute-form target naming another host', raw: `GET http://evil.test/r HTTP/1.1\r\n${H}\r\n` },
  { name: 'absolute-form target naming the Host', raw: `GET http://h.test/r HTTP/1.1\r\n${H}\r\n` },
  { name: 'authority-form target', raw: `GET h.test:80 HTTP/1.1\r\n${H}\r\n` },
  { name: 'two Host headers', raw: `GET /r HTTP/1.1\r\n${H}Host: other.test\r\n\r\n` },
  { name: 'two Host headers, one lower-case', raw: `GET /r HTTP/1.1\r\n${H}host: h.test\r\n\r\n` },
  { name: 'Host with a list', raw: 'GET /r HTTP/1.1\r\nHost: h.test, evil.test\r\n\r\n' },
  { name: 'Host with userinfo', raw: 'GET /r HTTP/1.1\r\nHost: evil.test@h.test\r\n\r\n' },
  { name: 'Host with a space', raw: 'GET /r HTTP/1.1\r\nHost: h .test\r\n\r\n' },
  { name: 'Host with a path', raw: 'GET /r HTTP/1.1\r\nHost: h.test/x\r\n\r\n' },
  { name: 'HTTP/1.1 without Host', raw: 'GET /r HTTP/1.1\r\n\r\n' },
  // versions and methods
  { name: 'HTTP/0.9 request line', raw: 'GET /r\r\n\r\n' },
  { name: 'HTTP/2.0 in an HTTP/1 request line', raw: `GET /r HTTP/2.0\r\n${H}\r\n` },
  { name: 'HTTP/1.2', raw: `GET /r HTTP/1.2\r\n${H}\r\n` },
  { name: 'lower-case method', raw: `get /r HTTP/1.1\r\n${H}\r\n` },
  { name: 'method with a delimiter', raw: `G<T /r HTTP/1.1\r\n${H}\r\n` },
  // over-long lines
  { name: 'over-long request line', raw: `GET /${'a'.repeat(20_000)} HTTP/1.1\r\n${H}\r\n`, status: 431 },
  {
    name: 'over-long header line',
    raw: `GET /r HTTP/1.1\r\n${H}X-L: ${'a'.repeat(20_000)}\r\n\r\n`,
    status: 431,
  },
];

const close = 'Connection: close\r\n';
const forwarded: Forwarded[] = [
  {
    name: 'Content-Length body',
    raw: `POST /f/cl HTTP/1.1\r\n${H}${close}Content-Length: 3\r\n\r\nabc`,
    seen: [{ method: 'POST', url: '/f/cl', body: 'abc' }],
  },
  {
    name: 'Content-Length with leading zeros',
    raw: `POST /f/cl0 HTTP/1.1\r\n${H}${close}Content-Length: 003\r\n\r\nabc`,
    seen: [{ method: 'POST', url: '/f/cl0', body: 'abc' }],
  },
  {
    name: 'chunked body with an extension and a trailer',
    raw: `POST /f/chunked HTTP/1.1\r\n${H}${close}Transfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n`,
    seen: [{ method: 'POST', url: '/f/chunked', body: 'abcde' }],
  },
  {
    name: 'Transfer-Encoding CHUNKED after a tab',
    raw: `POST /f/upper HTTP/1.1\r\n${H}${close}Transfer-Encoding:\tCHUNKED\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
    seen: [{ method: 'POST', url: '/f/upper', body: 'abc' }],
  },
  {
    name: 'a GET whose body looks like a request',
    raw: `GET /f/get-body HTTP/1.1\r\n${H}${close}Content-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    seen: [{ method: 'GET', url: '/f/get-body', body: SMUGGLED }],
  },
  {
    name: 'Content-Length 0 then a pipelined request',
    raw: `POST /f/zero HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\nGET /f/second HTTP/1.1\r\n${H}${close}\r\n`,
    seen: [
      { method: 'POST', url: '/f/zero', body: '' },
      { method: 'GET', url: '/f/second', body: '' },
    ],
  },
  {
    name: 'Content-Length named in Connection',
    raw: `POST /f/conn HTTP/1.1\r\n${H}Connection: close, content-length\r\nContent-Length: 3\r\n\r\nabc`,
    seen: [{ method: 'POST', url: '/f/conn', body: 'abc' }],
  },
  {
    name: 'an empty line before the request line',
    raw: `\r\nGET /f/crlf HTTP/1.1\r\n${H}${close}\r\n`,
    seen: [{ method: 'GET', url: '/f/crlf', body: '' }],
  },
  {
    name: 'an empty Host',
    raw: `GET /f/empty-host HTTP/1.1\r\nHost:\r\n${close}\r\n`,
    seen: [{ method: 'GET', url: '/f/empty-host', body: '' }],
  },
  {
    name: 'HTTP/1.0 with Content-Length',
    raw: `POST /f/http10 HTTP/1.0\r\n${H}Content-Length: 3\r\n\r\nabc`,
    seen: [{ method: 'POST', url: '/f/http10', body: 'abc' }],
  },
];

/** The statuses of the responses in a raw exchange, read one after another by their Content-Length. */
function statuses(text: string): number[] {
  const out: number[] = [];
  let rest = text;
  while (rest.length > 0) {
    const res = parseRaw(rest);
    if (res.status === 0) break;
    out.push(res.status);
    const bodyAt = rest.indexOf('\r\n\r\n') + 4;
    rest = rest.slice(bodyAt + Number(res.headers['content-length'] ?? 0));
  }
  return out;
}

describe('request smuggling and desync corpus', () => {
  let backend: TestBackend;
  let tg: Harness;
  const seen: Seen[] = [];
  /** Every request head the backend received, complete or not. */
  const heads: string[] = [];

  before(async () => {
    buildDist();
    backend = await startBackend('b1', (req, res) => {
      heads.push(req.url!);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, body: Buffer.concat(chunks).toString('latin1') });
        res.writeHead(200, { 'content-length': '2' }).end('ok');
      });
    });
    tg = await startTollgate(`
listeners:
  - name: public
    address: 127.0.0.1:0
    limits: { max_header_bytes: 8kb, headers_timeout: 2s }
routes:
  - { name: rest, match: { path_prefix: / }, pool: api, owner: team-web }
pools:
  - name: api
    backends: [{ name: b1, address: ${backend.address} }]
`);
  });
  after(async () => {
    await tg.close();
    await backend.close();
  });

  for (const c of refused) {
    it(`refuses ${c.name}: ${c.status ?? 400}, one record, connection closed, nothing at the backend`, async () => {
      const status = c.status ?? 400;
      const before = tg.records.length;
      seen.length = 0;
      heads.length = 0;
      const started = Date.now();
      const text = await rawExchange(tg.port, c.raw + SMUGGLED, 4000);
      assert.ok(Date.now() - started < 3500, 'Tollgate closed the connection after its answer');
      assert.deepEqual(statuses(text), [status], `one answer: ${JSON.stringify(text.slice(0, 200))}`);
      assert.equal(parseRaw(text).headers.connection, 'close');
      await tg.waitForRecords(before + 1);
      await sleep(100);
      const mine = tg.records.slice(before);
      const own = mine.filter((r) => r.url.path !== '/smuggled');
      assert.equal(own.length, 1, 'one record for the refused request');
      const first = own[0]!;
      assert.equal(first.http.response.status_code, status);
      assert.equal(first.tollgate.termination, status === 431 ? 'too_large' : 'bad_request');
      assert.ok((first.error.message ?? '').length > 10, 'the record says what was wrong');
      // a bad chunk is found after the head was forwarded: that attempt is cut before the body ends
      if (first.tollgate.attempts.length > 0) assert.match(c.raw, /Transfer-Encoding: chunked\r\n\r\n/);
      assert.ok(
        heads.every((h) => h === '/r'),
        `the backend saw no other request head: ${JSON.stringify(heads)}`,
      );
      // a request node had already parsed behind the refused one is refused too, never forwarded
      for (const r of mine) {
        if (r === first) continue;
        assert.equal(r.tollgate.termination, 'bad_request');
        assert.equal(r.url.path, '/smuggled');
        assert.match(
          r.error.message!,
          /pipelined behind a request refused|after a request that closes the connection/,
        );
      }
      assert.deepEqual(seen, [], 'the backend received no complete request');
    });
  }

  for (const c of forwarded) {
    it(`forwards ${c.name} as exactly the request(s) sent`, async () => {
      const before = tg.records.length;
      seen.length = 0;
      const text = await rawExchange(tg.port, c.raw, 4000);
      assert.deepEqual(
        statuses(text),
        c.seen.map(() => 200),
        `one 200 per request: ${JSON.stringify(text.slice(0, 300))}`,
      );
      await tg.waitForRecords(before + c.seen.length);
      await sleep(100);
      const byUrl = (a: Seen, b: Seen) => a.url.localeCompare(b.url);
      assert.deepEqual([...seen].sort(byUrl), [...c.seen].sort(byUrl), 'the backend saw exactly these');
      const mine = tg.records.slice(before);
      assert.equal(mine.length, c.seen.length, 'one record per request');
      for (const r of mine) {
        assert.equal(r.tollgate.termination, 'ok');
        const sent = c.seen.find((s) => s.url === r.url.path)!;
        assert.equal(r.http.request.method, sent.method);
        assert.equal(r.http.request.body.size, sent.body.length);
      }
    });
  }

  it('puts every record of the corpus in the store, and the chain verifies', async () => {
    const ids = tg.records.map((r) => r.http.request.id);
    assert.ok(ids.length >= refused.length + forwarded.length);
    await tg.app.stop(1000);
    const stored = readStore(tg.dataDir).requests.map((r) => r.http.request.id);
    assert.deepEqual([...stored].sort(), [...ids].sort(), 'exactly one stored record per request');
    const v = cli(['verify', '--data', tg.dataDir]);
    assert.equal(v.code, 0, `verify: ${v.stdout}${v.stderr}`);
    assert.ok(fs.existsSync(tg.dataDir));
  });
});
