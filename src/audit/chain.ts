import type { KeyObject } from 'node:crypto';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  hash,
  sign,
  verify as verifySignature,
} from 'node:crypto';

/**
 * The tamper-evident chain: `hash_n = SHA-256(hash_{n-1} ‖ canonical(record_n))`, from a genesis
 * of 64 zeros. The canonical form of a record is its JSON text as Tollgate writes it, with
 * `tollgate.chain.seq` set to its position and `tollgate.chain.hash` null — so a record moved
 * to another position no longer matches its own seq, and any changed byte changes its hash.
 * Every record line ends with the chain placeholder `"chain":{"seq":null,"hash":null}}}`.
 */
export const GENESIS = '0'.repeat(64);
const PLACEHOLDER = '"chain":{"seq":null,"hash":null}}}';

/** The canonical text of a record at position `seq`. Throws if the line has no chain placeholder. */
export function sealLine(line: string, seq: number): string {
  if (!line.endsWith(PLACEHOLDER)) throw new Error('record line does not end with the chain placeholder');
  return `${line.slice(0, line.length - PLACEHOLDER.length)}"chain":{"seq":${seq},"hash":null}}}`;
}

/** The record as shown to readers: its canonical text with the hash filled in. */
export function withHash(canonical: string, hash: string): string {
  const tail = '"hash":null}}}';
  return `${canonical.slice(0, canonical.length - tail.length)}"hash":"${hash}"}}}`;
}

/** The canonical text back from a record shown with its hash (null when it does not end like one). */
export function withoutHash(shown: string): { canonical: string; hash: string } | null {
  const m = /"hash":"([0-9a-f]{64})"\}\}\}$/.exec(shown);
  if (m === null) return null;
  return { canonical: `${shown.slice(0, m.index)}"hash":null}}}`, hash: m[1]! };
}

/** The bytes hashed for one link, reused: previous hash (32 bytes) then the record's UTF-8. */
let scratch = Buffer.allocUnsafe(16 * 1024);

export function chainHash(previous: string, canonical: string): string {
  // One-shot hash over one buffer: ~2× cheaper per record than a Hash object fed twice.
  const need = 32 + canonical.length * 3; // UTF-8 takes at most 3 bytes per UTF-16 unit
  if (scratch.length < need) scratch = Buffer.allocUnsafe(Math.max(need, scratch.length * 2));
  if (previous.length === 64 && scratch.write(previous, 0, 'hex') === 32) {
    const n = scratch.write(canonical, 32, 'utf8');
    return hash('sha256', scratch.subarray(0, 32 + n), 'hex');
  }
  // not 64 hex digits (a damaged anchor or row): hash exactly what Node's hex decoding yields
  return createHash('sha256').update(previous, 'hex').update(canonical, 'utf8').digest('hex');
}

/** The seq a canonical record says it has (null when it cannot be read). */
export function embeddedSeq(canonical: string): number | null {
  const at = canonical.lastIndexOf('"chain":{"seq":');
  if (at === -1) return null;
  const n = Number.parseInt(canonical.slice(at + 15), 10);
  return Number.isFinite(n) ? n : null;
}

/**
 * Signed statements "the chain had hash H at seq N (at time T)". Checkpoints and retention
 * anchors sign different texts (`tollgate.checkpoint/1 …`, `tollgate.anchor/1 …`), so one
 * cannot be replayed as the other.
 */
type Statement = 'checkpoint' | 'anchor';

export function statementText(kind: Statement, seq: number, hash: string, ts: number): Buffer {
  return Buffer.from(`tollgate.${kind}/1 ${seq} ${hash} ${ts}`);
}

function signStatement(
  kind: Statement,
  privateKeyPem: string | KeyObject,
  seq: number,
  hash: string,
  ts: number,
): string {
  const key = typeof privateKeyPem === 'string' ? createPrivateKey(privateKeyPem) : privateKeyPem;
  return sign(null, statementText(kind, seq, hash, ts), key).toString('base64');
}

function verifyStatement(
  kind: Statement,
  publicKeyPem: string | KeyObject,
  seq: number,
  hash: string,
  ts: number,
  signature: string,
): boolean {
  try {
    const key = typeof publicKeyPem === 'string' ? createPublicKey(publicKeyPem) : publicKeyPem;
    return verifySignature(null, statementText(kind, seq, hash, ts), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

export const signCheckpoint = (key: string | KeyObject, seq: number, hash: string, ts: number): string =>
  signStatement('checkpoint', key, seq, hash, ts);
export const verifyCheckpoint = (
  key: string | KeyObject,
  seq: number,
  hash: string,
  ts: number,
  signature: string,
): boolean => verifyStatement('checkpoint', key, seq, hash, ts, signature);
export const signAnchor = (key: string | KeyObject, seq: number, hash: string, ts: number): string =>
  signStatement('anchor', key, seq, hash, ts);
export const verifyAnchor = (
  key: string | KeyObject,
  seq: number,
  hash: string,
  ts: number,
  signature: string,
): boolean => verifyStatement('anchor', key, seq, hash, ts, signature);
