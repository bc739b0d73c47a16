import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { startTollgate } from '../helpers/tollgate.js';

describe('listeners', () => {
  let b: TestBackend;
  before(async () => {
    b = await startBackend('b1');
  });
  after(async () => {
    await b.close();
  });

  it('believes X-Forwarded-For, Forwarded and X-Request-Id only from trusted proxies', async () => {
    const tg = await startTollgate(`
listeners: [{ name: public, address: 127.0.0.1:0, trusted_proxies: [127.0.0.0/8, 10.0.0.0/8] }]
routes: [{ name: r, pool: p }]
pools: [{ name: p, backends: [{ name: b1, address: ${b.address} }] }]
`);
    try {
      // chain: client 203.0.113.9 → trusted 10.1.1.1 → us (peer 127.0.0.1, trusted)
      const res = await request(tg.url('/xff'), {
        headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.9, 10.1.1.1', 'x-request-id': 'edge-42' },
      });
      const body = (await res.body.json()) as { headers: Record<string, string> };
      assert.equal(res.headers['x-request-id'], 'edge-42', 'a trusted peer may set the request id');
      const r = await tg.record('edge-42');
      assert.equal(r.client.address, '203.0.113.9', 'the first untrusted hop from the right');
      assert.equal(r.network.peer.address, '127.0.0.1');
      assert.equal(body.headers['x-forwarded-for'], '198.51.100.1, 203.0.113.9, 10.1.1.1, 127.0.0.1');

      const fwd = await request(tg.url('/fwd'), {
        headers: { forwarded: 'for="[2001:db8::7]:4711";proto=https, for=10.0.0.5' },
      });
      await fwd.body.dump();
      const rf = await tg.record(fwd.headers['x-request-id'] as string);
      assert.equal(rf.client.address, '2001:db8::7');
    } finally {
      await tg.close();
    }
  });

  it('serves HTTPS with the configured certificate and records the TLS facts', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-tls-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const tg = await startTollgate(`
listeners: [{ name: secure, address: 127.0.0.1:0, tls: { cert: ${dir}/cert.pem, key: ${dir}/key.pem } }]
routes: [{ name: r, pool: p }]
pools: [{ name: p, backends: [{ name: b1, address: ${b.address} }] }]
`);
    const dispatcher = new Agent({
      connect: { ca: fs.readFileSync(path.join(dir, 'cert.pem')), servername: 'localhost' },
    });
    try {
      const res = await request(`https://localhost:${tg.port}/secure`, { dispatcher });
      const body = (await res.body.json()) as { headers: Record<string, string> };
      assert.equal(res.statusCode, 200);
      assert.equal(body.headers['x-forwarded-proto'], 'https');
      const r = await tg.record(res.headers['x-request-id'] as string);
      assert.equal(r.tls.protocol.version, 'TLSv1.3');
      assert.ok(r.tls.cipher);
      assert.equal(r.tls.server_name, 'localhost');
      assert.equal(r.tollgate.listener, 'secure');
    } finally {
      await dispatcher.close();
      await tg.close();
    }
  });

  it('caps connections per client IP', async () => {
    const tg = await startTollgate(`
listeners: [{ name: public, address: 127.0.0.1:0, limits: { max_connections_per_ip: 2 } }]
routes: [{ name: r, pool: p }]
pools: [{ name: p, backends: [{ name: b1, address: ${b.address} }] }]
`);
    const sockets: net.Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const s = net.connect(tg.port, '127.0.0.1');
        s.on('error', () => {});
        sockets.push(s);
        await new Promise((r) => s.once('connect', r));
      }
      for (let i = 0; i < 100 && !(sockets[2]!.destroyed || sockets[2]!.readableEnded); i++) await sleep(20);
      assert.equal(
        sockets[2]!.destroyed || sockets[2]!.readableEnded,
        true,
        'the third connection is closed',
      );
      assert.equal(tg.app.proxy.listeners()[0]!.refusedConnections, 1);
      sockets[0]!.destroy();
      const listener = tg.app.proxy.listeners()[0]!;
      for (let i = 0; i < 100 && listener.connections >= 2; i++) await sleep(20);
      const res = await request(tg.url('/after'), { dispatcher: new Agent() });
      assert.equal(res.statusCode, 200, 'a freed slot serves again');
      await res.body.dump();
    } finally {
      for (const s of sockets) s.destroy();
      await tg.close();
    }
  });
});
