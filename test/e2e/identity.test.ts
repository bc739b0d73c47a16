import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CryptoKey, JWK, JWTPayload } from 'jose';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { Dispatcher } from 'undici';
import { Agent, request } from 'undici';
import type { RequestRecord } from '../../src/audit/index.js';
import { compileConfigText } from '../../src/config/index.js';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { parseRaw, rawExchange } from '../helpers/raw.js';
import type { Harness } from '../helpers/tollgate.js';
import { startTollgate } from '../helpers/tollgate.js';

/**
 * Identity on the data plane (admit phase): route auth by JWT (file and URL key sets), API key
 * and client certificate, and rate limits per client IP and per user, on real sockets. Every
 * record is schema-checked by the harness; the last test searches everything these tests wrote
 * (records, replies, the log, the store and the jsonl sink) for the credentials they used.
 */
const ISSUER = 'https://id.example.test';

interface Key {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

async function newKey(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return {
    kid,
    privateKey,
    jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256' },
  };
}

/** Runs `openssl` in `cwd` with the words of `command` (no word contains a space). */
function openssl(cwd: string, command: string): void {
  execFileSync('openssl', command.split(' '), { cwd, stdio: 'ignore' });
}

const EC = '-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes';

/** A test CA, a server certificate, alice's client certificate signed by the CA, and mallory's self-signed one. */
function makeCertificates(dir: string): void {
  openssl(dir, `req -x509 ${EC} -days 2 -subj /CN=Tollgate-Test-CA -keyout ca.key -out ca.pem`);
  openssl(
    dir,
    `req -x509 ${EC} -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost -keyout server.key -out server.pem`,
  );
  fs.writeFileSync(
    path.join(dir, 'alice.ext'),
    'subjectAltName=DNS:alice.clients.example.test\nextendedKeyUsage=clientAuth\n',
  );
  openssl(dir, `req ${EC} -subj /CN=alice -keyout alice.key -out alice.csr`);
  openssl(
    dir,
    'x509 -req -in alice.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile alice.ext -out alice.pem',
  );
  openssl(dir, `req -x509 ${EC} -days 2 -subj /CN=mallory -keyout mallory.key -out mallory.pem`);
}

/** A loopback server that serves a JWKS, optionally after a delay. */
async function jwksServer(
  jwks: () => object,
  delayMs = 0,
): Promise<{ url: string; fetches: () => number; close(): Promise<void> }> {
  let fetches = 0;
  const server = http.createServer((_req, res) => {
    fetches++;
    setTimeout(
      () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks())),
      delayMs,
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`,
    fetches: () => fetches,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

interface Exchange {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  record: RequestRecord;
}

describe('identity on the data plane', () => {
  let b: TestBackend;
  let dir = '';
  let tg: Harness;
  let k1: Key;
  let stranger: Key;
  let remoteKey: Key;
  let remote: Awaited<ReturnType<typeof jwksServer>>;
  let slow: Awaited<ReturnType<typeof jwksServer>>;
  let config = '';
  const logs: string[] = [];
  /** Every credential the tests sent; none may show up in anything Tollgate wrote. */
  const secrets: string[] = [];
  /** The replies Tollgate sent (searched too: error messages reach the client). */
  const replies: string[] = [];
  const apiKeys = {
    'billing-batch': `tgk_${crypto.randomBytes(16).toString('hex')}`,
    'bot-a': `tgk_${crypto.randomBytes(16).toString('hex')}`,
    'bot-b': `tgk_${crypto.randomBytes(16).toString('hex')}`,
  };

  async function jwt(key: Key, claims: JWTPayload = {}, kid: string = key.kid): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({
      iss: ISSUER,
      aud: 'api',
      sub: 'alice',
      iat: now,
      exp: now + 300,
      ...claims,
    })
      .setProtectedHeader({ alg: 'ES256', kid })
      .sign(key.privateKey);
    secrets.push(token);
    return token;
  }

  async function get(
    p: string,
    headers: Record<string, string> = {},
    dispatcher?: Dispatcher,
  ): Promise<Exchange> {
    const base = dispatcher === undefined ? tg.url() : `https://127.0.0.1:${tg.app.proxy.port('secure')}/`;
    const res = await request(new URL(p, base), {
      headers,
      ...(dispatcher === undefined ? {} : { dispatcher }),
    });
    const body = await res.body.text();
    const record = await tg.record(res.headers['x-request-id'] as string);
    // what Tollgate wrote: all headers, and the body when Tollgate answered itself (the test
    // backend echoes the request headers, credentials included, in its own bodies)
    replies.push(JSON.stringify(res.headers));
    if (record.tollgate.termination !== 'ok') replies.push(body);
    return { status: res.statusCode, headers: res.headers, body, record };
  }

  function refusal(x: Exchange, termination: string, status: number): string {
    assert.equal(x.status, status, x.body);
    assert.equal(x.record.http.response.status_code, status);
    assert.equal(x.record.tollgate.termination, termination);
    assert.equal(x.record.error.type, termination);
    assert.equal(JSON.parse(x.body).error, termination);
    assert.deepEqual(x.record.tollgate.attempts, [], 'a refused request reaches no backend');
    assert.equal(x.record.tollgate.backend.name, null);
    return x.record.error.message ?? '';
  }

  before(async () => {
    b = await startBackend('b1');
    b.server.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket) => {
      socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-identity-'));
    makeCertificates(dir);
    [k1, stranger, remoteKey] = await Promise.all([newKey('k1'), newKey('k1'), newKey('remote-1')]);
    fs.writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [k1.jwk] }));
    remote = await jwksServer(() => ({ keys: [remoteKey.jwk] }));
    slow = await jwksServer(() => ({ keys: [k1.jwk] }), 800);
    fs.writeFileSync(
      path.join(dir, 'api-keys.yaml'),
      `keys:\n${Object.entries(apiKeys)
        .map(
          ([name, key]) =>
            `  - { name: ${name}, sha256: ${crypto.createHash('sha256').update(key).digest('hex')} }`,
        )
        .join('\n')}\n`,
    );
    secrets.push(...Object.values(apiKeys));
    config = `
listeners:
  - { name: public, address: 127.0.0.1:0, trusted_proxies: [127.0.0.0/8] }
  - name: secure
    address: 127.0.0.1:0
    tls: { cert: ${dir}/server.pem, key: ${dir}/server.key, client_ca: ${dir}/ca.pem }
routes:
  - name: jwt
    match: { path_prefix: /jwt }
    pool: p
    auth: { type: jwt, jwks_file: ${dir}/jwks.json, issuer: ${ISSUER}, audience: api }
  - name: jwt-url
    match: { path_prefix: /remote }
    pool: p
    auth: { type: jwt, jwks_url: "${remote.url}", issuer: ${ISSUER}, audience: api }
  - name: jwt-slow-keys
    match: { path_prefix: /slow-keys }
    pool: p
    auth: { type: jwt, jwks_url: "${slow.url}" }
  - name: optional
    match: { path_prefix: /optional }
    pool: p
    auth: { type: jwt, required: false, jwks_file: ${dir}/jwks.json, issuer: ${ISSUER}, audience: api }
  - name: keys
    match: { path_prefix: /key }
    pool: p
    auth: { type: api_key, header: x-api-key, keys_file: ${dir}/api-keys.yaml }
  - name: per-user
    match: { path_prefix: /per-user }
    pool: p
    auth: { type: api_key, required: false, keys_file: ${dir}/api-keys.yaml }
    rate_limit: { per: user, rate: 1/m, burst: 2 }
  - name: per-ip
    match: { path_prefix: /per-ip }
    pool: p
    rate_limit: { per: client_ip, rate: 1/m, burst: 3 }
  - name: mtls
    match: { path_prefix: /mtls }
    pool: p
    auth: { type: mtls, user_from: subject_cn }
  - name: mtls-email
    match: { path_prefix: /email }
    pool: p
    auth: { type: mtls, user_from: san_email }
  - { name: open, pool: p }
pools: [{ name: p, backends: [{ name: b1, address: ${b.address} }] }]
audit:
  capture_headers: [user-agent, authorization, x-api-key]
  redact: { headers: [cookie] }
  sinks: [{ type: jsonl, path: requests.jsonl }]
`;
    tg = await startTollgate(config, {
      logger: { log: (level, msg, fields) => logs.push(JSON.stringify({ level, msg, ...fields })) },
    });
  });

  after(async () => {
    await tg?.close();
    await b?.close();
    await remote?.close();
    await slow?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a valid JWT reaches the backend, with user.name from sub and identity method jwt', async () => {
    const before = b.count();
    const x = await get('/jwt/orders', { authorization: `Bearer ${await jwt(k1, { sub: 'alice' })}` });
    assert.equal(x.status, 200, x.body);
    assert.equal(b.count(), before + 1);
    assert.equal(x.record.user.name, 'alice');
    assert.equal(x.record.tollgate.identity.method, 'jwt');
    assert.equal(x.record.tollgate.termination, 'ok');
    assert.equal(x.record.http.request.header.authorization, 'REDACTED');
    assert.equal(x.record.error.message, null);
  });

  it('a JWT with a bad signature, a wrong audience or an expired one gets 401 auth_failed with its reason', async () => {
    const before = b.count();
    const cases: [string, string][] = [
      [await jwt(stranger), 'invalid JWT: bad signature (kid "k1")'],
      [await jwt(k1, { aud: 'billing' }), 'invalid JWT: wrong audience "billing", expected "api"'],
      [await jwt(k1, { exp: Math.floor(Date.now() / 1000) - 3600 }), 'invalid JWT: expired at '],
      [
        await jwt(k1, { iss: 'https://evil.example.test' }),
        'invalid JWT: wrong issuer "https://evil.example.test"',
      ],
      [await jwt(k1, {}, 'no-such-kid'), 'invalid JWT: unknown key id (kid "no-such-kid")'],
      [await jwt(k1, { nbf: Math.floor(Date.now() / 1000) + 3600 }), 'invalid JWT: not yet valid'],
      ['abc.def', 'malformed token'],
    ];
    for (const [token, reason] of cases) {
      const x = await get('/jwt/orders', { authorization: `Bearer ${token}` });
      const message = refusal(x, 'auth_failed', 401);
      assert.ok(message.startsWith(reason), `"${message}" should start with "${reason}"`);
      assert.equal(x.headers['www-authenticate'], 'Bearer error="invalid_token"');
      assert.equal(x.record.user.name, null);
      assert.equal(x.record.tollgate.identity.method, 'anonymous');
      assert.equal(x.record.http.request.header.authorization, 'REDACTED');
    }
    const missing = await get('/jwt/orders');
    assert.match(refusal(missing, 'auth_failed', 401), /^missing token: no Authorization header/);
    assert.equal(missing.headers['www-authenticate'], 'Bearer');
    assert.equal(b.count(), before, 'no refused request reached the backend');
  });

  it('jwks_url: keys fetched from a loopback JWKS server verify tokens, and unknown keys are refused', async () => {
    const ok = await get('/remote/x', {
      authorization: `Bearer ${await jwt(remoteKey, { sub: 'svc-remote' })}`,
    });
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual([ok.record.user.name, ok.record.tollgate.identity.method], ['svc-remote', 'jwt']);
    const again = await get('/remote/y', {
      authorization: `Bearer ${await jwt(remoteKey, { sub: 'svc-2' })}`,
    });
    assert.equal(again.record.user.name, 'svc-2');
    assert.equal(remote.fetches(), 1, 'the key set is cached');
    const file = await get('/remote/z', { authorization: `Bearer ${await jwt(k1)}` });
    assert.match(refusal(file, 'auth_failed', 401), /^invalid JWT: unknown key id \(kid "k1"\)/);
  });

  it('required: false lets requests without a token through as anonymous, but refuses an invalid token', async () => {
    const anon = await get('/optional/a');
    assert.equal(anon.status, 200);
    assert.deepEqual([anon.record.user.name, anon.record.tollgate.identity.method], [null, 'anonymous']);
    const named = await get('/optional/b', { authorization: `Bearer ${await jwt(k1, { sub: 'carol' })}` });
    assert.deepEqual([named.record.user.name, named.record.tollgate.identity.method], ['carol', 'jwt']);
    const bad = await get('/optional/c', { authorization: `Bearer ${await jwt(stranger)}` });
    assert.match(refusal(bad, 'auth_failed', 401), /^invalid JWT: bad signature/);
  });

  it('api_key: a listed key names its entry; an unknown or missing key gets 401', async () => {
    const ok = await get('/key/report', { 'x-api-key': apiKeys['billing-batch'] });
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual([ok.record.user.name, ok.record.tollgate.identity.method], ['billing-batch', 'api_key']);
    assert.equal(ok.record.http.request.header['x-api-key'], 'REDACTED');
    const guessed = `tgk_${crypto.randomBytes(16).toString('hex')}`;
    secrets.push(guessed);
    const unknown = await get('/key/report', { 'x-api-key': guessed });
    assert.equal(refusal(unknown, 'auth_failed', 401), 'unknown API key');
    assert.equal(unknown.headers['www-authenticate'], 'ApiKey header="x-api-key"');
    assert.equal(unknown.record.http.request.header['x-api-key'], 'REDACTED');
    const missing = await get('/key/report');
    assert.equal(refusal(missing, 'auth_failed', 401), 'no API key in header x-api-key');
  });

  it('mTLS: no certificate or an unsigned one gets 401; a CA-signed one names its subject CN', async () => {
    const ca = fs.readFileSync(path.join(dir, 'server.pem'));
    const client = (name: string | null) =>
      new Agent({
        connect: {
          ca,
          servername: 'localhost',
          ...(name === null
            ? {}
            : {
                cert: fs.readFileSync(path.join(dir, `${name}.pem`)),
                key: fs.readFileSync(path.join(dir, `${name}.key`)),
              }),
        },
      });
    const [none, alice, mallory] = [client(null), client('alice'), client('mallory')];
    try {
      const anon = await get('/mtls/a', {}, none);
      assert.equal(refusal(anon, 'auth_failed', 401), 'no client certificate');
      assert.equal(anon.record.tollgate.listener, 'secure');
      const ok = await get('/mtls/a', {}, alice);
      assert.equal(ok.status, 200, ok.body);
      assert.deepEqual([ok.record.user.name, ok.record.tollgate.identity.method], ['alice', 'mtls']);
      assert.equal(ok.record.tls.protocol.version, 'TLSv1.3');
      const forged = await get('/mtls/a', {}, mallory);
      assert.equal(
        refusal(forged, 'auth_failed', 401),
        'client certificate CN="mallory" was not accepted: it is not signed by the listener\'s client_ca (DEPTH_ZERO_SELF_SIGNED_CERT)',
      );
      assert.equal(forged.record.user.name, null);
      const noEmail = await get('/email/a', {}, alice);
      assert.match(refusal(noEmail, 'forbidden', 403), /has no email subject alternative name/);
      const plain = await get('/mtls/a');
      assert.match(
        refusal(plain, 'auth_failed', 401),
        /^no client certificate: the request came over plain HTTP/,
      );
    } finally {
      await Promise.all([none.close(), alice.close(), mallory.close()]);
    }
  });

  it('rate_limit per client_ip: a burst passes, then 429 rate_limited with Retry-After; other clients are apart', async () => {
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    for (let i = 0; i < 3; i++) assert.equal((await get('/per-ip/a', from('203.0.113.1'))).status, 200);
    const limited = await get('/per-ip/a', from('203.0.113.1'));
    assert.equal(
      refusal(limited, 'rate_limited', 429),
      `rate limit of route per-ip exceeded by client 203.0.113.1 (1/m, burst 3, per client_ip); retry after ${limited.headers['retry-after']} s`,
    );
    const wait = Number(limited.headers['retry-after']);
    assert.ok(wait >= 55 && wait <= 60, `Retry-After ${wait}`);
    assert.equal(limited.record.client.address, '203.0.113.1');
    assert.equal(
      (await get('/per-ip/a', from('203.0.113.2'))).status,
      200,
      'another client has its own bucket',
    );

    // a reload that keeps the limit keeps the buckets
    const changed = `data_dir: ${tg.app.plan.dataDir}\n${config.replace('- { name: open,', '- { name: open-2,')}`;
    await tg.app.reload(compileConfigText(changed, path.join(tg.dataDir, 'tollgate.yaml')), 'test');
    assert.equal(tg.app.plan.routes.at(-1)?.name, 'open-2', 'the reload happened');
    assert.equal((await get('/per-ip/a', from('203.0.113.1'))).status, 429, 'still limited after the reload');
    assert.equal((await get('/per-ip/a', from('203.0.113.2'))).status, 200);
  });

  it('rate_limit per user: each key has its own bucket; anonymous requests fall back to the client IP', async () => {
    for (let i = 0; i < 2; i++)
      assert.equal((await get('/per-user/a', { 'x-api-key': apiKeys['bot-a'] })).status, 200);
    const limited = await get('/per-user/a', {
      'x-api-key': apiKeys['bot-a'],
      'x-forwarded-for': '198.51.100.9',
    });
    assert.match(
      refusal(limited, 'rate_limited', 429),
      /^rate limit of route per-user exceeded by user "bot-a" \(1\/m, burst 2, per user\)/,
    );
    assert.deepEqual(
      [limited.record.user.name, limited.record.tollgate.identity.method],
      ['bot-a', 'api_key'],
    );
    assert.ok(Number(limited.headers['retry-after']) > 0);
    const other = await get('/per-user/a', { 'x-api-key': apiKeys['bot-b'] });
    assert.equal(other.status, 200, 'bot-b has its own bucket (same client IP)');
    const anon = (ip: string) => get('/per-user/a', { 'x-forwarded-for': ip });
    assert.equal((await anon('198.51.100.7')).status, 200);
    assert.equal((await anon('198.51.100.7')).status, 200);
    const anonLimited = await anon('198.51.100.7');
    assert.match(refusal(anonLimited, 'rate_limited', 429), /exceeded by client 198\.51\.100\.7 /);
    assert.equal(anonLimited.record.tollgate.identity.method, 'anonymous');
    assert.equal((await anon('198.51.100.8')).status, 200);
  });

  it('a WebSocket upgrade is admitted the same way: 401 without a token, 101 with one', async () => {
    const upgrade = (extra: string) =>
      `GET /jwt/ws HTTP/1.1\r\nHost: ws.example.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`;
    const refused = parseRaw(await rawExchange(tg.port, upgrade('')));
    replies.push(JSON.stringify(refused));
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['www-authenticate'], 'Bearer');
    const r1 = await tg.record(refused.headers['x-request-id']!);
    assert.deepEqual(
      [r1.tollgate.termination, r1.tollgate.upgrade, r1.http.response.status_code],
      ['auth_failed', true, 401],
    );
    const token = await jwt(k1, { sub: 'ws-user' });
    const raw = await rawExchange(tg.port, upgrade(`Authorization: Bearer ${token}\r\n`));
    replies.push(raw);
    assert.equal(parseRaw(raw).status, 101, raw);
    const r2 = await waitFor(() =>
      tg.records.find((r) => r.url.path === '/jwt/ws' && r.tollgate.termination === 'ok'),
    );
    assert.deepEqual(
      [r2.user.name, r2.tollgate.identity.method, r2.tollgate.upgrade],
      ['ws-user', 'jwt', true],
    );
  });

  it('a client that leaves while its token is checked is recorded as client_aborted and never forwarded', async () => {
    const token = await jwt(k1);
    const socket = net.connect(tg.port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise((r) => socket.once('connect', r));
    socket.write(`GET /slow-keys/x HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    await sleep(150);
    socket.destroy();
    const r = await waitFor(() => tg.records.find((x) => x.url.path === '/slow-keys/x'));
    assert.equal(r.tollgate.termination, 'client_aborted');
    assert.equal(r.http.response.status_code, 499);
    await sleep(1200); // the key set arrives, the verdict comes in: nothing may follow
    assert.equal(b.hits.get('/slow-keys/x'), undefined, 'never forwarded');
    assert.equal(tg.records.filter((x) => x.url.path === '/slow-keys/x').length, 1, 'one record');
    assert.equal(slow.fetches(), 1);
  });

  it('no record, reply, log line or stored file contains a credential these tests sent', async () => {
    assert.ok(secrets.length >= 15, `${secrets.length} credentials were sent`);
    await tg.app.audit.committed();
    await sleep(500); // sinks ship from the store every 200 ms
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(tg.dataDir);
    const jsonl = fs.readFileSync(path.join(tg.dataDir, 'requests.jsonl'), 'utf8');
    const corpus: [string, string][] = [
      ['records', JSON.stringify(tg.records)],
      ['admin events', JSON.stringify(tg.events)],
      ['log', logs.join('\n')],
      ['replies', replies.join('\n')],
      ...files.map((f): [string, string] => [path.relative(tg.dataDir, f), fs.readFileSync(f, 'latin1')]),
    ];
    // the search can find things, and the credential headers were captured (so redaction mattered)
    assert.ok(jsonl.includes('"authorization":') && jsonl.includes('"x-api-key":'));
    const id = tg.records[0]!.http.request.id;
    assert.ok(corpus.some(([, text]) => text.includes(id)));
    assert.ok(
      corpus.some(([name]) => name === 'audit.db'),
      `the store is searched: ${corpus.map(([n]) => n)}`,
    );
    for (const secret of secrets) {
      // the whole credential, and a JWT's claims and signature on their own (its header is no secret)
      for (const part of [secret, ...secret.split('.').slice(1)]) {
        const where = corpus.filter(([, text]) => text.includes(part)).map(([name]) => name);
        assert.deepEqual(where, [], `a credential (${part.slice(0, 8)}…) was written to ${where.join(', ')}`);
      }
    }
  });

  async function waitFor<T>(find: () => T | undefined, ms = 5000): Promise<T> {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) {
      const v = find();
      if (v !== undefined) return v;
    }
    throw new Error('timed out');
  }
});
