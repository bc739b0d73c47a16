import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { refusedAddress } from '../helpers/backends.js';
import { parseRaw, rawExchange } from '../helpers/raw.js';
import type { Harness } from '../helpers/tollgate.js';
import { startTollgate } from '../helpers/tollgate.js';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * A backend that accepts every Upgrade with a proper 101 (Sec-WebSocket-Accept computed from the
 * key) and then echoes raw bytes back on the upgraded socket; no WebSocket framing.
 */
interface EchoBackend {
  address: string;
  upgrades: http.IncomingHttpHeaders[];
  /** Bytes the backend wrote after its 101 head, per upgraded connection. */
  echoed: number[];
  /** Resolves when an upgraded connection's socket closed. */
  closed: Promise<void>;
  close(): Promise<void>;
}

async function startEchoBackend(): Promise<EchoBackend> {
  const upgrades: http.IncomingHttpHeaders[] = [];
  const echoed: number[] = [];
  let onClosed!: () => void;
  const closed = new Promise<void>((r) => (onClosed = r));
  const server = http.createServer((_req, res) => res.writeHead(426, { upgrade: 'websocket' }).end());
  const sockets = new Set<net.Socket>();
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    sockets.add(socket);
    upgrades.push(req.headers);
    const i = echoed.push(0) - 1;
    const key = String(req.headers['sec-websocket-key'] ?? '');
    const accept = crypto
      .createHash('sha1')
      .update(key + WS_GUID)
      .digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    const echo = (chunk: Buffer) => {
      echoed[i]! += chunk.length;
      socket.write(chunk);
    };
    if (head.length > 0) echo(head);
    socket.on('data', echo);
    socket.on('end', () => socket.end());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      sockets.delete(socket);
      onClosed();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    upgrades,
    echoed,
    closed,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A raw client connection that collects what it receives. */
class RawClient {
  readonly socket: net.Socket;
  received = Buffer.alloc(0);
  ended = false;
  readonly closed: Promise<void>;
  #waiters = new Set<() => void>();

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (c: Buffer) => {
      this.received = Buffer.concat([this.received, c]);
      for (const w of this.#waiters) w();
    });
    this.socket.on('error', () => {});
    this.socket.on('end', () => {
      this.ended = true;
      for (const w of this.#waiters) w();
    });
    this.closed = new Promise((r) => this.socket.once('close', () => r()));
  }

  /** Resolves once the received bytes satisfy `check` (rejects after timeoutMs). */
  waitFor(check: (text: string) => boolean, what: string, timeoutMs = 3000): Promise<string> {
    return new Promise((resolve, reject) => {
      const tryIt = () => {
        const text = this.received.toString('latin1');
        if (!check(text)) return false;
        clearTimeout(timer);
        this.#waiters.delete(tryIt);
        resolve(text);
        return true;
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(tryIt);
        reject(
          new Error(
            `timed out waiting for ${what}; received ${JSON.stringify(this.received.toString('latin1'))}`,
          ),
        );
      }, timeoutMs);
      if (!tryIt()) this.#waiters.add(tryIt);
    });
  }
}

function upgradeRequest(path: string, key: string): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: ws-test\r\n\r\n`
  );
}

describe('websocket upgrades', () => {
  let echo: EchoBackend;
  let tg: Harness;

  before(async () => {
    echo = await startEchoBackend();
    tg = await startTollgate(`
listeners:
  - { name: public, address: 127.0.0.1:0 }
routes:
  - { name: ws, match: { path_prefix: /ws }, pool: ws, owner: team-realtime }
  - { name: dead, match: { path_prefix: /dead }, pool: dead }
pools:
  - name: ws
    backends: [{ name: echo, address: ${echo.address} }]
  - name: dead
    backends: [{ name: gone, address: ${await refusedAddress()} }]
`);
  });
  after(async () => {
    await tg.close();
    await echo.close();
  });

  it('tunnels an upgraded connection both ways and writes one ok record with status 101 when both sides close', async () => {
    const key = crypto.randomBytes(16).toString('base64');
    const client = new RawClient(tg.port);
    client.socket.write(upgradeRequest('/ws/chat?room=1', key));
    const headText = await client.waitFor((t) => t.includes('\r\n\r\n'), 'the 101 head');
    const head = parseRaw(headText);
    assert.equal(head.status, 101);
    assert.equal(head.headers.upgrade?.toLowerCase(), 'websocket');
    assert.equal(
      head.headers['sec-websocket-accept'],
      crypto
        .createHash('sha1')
        .update(key + WS_GUID)
        .digest('base64'),
    );
    const headLength = headText.indexOf('\r\n\r\n') + 4;

    // bytes after the 101 go through the tunnel and come back
    const sent = ['hello through the tunnel', '\x00\x01\x02 binary \xff', 'x'.repeat(100_000)];
    let total = 0;
    for (const part of sent) {
      client.socket.write(Buffer.from(part, 'latin1'));
      total += Buffer.byteLength(part, 'latin1');
      await client.waitFor((t) => t.length === headLength + total, `${total} echoed bytes`);
    }
    assert.equal(client.received.subarray(headLength).toString('latin1'), sent.join(''));

    // what the backend saw
    assert.equal(echo.upgrades.length, 1);
    const h = echo.upgrades[0]!;
    assert.equal(h.upgrade, 'websocket');
    assert.match(String(h.connection), /upgrade/i);
    assert.equal(h['sec-websocket-key'], key);
    assert.equal(h['sec-websocket-version'], '13');
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.ok(
      typeof h['x-request-id'] === 'string' && h['x-request-id'].length > 0,
      'the backend gets a request id',
    );

    // no record while the tunnel is open
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(
      tg.records.filter((r) => r.url.path === '/ws/chat').length,
      0,
      'the record is written when the tunnel closes',
    );

    // the client closes its side; the backend answers by closing its side
    client.socket.end();
    await Promise.all([client.closed, echo.closed]);
    const records = await tg.waitForRecords(1);
    await new Promise((r) => setTimeout(r, 100));
    const mine = records.filter((r) => r.url.path === '/ws/chat');
    assert.equal(mine.length, 1, 'exactly one record for the tunnel');
    const r = mine[0]!;
    assert.equal(r.tollgate.termination, 'ok');
    assert.equal(r.http.response.status_code, 101);
    assert.equal(r.tollgate.upstream.status_code, 101);
    assert.equal(r.tollgate.upgrade, true);
    assert.equal(r.tollgate.route, 'ws');
    assert.equal(r.tollgate.owner, 'team-realtime');
    assert.equal(r.tollgate.backend.name, 'echo');
    assert.equal(r.url.query, 'room=1');
    assert.equal(r.http.request.id, h['x-request-id'], 'the record has the id the backend got');
    assert.equal(r.error.message, null);
    assert.ok(r.http.request.body.size > 0, 'bytes from the client are counted');
    assert.ok(r.http.response.body.size > 0, 'bytes from the backend are counted');
    assert.equal(r.tollgate.attempts.length, 1);
    assert.equal(r.tollgate.attempts[0]!.termination, 'ok');
  });

  it('counts the tunnelled bytes, without the 101 head, as the body sizes (including bytes sent with the upgrade request)', async () => {
    const client = new RawClient(tg.port);
    // a client may send its first bytes together with the upgrade request (node hands them over as `head`)
    client.socket.write(`${upgradeRequest('/ws/sizes', crypto.randomBytes(16).toString('base64'))}early`);
    const headText = await client.waitFor((t) => t.includes('\r\n\r\n'), 'the 101 head');
    const headLength = headText.indexOf('\r\n\r\n') + 4;
    await client.waitFor((t) => t.length === headLength + 5, 'the early bytes echoed');
    client.socket.write('later!');
    await client.waitFor((t) => t.length === headLength + 11, 'the later bytes echoed');
    client.socket.end();
    await client.closed;
    const r = await waitForPath(tg, '/ws/sizes');
    assert.equal(r.tollgate.termination, 'ok');
    assert.deepEqual(
      { request: r.http.request.body.size, response: r.http.response.body.size },
      { request: 11, response: 11 },
      'the 11 bytes the client sent after its request head, and the 11 the backend sent after its 101 head',
    );
  });

  it('answers 502 on the socket and records upstream_connect_refused when the only backend refuses the connection', async () => {
    const text = await rawExchange(
      tg.port,
      upgradeRequest('/dead/socket', crypto.randomBytes(16).toString('base64')),
    );
    const res = parseRaw(text);
    assert.equal(res.status, 502);
    assert.equal((JSON.parse(res.body) as { error: string }).error, 'upstream_connect_refused');
    const r = await waitForPath(tg, '/dead/socket');
    assert.equal(tg.records.filter((x) => x.url.path === '/dead/socket').length, 1);
    assert.equal(r.tollgate.termination, 'upstream_connect_refused');
    assert.equal(r.http.response.status_code, 502);
    assert.equal(r.tollgate.upgrade, true);
    assert.equal(r.tollgate.route, 'dead');
    assert.equal(r.tollgate.attempts.length, 1);
    assert.equal(r.tollgate.attempts[0]!.termination, 'upstream_connect_refused');
    assert.ok(
      r.error.message?.includes('gone') === true,
      `the message names the backend: ${r.error.message}`,
    );
    if (res.headers['x-request-id'] !== undefined)
      assert.equal(res.headers['x-request-id'], r.http.request.id);
  });

  it('answers 404 on the socket and records no_route when no route matches the upgrade', async () => {
    const text = await rawExchange(
      tg.port,
      upgradeRequest('/nowhere', crypto.randomBytes(16).toString('base64')),
    );
    const res = parseRaw(text);
    assert.equal(res.status, 404);
    assert.equal((JSON.parse(res.body) as { error: string }).error, 'no_route');
    const r = await waitForPath(tg, '/nowhere');
    assert.equal(tg.records.filter((x) => x.url.path === '/nowhere').length, 1);
    assert.equal(r.tollgate.termination, 'no_route');
    assert.equal(r.http.response.status_code, 404);
    assert.equal(r.tollgate.route, null);
    assert.equal(r.tollgate.upgrade, true);
    assert.deepEqual(r.tollgate.attempts, []);
    assert.match(r.error.message ?? '', /no route matches GET .*\/nowhere/);
  });
});

/** The first record for a path, once it arrived. */
async function waitForPath(tg: Harness, path: string, timeoutMs = 3000): Promise<Harness['records'][number]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = tg.records.find((x) => x.url.path === path);
    if (r !== undefined) return r;
    if (Date.now() > end)
      throw new Error(
        `no record for ${path}; have ${JSON.stringify(tg.records.map((x) => [x.url.path, x.tollgate.termination]))}`,
      );
    await tg.waitForRecords(tg.records.length + 1, Math.max(1, end - Date.now())).catch(() => {});
  }
}
