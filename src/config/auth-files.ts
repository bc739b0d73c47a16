import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { humanErrors, issueFindings } from './issues.js';
import { ConfigSource } from './load.js';
import type { ApiKeyEntry, JwksDocument } from './plan.js';
import type { Finding, PathKey } from './problem.js';
import { describeValue, finding, formatProblem } from './problem.js';
import { fileErrorReason } from './tls-files.js';

/**
 * The files route auth names are read when the config is compiled (like TLS files), so a missing
 * file, a malformed key list or an unusable key is a `check` problem at the config key that names
 * the file; the message points into the file itself (`/abs/api-keys.yaml:4:13 keys[1].sha256: …`).
 */

/** The JWS algorithms route auth accepts: RSA PKCS#1, ECDSA and EdDSA. `none` and HMAC (HS*) never. */
export const JWT_ALGORITHMS: readonly string[] = Object.freeze([
  'RS256',
  'RS384',
  'RS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]);

const keysFileSchema = z.strictObject({
  keys: z.array(
    z.strictObject({
      name: z.string().min(1),
      sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, {
        error: (iss) =>
          `expected the key's SHA-256 as 64 hex digits (printf %s KEY | sha256sum), got ${describeValue(iss.input)}`,
      }),
    }),
  ),
});

/**
 * An API-key file: `keys: [{ name, sha256 }]`, the SHA-256 of each key in hex. Names and keys
 * must be unique. Null (with findings at `path`) when the file cannot be used.
 */
export function loadApiKeys(
  file: string,
  baseDir: string,
  path: readonly PathKey[],
  out: Finding[],
): { keysFile: string; keys: ApiKeyEntry[] } | null {
  const abs = resolve(baseDir, file);
  const text = readText(abs, path, out);
  if (text === null) return null;
  const source = new ConfigSource(text, abs);
  const problems: string[] = source.syntaxProblems.map(formatProblem);
  if (problems.length === 0 && (source.data === null || source.data === undefined)) {
    problems.push(`${abs}:1:1: the keys file is empty (expected keys: [{ name, sha256 }])`);
  }
  let keys: ApiKeyEntry[] = [];
  if (problems.length === 0) {
    const parsed = keysFileSchema.safeParse(source.data, { error: humanErrors, reportInput: true });
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        for (const f of issueFindings(issue, source.data)) problems.push(formatProblem(source.problem(f)));
      }
    } else {
      keys = parsed.data.keys.map((k) => ({ name: k.name, sha256: Buffer.from(k.sha256, 'hex') }));
      const names = new Map<string, number>();
      const digests = new Map<string, number>();
      parsed.data.keys.forEach((k, i) => {
        const sameName = names.get(k.name);
        if (sameName !== undefined) {
          problems.push(
            formatProblem(
              source.problem(
                finding(['keys', i, 'name'], 'value', `duplicate key name "${k.name}" (keys[${sameName}])`),
              ),
            ),
          );
        } else names.set(k.name, i);
        const hex = k.sha256.toLowerCase();
        const sameKey = digests.get(hex);
        if (sameKey !== undefined) {
          problems.push(
            formatProblem(
              source.problem(
                finding(
                  ['keys', i, 'sha256'],
                  'value',
                  `the same key as keys[${sameKey}] (one name per key)`,
                ),
              ),
            ),
          );
        } else digests.set(hex, i);
      });
    }
  }
  if (problems.length > 0) {
    for (const p of problems) out.push(finding(path, 'value', `cannot use the keys file: ${p}`));
    return null;
  }
  return { keysFile: abs, keys };
}

const EC_CURVES = new Set(['P-256', 'P-384', 'P-521']);
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

/**
 * A JWKS file (JSON, `{"keys": [...]}`): every key must be a public RSA (≥ 2048 bits), EC
 * (P-256/384/521) or OKP (Ed25519) signing key that node can import; symmetric keys, private
 * keys and algorithms outside JWT_ALGORITHMS are refused.
 */
export function loadJwks(
  file: string,
  baseDir: string,
  path: readonly PathKey[],
  out: Finding[],
): { jwksFile: string; jwks: JwksDocument } | null {
  const abs = resolve(baseDir, file);
  const text = readText(abs, path, out);
  if (text === null) return null;
  const fail = (message: string) => {
    out.push(finding(path, 'value', `cannot use the key set ${abs}: ${message}`));
    return null;
  };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return fail(`not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const keys = (data as { keys?: unknown } | null)?.keys;
  if (data === null || typeof data !== 'object' || Array.isArray(data) || !Array.isArray(keys)) {
    return fail('expected a JSON Web Key Set: {"keys": [...]}');
  }
  if (keys.length === 0) return fail('the key set has no keys');
  const problems: string[] = [];
  keys.forEach((key: unknown, i) => {
    const problem = jwkProblem(key);
    if (problem !== null) {
      const kid = (key as { kid?: unknown } | null)?.kid;
      problems.push(`keys[${i}]${typeof kid === 'string' ? ` (kid "${kid}")` : ''} ${problem}`);
    }
  });
  if (problems.length > 0) {
    for (const p of problems) fail(p);
    return null;
  }
  return { jwksFile: abs, jwks: data as JwksDocument };
}

function jwkProblem(key: unknown): string | null {
  if (key === null || typeof key !== 'object' || Array.isArray(key)) return 'is not a JSON object';
  const jwk = key as Record<string, unknown>;
  const kty = jwk.kty;
  if (kty === 'oct')
    return 'is a symmetric (oct) key: HMAC tokens (HS*) are not accepted, publish a public key';
  if (kty !== 'RSA' && kty !== 'EC' && kty !== 'OKP') {
    return `has kty ${describeValue(kty)}; expected RSA, EC or OKP`;
  }
  if (PRIVATE_MEMBERS.some((m) => m in jwk))
    return 'is a private key: the key set must hold public keys only';
  if (jwk.alg !== undefined && !JWT_ALGORITHMS.includes(String(jwk.alg))) {
    return `has alg ${describeValue(jwk.alg)}; accepted: ${JWT_ALGORITHMS.join(', ')}`;
  }
  if (jwk.use !== undefined && jwk.use !== 'sig') return `has use ${describeValue(jwk.use)}; expected "sig"`;
  if (kty === 'EC' && !EC_CURVES.has(String(jwk.crv))) {
    return `has crv ${describeValue(jwk.crv)}; expected P-256, P-384 or P-521`;
  }
  if (kty === 'OKP' && jwk.crv !== 'Ed25519') return `has crv ${describeValue(jwk.crv)}; expected Ed25519`;
  try {
    const imported = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    const bits = imported.asymmetricKeyDetails?.modulusLength;
    if (kty === 'RSA' && bits !== undefined && bits < 2048)
      return `is a ${bits}-bit RSA key; at least 2048 bits`;
  } catch (err) {
    return `cannot be imported: ${err instanceof Error ? err.message : String(err)}`;
  }
  return null;
}

function readText(abs: string, path: readonly PathKey[], out: Finding[]): string | null {
  try {
    return readFileSync(abs, 'utf8');
  } catch (err) {
    out.push(finding(path, 'value', `cannot read ${abs}: ${fileErrorReason(err)}`));
    return null;
  }
}
