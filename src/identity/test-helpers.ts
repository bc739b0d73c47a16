import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { CryptoKey, JWK, JWTPayload } from 'jose';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { ApiKeyAuthPlan, JwtAuthPlan, MtlsAuthPlan } from '../config/index.js';
import type { IdentityMethod } from '../core/index.js';
import type { Authenticator, AuthSubject, AuthVerdict } from './authenticator.js';

/** A request as an authenticator sees it, with the fields it writes. */
export class TestSubject implements AuthSubject {
  readonly req: { headers: IncomingHttpHeaders; socket: Socket };
  userName: string | null = null;
  identityMethod: IdentityMethod = 'anonymous';
  errorMessage: string | null = null;
  challenge: string | null = null;
  constructor(headers: IncomingHttpHeaders = {}, socket: Partial<Socket> | object = {}) {
    this.req = { headers, socket: socket as Socket };
  }
}

export interface Answer {
  verdict: AuthVerdict;
  /** Whether the verdict came through `done` (after `pending`). */
  late: boolean;
  /** How many times `done` was called (checked a tick after the answer). */
  doneCalls: number;
  /** `done` was called before `authenticate` returned. */
  syncDone: boolean;
}

/** Runs one authentication to its verdict, however the authenticator answers. */
export async function authenticate(auth: Authenticator, subject: AuthSubject): Promise<Answer> {
  let doneCalls = 0;
  let returned = false;
  let syncDone = false;
  let resolveLate: (v: AuthVerdict) => void = () => {};
  const late = new Promise<AuthVerdict>((r) => {
    resolveLate = r;
  });
  const first = auth.authenticate(subject, (s, verdict) => {
    if (s !== subject) throw new Error('done called with another subject');
    doneCalls++;
    if (!returned) syncDone = true;
    resolveLate(verdict);
  });
  returned = true;
  const verdict = first === 'pending' ? await late : first;
  await new Promise((r) => setTimeout(r, 5));
  return { verdict, late: first === 'pending', doneCalls, syncDone };
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function apiKeyPlan(keys: Record<string, string>, over: Partial<ApiKeyAuthPlan> = {}): ApiKeyAuthPlan {
  return {
    type: 'api_key',
    required: true,
    header: 'x-api-key',
    keysFile: '/test/api-keys.yaml',
    keys: Object.entries(keys).map(([name, key]) => ({ name, sha256: Buffer.from(sha256Hex(key), 'hex') })),
    ...over,
  };
}

export function mtlsPlan(userFrom: MtlsAuthPlan['userFrom'] = 'subject_cn'): MtlsAuthPlan {
  return { type: 'mtls', userFrom };
}

/** A TLS socket as node presents it after a handshake that asked for a client certificate. */
export function tlsSocket(
  cert: object,
  authorized: boolean,
  authorizationError: string | null = null,
): object {
  return { getPeerCertificate: () => cert, authorized, authorizationError };
}

/** A signing key pair with its public JWK (kid and alg set) for JWT tests. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

export async function signingKey(kid: string, alg = 'ES256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, jwk };
}

export const ISSUER = 'https://id.example.test';
export const AUDIENCE = 'api';

/** A JWT signed by `key`, with iss, aud, sub and a 10-minute exp around `nowS` unless overridden. */
export async function token(
  key: SigningKey,
  claims: JWTPayload = {},
  options: { nowS?: number; kid?: string | null } = {},
): Promise<string> {
  const nowS = options.nowS ?? Math.floor(Date.now() / 1000);
  const header: { alg: string; kid?: string } = { alg: key.alg };
  if (options.kid !== null) header.kid = options.kid ?? key.kid;
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'alice', iat: nowS, exp: nowS + 600, ...claims })
    .setProtectedHeader(header)
    .sign(key.privateKey);
}

export function jwtPlan(keys: readonly SigningKey[] | string, over: Partial<JwtAuthPlan> = {}): JwtAuthPlan {
  return {
    type: 'jwt',
    required: true,
    jwks: typeof keys === 'string' ? null : { keys: keys.map((k) => k.jwk as Record<string, unknown>) },
    jwksFile: typeof keys === 'string' ? null : '/test/jwks.json',
    jwksUrl: typeof keys === 'string' ? keys : null,
    issuer: ISSUER,
    audience: [AUDIENCE],
    clockSkewMs: 30_000,
    userClaim: 'sub',
    ...over,
  };
}
