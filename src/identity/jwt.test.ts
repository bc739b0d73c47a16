import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SignJWT, UnsecuredJWT } from 'jose';
import type { JwtAuthPlan } from '../config/index.js';
import { FakeClock } from '../core/index.js';
import { createAuthenticator } from './index.js';
import type { SigningKey } from './test-helpers.js';
import { authenticate, jwtPlan, signingKey, TestSubject, token } from './test-helpers.js';

const NOW_MS = Date.UTC(2026, 0, 1, 12, 0, 0);
const NOW_S = NOW_MS / 1000;

let k1: SigningKey;
let k2: SigningKey;
let stranger: SigningKey;
let rsa: SigningKey;
let ed: SigningKey;
before(async () => {
  [k1, k2, stranger, rsa, ed] = await Promise.all([
    signingKey('k1'),
    signingKey('k2'),
    signingKey('k1'),
    signingKey('r1', 'RS256'),
    signingKey('e1', 'EdDSA'),
  ]);
});

/** Verifies `jwt` (or no Authorization header) on a route with `plan`, at NOW. */
async function verify(jwt: string | null, plan: JwtAuthPlan, headers: Record<string, string> = {}) {
  const auth = createAuthenticator(plan, { clock: new FakeClock(NOW_MS) });
  const subject = new TestSubject(jwt === null ? headers : { authorization: `Bearer ${jwt}`, ...headers });
  const answer = await authenticate(auth, subject);
  return { ...answer, subject };
}

describe('jwt authenticator', () => {
  test('a valid token names the user from sub, with method jwt', async () => {
    const r = await verify(await token(k1, {}, { nowS: NOW_S }), jwtPlan([k1, k2]));
    assert.deepEqual([r.verdict, r.subject.userName, r.subject.identityMethod], ['ok', 'alice', 'jwt']);
  });

  test('RS256 and EdDSA tokens verify too', async () => {
    for (const key of [rsa, ed]) {
      const r = await verify(await token(key, { sub: key.alg }, { nowS: NOW_S }), jwtPlan([k1, rsa, ed]));
      assert.deepEqual([r.verdict, r.subject.userName], ['ok', key.alg]);
    }
  });

  test('user_claim picks another claim; a valid token without it is forbidden', async () => {
    const plan = jwtPlan([k1], { userClaim: 'email' });
    const ok = await verify(await token(k1, { email: 'a@example.test' }, { nowS: NOW_S }), plan);
    assert.deepEqual([ok.verdict, ok.subject.userName], ['ok', 'a@example.test']);
    const none = await verify(await token(k1, {}, { nowS: NOW_S }), plan);
    assert.equal(none.verdict, 'forbidden');
    assert.match(none.subject.errorMessage!, /"email" claim \(user_claim\) is missing/);
  });

  const refusals: [string, () => Promise<{ jwt: string | null; plan?: JwtAuthPlan }>, RegExp][] = [
    ['no Authorization header', async () => ({ jwt: null }), /^missing token: no Authorization header/],
    [
      'an expired token',
      async () => ({ jwt: await token(k1, { exp: NOW_S - 60 }, { nowS: NOW_S }) }),
      /^invalid JWT: expired at 2026-01-01T11:59:00Z \(clock_skew 30\.0 s\)$/,
    ],
    [
      'a token not valid yet',
      async () => ({ jwt: await token(k1, { nbf: NOW_S + 3600 }, { nowS: NOW_S }) }),
      /^invalid JWT: not yet valid, nbf is 2026-01-01T13:00:00Z/,
    ],
    [
      'a bad signature',
      async () => ({ jwt: await token(stranger, {}, { nowS: NOW_S }) }),
      /^invalid JWT: bad signature \(kid "k1"\)/,
    ],
    [
      'a wrong issuer',
      async () => ({ jwt: await token(k1, { iss: 'https://evil.test' }, { nowS: NOW_S }) }),
      /^invalid JWT: wrong issuer "https:\/\/evil\.test", expected "https:\/\/id\.example\.test"$/,
    ],
    [
      'no issuer',
      async () => ({ jwt: await token(k1, { iss: undefined }, { nowS: NOW_S }) }),
      /^invalid JWT: wrong issuer \(no "iss" claim\)/,
    ],
    [
      'a wrong audience',
      async () => ({ jwt: await token(k1, { aud: ['web', 'mobile'] }, { nowS: NOW_S }) }),
      /^invalid JWT: wrong audience \["web", "mobile"\], expected "api"$/,
    ],
    [
      'an unknown key id',
      async () => ({ jwt: await token(k1, {}, { nowS: NOW_S, kid: 'rotated-away' }) }),
      /^invalid JWT: unknown key id \(kid "rotated-away"\)/,
    ],
    [
      'a token that is not a JWT',
      async () => ({ jwt: 'not-a-jwt' }),
      /^malformed token: Invalid Compact JWS$/,
    ],
    ['an empty Bearer token', async () => ({ jwt: '' }), /^malformed token: the Bearer token is empty$/],
    [
      'alg none',
      async () => ({
        jwt: new UnsecuredJWT({ sub: 'alice', iss: 'https://id.example.test', aud: 'api' }).encode(),
      }),
      /^invalid JWT: algorithm "none" is not accepted/,
    ],
    [
      'an HMAC token (HS256), even one made with the public key as secret',
      async () => ({
        jwt: await new SignJWT({ sub: 'alice', iss: 'https://id.example.test', aud: 'api' })
          .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
          .sign(new TextEncoder().encode(JSON.stringify(k1.jwk))),
      }),
      /^invalid JWT: algorithm "HS256" is not accepted/,
    ],
  ];
  for (const [name, make, reason] of refusals) {
    test(`refuses ${name} with auth_failed and its reason`, async () => {
      const { jwt, plan } = await make();
      const r = await verify(jwt, plan ?? jwtPlan([k1, k2]));
      assert.equal(r.verdict, 'auth_failed');
      assert.match(r.subject.errorMessage!, reason);
      assert.equal(r.subject.userName, null);
      assert.equal(
        r.subject.challenge,
        jwt === null ? 'Bearer' : 'Bearer error="invalid_token"',
        'WWW-Authenticate per RFC 6750 §3.1',
      );
      if (jwt)
        assert.ok(
          !r.subject.errorMessage!.includes(jwt.split('.')[2] || jwt),
          'the token is not in the reason',
        );
    });
  }

  test('clock_skew tolerates a token that expired a moment ago, by the injected clock', async () => {
    const jwt = await token(k1, { exp: NOW_S - 20 }, { nowS: NOW_S });
    assert.equal((await verify(jwt, jwtPlan([k1], { clockSkewMs: 30_000 }))).verdict, 'ok');
    assert.equal((await verify(jwt, jwtPlan([k1], { clockSkewMs: 10_000 }))).verdict, 'auth_failed');
  });

  test('a token without kid is tried against every key that fits', async () => {
    const plan = jwtPlan([k2, k1]);
    const good = await verify(await token(k1, {}, { nowS: NOW_S, kid: null }), plan);
    assert.equal(good.verdict, 'ok');
    const bad = await verify(await token(stranger, {}, { nowS: NOW_S, kid: null }), plan);
    assert.equal(bad.verdict, 'auth_failed');
    assert.match(bad.subject.errorMessage!, /^invalid JWT: bad signature \(the token names no kid\)/);
  });

  test('required: false lets requests without a token through as anonymous, but not invalid tokens', async () => {
    const plan = jwtPlan([k1], { required: false });
    const anon = await verify(null, plan);
    assert.deepEqual(
      [anon.verdict, anon.subject.userName, anon.subject.identityMethod],
      ['ok', null, 'anonymous'],
    );
    const basic = await verify(null, plan, { authorization: 'Basic YWxhZGRpbjpvcGVuc2VzYW1l' });
    assert.equal(basic.verdict, 'ok', 'another scheme carries no token');
    const expired = await verify(await token(k1, { exp: NOW_S - 3600 }, { nowS: NOW_S }), plan);
    assert.equal(expired.verdict, 'auth_failed');
    assert.match(expired.subject.errorMessage!, /expired/);
  });

  test('without issuer and audience configured, those claims are not checked', async () => {
    const plan = jwtPlan([k1], { issuer: null, audience: null });
    const r = await verify(await token(k1, { iss: 'anyone', aud: 'anything' }, { nowS: NOW_S }), plan);
    assert.equal(r.verdict, 'ok');
  });

  test('the Bearer scheme is case-insensitive; other schemes are a missing token', async () => {
    const jwt = await token(k1, {}, { nowS: NOW_S });
    const lower = await verify(null, jwtPlan([k1]), { authorization: `bearer ${jwt}` });
    assert.equal(lower.verdict, 'ok');
    const basic = await verify(null, jwtPlan([k1]), { authorization: `Basic ${jwt}` });
    assert.equal(basic.verdict, 'auth_failed');
    assert.match(
      basic.subject.errorMessage!,
      /^missing token: the Authorization header does not carry a Bearer token$/,
    );
  });
});

describe('jwt authenticator with jwks_url', () => {
  let server: http.Server;
  let url = '';
  let served: object = {};
  let fetches = 0;
  before(async () => {
    server = http.createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(served));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('fetches the key set once and verifies tokens with it', async () => {
    served = { keys: [k1.jwk] };
    fetches = 0;
    const auth = createAuthenticator(jwtPlan(url), { clock: new FakeClock(NOW_MS) });
    for (const user of ['alice', 'bob']) {
      const subject = new TestSubject({
        authorization: `Bearer ${await token(k1, { sub: user }, { nowS: NOW_S })}`,
      });
      const a = await authenticate(auth, subject);
      assert.deepEqual([a.verdict, subject.userName, subject.identityMethod], ['ok', user, 'jwt']);
    }
    assert.equal(fetches, 1);
  });

  test('a bad signature and an unknown kid are refused with their reasons', async () => {
    served = { keys: [k1.jwk] };
    const auth = createAuthenticator(jwtPlan(url), { clock: new FakeClock(NOW_MS) });
    const forged = new TestSubject({ authorization: `Bearer ${await token(stranger, {}, { nowS: NOW_S })}` });
    assert.equal((await authenticate(auth, forged)).verdict, 'auth_failed');
    assert.match(forged.errorMessage!, /^invalid JWT: bad signature/);
    const unknown = new TestSubject({ authorization: `Bearer ${await token(k2, {}, { nowS: NOW_S })}` });
    assert.equal((await authenticate(auth, unknown)).verdict, 'auth_failed');
    assert.match(unknown.errorMessage!, /^invalid JWT: unknown key id \(kid "k2"\)/);
  });

  test('a key set that cannot be fetched refuses with the URL named', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const dead = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/jwks.json`;
    await new Promise<void>((r) => closed.close(() => r()));
    const auth = createAuthenticator(jwtPlan(dead), { clock: new FakeClock(NOW_MS) });
    const subject = new TestSubject({ authorization: `Bearer ${await token(k1, {}, { nowS: NOW_S })}` });
    assert.equal((await authenticate(auth, subject)).verdict, 'auth_failed');
    assert.ok(subject.errorMessage!.startsWith('JWT not verified: '), subject.errorMessage!);
    assert.ok(subject.errorMessage!.includes(dead), subject.errorMessage!);
  });
});
