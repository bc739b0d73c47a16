import type { JWTPayload, JWTVerifyGetKey, JWTVerifyOptions } from 'jose';
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import type { JwtAuthPlan } from '../config/index.js';
import { JWT_ALGORITHMS } from '../config/index.js';
import type { Clock } from '../core/index.js';
import { formatDuration } from '../core/index.js';
import type {
  AuthDone,
  Authenticator,
  AuthenticatorOptions,
  AuthSubject,
  AuthVerdict,
} from './authenticator.js';
import { anonymous, identified, quote, refuse } from './authenticator.js';

/**
 * `auth: { type: jwt }`: a Bearer token in `Authorization`, verified with jose against the keys
 * of `jwks_file` (read and checked at compile time) or `jwks_url` (fetched by jose, cached, and
 * refetched when a token names an unknown key id). Only asymmetric algorithms are accepted
 * (JWT_ALGORITHMS: never `none`, never HS*). `exp` and `nbf` are checked against the injected
 * clock with `clock_skew` of tolerance; `iss` and `aud` when configured. `user.name` is the
 * `user_claim` (default `sub`); a valid token without it is `forbidden`.
 *
 * Every refusal names one reason, and never the token: missing token, malformed token, bad
 * signature, unknown key id, expired, not yet valid, wrong issuer, wrong audience, algorithm
 * not accepted, or a key set that cannot be fetched.
 */
const INVALID = 'Bearer error="invalid_token"';
const MISSING = 'Bearer';

export class JwtAuthenticator implements Authenticator {
  readonly type = 'jwt';
  readonly #plan: JwtAuthPlan;
  readonly #keys: JWTVerifyGetKey;
  readonly #clock: Clock;
  readonly #issuer: string | undefined;
  readonly #audience: string[] | undefined;
  readonly #skewSeconds: number;
  readonly #keySource: string;

  constructor(plan: JwtAuthPlan, options: AuthenticatorOptions) {
    this.#plan = plan;
    this.#clock = options.clock;
    this.#keys =
      plan.jwks !== null
        ? createLocalJWKSet(plan.jwks as Parameters<typeof createLocalJWKSet>[0])
        : createRemoteJWKSet(new URL(plan.jwksUrl!));
    this.#issuer = plan.issuer ?? undefined;
    this.#audience = plan.audience === null ? undefined : [...plan.audience];
    this.#skewSeconds = plan.clockSkewMs / 1000;
    this.#keySource = plan.jwksUrl ?? plan.jwksFile ?? 'the key set';
  }

  authenticate(subject: AuthSubject, done: AuthDone): AuthVerdict | 'pending' {
    const header = subject.req.headers.authorization;
    const token = header === undefined ? null : bearerToken(header);
    if (token === null) {
      if (!this.#plan.required) return anonymous(subject);
      return refuse(
        subject,
        'auth_failed',
        header === undefined
          ? 'missing token: no Authorization header (expected Authorization: Bearer <JWT>)'
          : 'missing token: the Authorization header does not carry a Bearer token',
        MISSING,
      );
    }
    if (token === '')
      return refuse(subject, 'auth_failed', 'malformed token: the Bearer token is empty', INVALID);
    void this.#verify(subject, token, done);
    return 'pending';
  }

  async #verify(subject: AuthSubject, token: string, done: AuthDone): Promise<void> {
    let verdict: AuthVerdict;
    try {
      const payload = await verifyToken(token, this.#keys, {
        algorithms: JWT_ALGORITHMS as string[],
        issuer: this.#issuer,
        audience: this.#audience,
        clockTolerance: this.#skewSeconds,
        currentDate: new Date(this.#clock.now()),
      });
      verdict = this.#identify(subject, payload);
    } catch (err) {
      let reason: string;
      try {
        reason = this.#reason(err, token);
      } catch {
        reason = 'invalid JWT'; // a reason that cannot be described is still a refusal, never a rejection
      }
      verdict = refuse(subject, 'auth_failed', reason, INVALID);
    }
    done(subject, verdict);
  }

  #identify(subject: AuthSubject, payload: JWTPayload): AuthVerdict {
    const claim = this.#plan.userClaim;
    const value = payload[claim];
    if ((typeof value === 'string' && value !== '') || typeof value === 'number') {
      return identified(subject, 'jwt', String(value));
    }
    return refuse(
      subject,
      'forbidden',
      `the JWT is valid but its "${claim}" claim (user_claim) is ${value === undefined ? 'missing' : 'not a text'}, so the user cannot be named`,
      null,
    );
  }

  /** One specific reason for a failed verification, without the token. */
  #reason(err: unknown, token: string): string {
    const code = (err as { code?: string } | null)?.code;
    const payload = (err as { payload?: JWTPayload }).payload;
    const skew = `clock_skew ${formatDuration(this.#plan.clockSkewMs)}`;
    switch (code) {
      case 'ERR_JWT_EXPIRED':
        return `invalid JWT: expired at ${isoSeconds(payload?.exp)} (${skew})`;
      case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
        const { claim, reason } = err as errors.JWTClaimValidationFailed;
        if (reason === 'invalid') return `malformed token: the "${claim}" claim is not a number`;
        if (claim === 'nbf')
          return `invalid JWT: not yet valid, nbf is ${isoSeconds(payload?.nbf)} (${skew})`;
        if (claim === 'iss') {
          return `invalid JWT: wrong issuer ${reason === 'missing' ? '(no "iss" claim)' : quote(payload?.iss)}, expected ${quote(this.#plan.issuer)}`;
        }
        if (claim === 'aud') {
          const aud = payload?.aud;
          const got = Array.isArray(aud)
            ? `[${aud
                .slice(0, 5)
                .map((a) => quote(a))
                .join(', ')}]`
            : quote(aud);
          return `invalid JWT: wrong audience ${reason === 'missing' ? '(no "aud" claim)' : got}, expected ${this.#plan.audience!.map((a) => quote(a)).join(' or ')}`;
        }
        return `invalid JWT: the "${claim}" claim was refused (${reason})`;
      }
      case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
        return `invalid JWT: bad signature${kidText(token)} (not signed by a key of ${this.#keySource})`;
      case 'ERR_JWKS_NO_MATCHING_KEY':
        return `invalid JWT: unknown key id${kidText(token)}: no key of ${this.#keySource} matches it and its algorithm`;
      case 'ERR_JOSE_NOT_SUPPORTED':
        return `invalid JWT: ${(err as Error).message}`;
      case 'ERR_JOSE_ALG_NOT_ALLOWED':
        return `invalid JWT: algorithm ${quote(headerOf(token)?.alg ?? '?')} is not accepted (accepted: ${JWT_ALGORITHMS.join(', ')})`;
      case 'ERR_JWS_INVALID':
      case 'ERR_JWT_INVALID':
        return `malformed token: ${(err as Error).message}`;
      case 'ERR_JWKS_TIMEOUT':
        return `JWT not verified: the key set at ${this.#keySource} did not answer in time`;
      case 'ERR_JWKS_INVALID':
        return `JWT not verified: the key set at ${this.#keySource} is not a usable JSON Web Key Set`;
      default:
        if (err instanceof errors.JOSEError) return `JWT not verified: ${err.message} (${this.#keySource})`;
        return `JWT not verified: cannot use the key set at ${this.#keySource} (${causeText(err)})`;
    }
  }
}

export function createJwtAuthenticator(plan: JwtAuthPlan, options: AuthenticatorOptions): Authenticator {
  return new JwtAuthenticator(plan, options);
}

/**
 * jwtVerify; when the key set has several keys that fit a token without `kid`, each is tried
 * (jose hands them over through the error) before the signature is called bad.
 */
async function verifyToken(
  token: string,
  keys: JWTVerifyGetKey,
  options: JWTVerifyOptions,
): Promise<JWTPayload> {
  try {
    return (await jwtVerify(token, keys, options)).payload;
  } catch (err) {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
    for await (const key of err) {
      try {
        return (await jwtVerify(token, key, options)).payload;
      } catch (e) {
        if (!(e instanceof errors.JWSSignatureVerificationFailed)) throw e;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}

/** The token of `Authorization: Bearer <token>`; null when the header uses another scheme. */
function bearerToken(header: string): string | null {
  if (header.length < 6 || header.slice(0, 6).toLowerCase() !== 'bearer') return null;
  if (header.length === 6) return '';
  const sep = header.charCodeAt(6);
  if (sep !== 32 && sep !== 9) return null;
  return header.slice(7).trim();
}

function headerOf(token: string): { alg?: string; kid?: string } | null {
  try {
    return decodeProtectedHeader(token);
  } catch {
    return null;
  }
}

function kidText(token: string): string {
  const kid = headerOf(token)?.kid;
  return typeof kid === 'string' ? ` (kid ${quote(kid)})` : ' (the token names no kid)';
}

function isoSeconds(epochSeconds: unknown): string {
  return typeof epochSeconds === 'number' && Number.isFinite(epochSeconds)
    ? new Date(epochSeconds * 1000).toISOString().replace('.000Z', 'Z')
    : '?';
}

function causeText(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } } | null)?.cause;
  if (cause?.code !== undefined) return cause.code;
  if (cause?.message !== undefined) return cause.message;
  return err instanceof Error ? err.message : String(err);
}
