import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ApiKeyAuthPlan, JwtAuthPlan } from './index.js';
import { checkConfigText, compileConfigText, formatProblem } from './index.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

function config(route: string, listenerExtra = ''): string {
  return `listeners:
  - name: public
    address: 127.0.0.1:0${listenerExtra}
routes:
  - name: api
    pool: api
${route}
pools:
  - name: api
    backends:
      - { name: api-1, address: 127.0.0.1:9001 }
`;
}

const ecPublic = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });

let dir = '';
let file = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-auth-config-'));
  file = join(dir, 'tollgate.yaml');
  mkdirSync(join(dir, 'auth'));
  mkdirSync(join(dir, 'tls'));
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2'].concat([
      '-subj',
      '/CN=localhost',
      '-keyout',
      join(dir, 'tls', 'key.pem'),
      '-out',
      join(dir, 'tls', 'cert.pem'),
    ]),
    { stdio: 'ignore' },
  );
  writeFileSync(
    join(dir, 'auth', 'api-keys.yaml'),
    `keys:\n  - { name: billing, sha256: ${sha('k-billing')} }\n  - name: reports\n    sha256: ${sha('k-reports').toUpperCase()}\n`,
  );
  writeFileSync(
    join(dir, 'auth', 'jwks.json'),
    JSON.stringify({ keys: [{ ...ecPublic(), kid: 'k1', alg: 'ES256' }] }),
  );
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(
    join(dir, 'jwks-private.json'),
    JSON.stringify({ keys: [privateKey.export({ format: 'jwk' })] }),
  );
  writeFileSync(
    join(dir, 'jwks-oct.json'),
    JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'h1' }, publicKey.export({ format: 'jwk' })] }),
  );
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
  writeFileSync(join(dir, 'jwks-weak.json'), JSON.stringify({ keys: [{ ...rsa, kid: 'weak' }] }));
  writeFileSync(join(dir, 'jwks-hs.json'), JSON.stringify({ keys: [{ ...ecPublic(), alg: 'HS256' }] }));
  writeFileSync(join(dir, 'not-json.json'), '{ keys: ');
  writeFileSync(
    join(dir, 'bad-keys.yaml'),
    `keys:\n  - { name: a, sha256: abc }\n  - { name: b, sha256: ${sha('x')} }\n  - { name: b, sha256: ${sha('x')} }\n  - { name: c, sha256: ${sha('y')}, role: admin }\n`,
  );
  writeFileSync(join(dir, 'empty-keys.yaml'), '# nothing yet\n');
  writeFileSync(
    join(dir, 'dup-keys.yaml'),
    `keys:\n  - { name: a, sha256: ${sha('x')} }\n  - { name: a, sha256: ${sha('y')} }\n  - { name: c, sha256: ${sha('x').toUpperCase()} }\n`,
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

function problems(text: string): string[] {
  return checkConfigText(text, file).map(formatProblem);
}

describe('route auth and rate_limit: compile', () => {
  test('api_key: the keys file is read relative to the config, digests as bytes, header lower-cased', () => {
    const plan = compileConfigText(
      config('    auth: { type: api_key, header: X-Tenant-Key, keys_file: auth/api-keys.yaml }'),
      file,
    );
    const auth = plan.routes[0]!.auth as ApiKeyAuthPlan;
    assert.equal(auth.type, 'api_key');
    assert.equal(auth.required, true);
    assert.equal(auth.header, 'x-tenant-key');
    assert.equal(auth.keysFile, join(dir, 'auth', 'api-keys.yaml'));
    assert.deepEqual(
      auth.keys.map((k) => [k.name, k.sha256.toString('hex')]),
      [
        ['billing', sha('k-billing')],
        ['reports', sha('k-reports')],
      ],
    );
    assert.equal(plan.routes[0]!.rateLimit, null);
  });

  test('jwt: the JWKS file is read and kept; audience becomes a list; clock_skew in ms', () => {
    const plan = compileConfigText(
      config(
        '    auth: { type: jwt, jwks_file: auth/jwks.json, issuer: https://id.example.test, audience: api, clock_skew: 1m, user_claim: email }',
      ),
      file,
    );
    const auth = plan.routes[0]!.auth as JwtAuthPlan;
    assert.deepEqual(
      [
        auth.required,
        auth.jwksFile,
        auth.jwksUrl,
        auth.issuer,
        auth.audience,
        auth.clockSkewMs,
        auth.userClaim,
      ],
      [true, join(dir, 'auth', 'jwks.json'), null, 'https://id.example.test', ['api'], 60_000, 'email'],
    );
    assert.equal(auth.jwks?.keys[0]?.kid, 'k1');
  });

  test('jwt with jwks_url: defaults apply, nothing is fetched at compile', () => {
    const plan = compileConfigText(
      config('    auth: { type: jwt, required: false, jwks_url: "http://127.0.0.1:1/jwks.json" }'),
      file,
    );
    const auth = plan.routes[0]!.auth as JwtAuthPlan;
    assert.deepEqual(
      [auth.required, auth.jwks, auth.jwksUrl, auth.issuer, auth.audience, auth.clockSkewMs, auth.userClaim],
      [false, null, 'http://127.0.0.1:1/jwks.json', null, null, 30_000, 'sub'],
    );
  });

  test('mtls: user_from defaults to subject_cn', () => {
    const plan = compileConfigText(
      config(
        '    auth: { type: mtls }',
        '\n    tls: { cert: tls/cert.pem, key: tls/key.pem, client_ca: tls/cert.pem }',
      ),
      file,
    );
    assert.deepEqual(plan.routes[0]!.auth, { type: 'mtls', userFrom: 'subject_cn' });
  });

  test('rate_limit: rate per second, burst defaulting to one second of the rate', () => {
    const plan = compileConfigText(
      `${config('    rate_limit: { per: user, rate: 100/s, burst: 200 }')}`.replace(
        'routes:\n',
        'routes:\n  - { name: slow, pool: api, match: { path_prefix: /slow }, rate_limit: { rate: 30/m } }\n  - { name: fast, pool: api, match: { path_prefix: /fast }, rate_limit: { rate: 2.5/s } }\n',
      ),
      file,
    );
    assert.deepEqual(
      plan.routes.map((r) => r.rateLimit),
      [
        { per: 'client_ip', ratePerSecond: 0.5, burst: 1, rateText: '30/m' },
        { per: 'client_ip', ratePerSecond: 2.5, burst: 3, rateText: '2.5/s' },
        { per: 'user', ratePerSecond: 100, burst: 200, rateText: '100/s' },
      ],
    );
  });

  test('the credential headers of jwt and api_key routes are redacted even when redact.headers omits them', () => {
    const text =
      `${config('    auth: { type: api_key, header: X-Tenant-Key, keys_file: auth/api-keys.yaml }')}audit:\n  capture_headers: [x-tenant-key, authorization]\n  redact: { headers: [cookie] }\n`.replace(
        'routes:\n',
        'routes:\n  - { name: web, pool: api, match: { path_prefix: /web }, auth: { type: jwt, jwks_file: auth/jwks.json } }\n',
      );
    const plan = compileConfigText(text, file);
    assert.deepEqual([...plan.audit.redactHeaders].sort(), ['authorization', 'cookie', 'x-tenant-key']);
  });
});

describe('route auth and rate_limit: check', () => {
  const cases: [string, string, (string | RegExp)[]][] = [
    [
      'a missing keys file names the absolute path',
      '    auth: { type: api_key, keys_file: nope.yaml }',
      [`tollgate.yaml:7:39 routes[0].auth.keys_file: cannot read ${join(dir, 'nope.yaml')}: no such file`],
    ],
    [
      'every problem inside a keys file, with its own position',
      '    auth: { type: api_key, keys_file: bad-keys.yaml }',
      [
        /routes\[0\]\.auth\.keys_file: cannot use the keys file: .*bad-keys\.yaml:2:24 keys\[0\]\.sha256: expected the key's SHA-256 as 64 hex digits \(printf %s KEY \| sha256sum\), got "abc"$/,
        /bad-keys\.yaml:5:90 keys\[3\]\.role: unknown key "role"$/,
      ],
    ],
    [
      'duplicate names and duplicate keys in a keys file',
      '    auth: { type: api_key, keys_file: dup-keys.yaml }',
      [
        /dup-keys\.yaml:3:13 keys\[1\]\.name: duplicate key name "a" \(keys\[0\]\)$/,
        /dup-keys\.yaml:4:24 keys\[2\]\.sha256: the same key as keys\[0\] \(one name per key\)$/,
      ],
    ],
    [
      'an empty keys file',
      '    auth: { type: api_key, keys_file: empty-keys.yaml }',
      [/cannot use the keys file: .*empty-keys\.yaml:1:1: the keys file is empty/],
    ],
    [
      'a JWKS file that is not JSON',
      '    auth: { type: jwt, jwks_file: not-json.json }',
      [/routes\[0\]\.auth\.jwks_file: cannot use the key set .*not-json\.json: not JSON \(/],
    ],
    [
      'a JWKS with a private key',
      '    auth: { type: jwt, jwks_file: jwks-private.json }',
      [/keys\[0\] is a private key: the key set must hold public keys only$/],
    ],
    [
      'a JWKS with a symmetric key',
      '    auth: { type: jwt, jwks_file: jwks-oct.json }',
      [/keys\[0\] \(kid "h1"\) is a symmetric \(oct\) key: HMAC tokens \(HS\*\) are not accepted/],
    ],
    [
      'a JWKS with a weak RSA key',
      '    auth: { type: jwt, jwks_file: jwks-weak.json }',
      [/keys\[0\] \(kid "weak"\) is a 1024-bit RSA key; at least 2048 bits$/],
    ],
    [
      'a JWKS key for HS256',
      '    auth: { type: jwt, jwks_file: jwks-hs.json }',
      [/keys\[0\] has alg "HS256"; accepted: RS256, RS384, RS512, ES256, ES384, ES512, EdDSA, Ed25519$/],
    ],
    [
      'jwt with both jwks_file and jwks_url',
      '    auth: { type: jwt, jwks_file: x.json, jwks_url: "https://id.example.test/jwks" }',
      ['tollgate.yaml:7:5 routes[0].auth: jwt auth needs exactly one of jwks_file or jwks_url'],
    ],
    [
      'mtls without any listener asking for client certificates',
      '    auth: { type: mtls, user_from: san_email }',
      [
        'tollgate.yaml:7:19 routes[0].auth.type: mtls auth needs a listener that asks for client certificates, and no listener has tls.client_ca',
      ],
    ],
    [
      'a rate_limit with a bad rate and burst',
      '    rate_limit: { per: everyone, rate: 100, burst: 0 }',
      [
        'tollgate.yaml:7:24 routes[0].rate_limit.per: expected one of client_ip, user, got "everyone"',
        'tollgate.yaml:7:40 routes[0].rate_limit.rate: expected a rate like 100/s or 10/m, got 100',
        'tollgate.yaml:7:52 routes[0].rate_limit.burst: must be at least 1',
      ],
    ],
  ];
  for (const [name, route, expected] of cases) {
    test(name, () => {
      const got = problems(config(route)).map((p) => p.replace(`${file}:`, 'tollgate.yaml:'));
      assert.equal(got.length, expected.length, got.join('\n'));
      expected.forEach((e, i) => {
        if (typeof e === 'string') assert.equal(got[i], e);
        else assert.match(got[i]!, e);
      });
    });
  }
});
