import type { KeyObject } from 'node:crypto';
import { createHash, createPrivateKey, createPublicKey, sign, verify as verifySignature } from 'node:crypto';

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

export function chainHash(previous: string, canonical: string): string {
  return createHash('sha256').update(previous, 'hex').update(canonical, 'utf8').digest('hex');
}

/** The seq a canonical record says it has (null when it cannot be read). */
export function embeddedSeq(canonical: string): number | null {
  const at = canonical.lastIndexOf('"chain":{"seq":');
  if (at === -1) return null;
  const n = Number.parseInt(canonical.slice(at + 15), 10);
  return Number.isFinite(n) ? n : null;
}

/** The text a retention anchor's signature covers (distinct from a checkpoint's, so one cannot pass for the other). */
export function anchorMessage(seq: number, hash: string, ts: number): Buffer {
  return Buffer.from(`tollgate.anchor/1 ${seq} ${hash} ${ts}`);
}

export function signAnchor(privateKeyPem: string | KeyObject, seq: number, hash: string, ts: number): string {
  const key = typeof privateKeyPem === 'string' ? createPrivateKey(privateKeyPem) : privateKeyPem;
  return sign(null, anchorMessage(seq, hash, ts), key).toString('base64');
}

export function verifyAnchor(
  publicKeyPem: string | KeyObject,
  seq: number,
  hash: string,
  ts: number,
  signature: string,
): boolean {
  const key = typeof publicKeyPem === 'string' ? createPublicKey(publicKeyPem) : publicKeyPem;
  try {
    return verifySignature(null, anchorMessage(seq, hash, ts), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** The text a checkpoint signature covers. */
export function checkpointMessage(seq: number, hash: string, ts: number): Buffer {
  return Buffer.from(`tollgate.checkpoint/1 ${seq} ${hash} ${ts}`);
}

export function signCheckpoint(
  privateKeyPem: string | KeyObject,
  seq: number,
  hash: string,
  ts: number,
): string {
  const key = typeof privateKeyPem === 'string' ? createPrivateKey(privateKeyPem) : privateKeyPem;
  return sign(null, checkpointMessage(seq, hash, ts), key).toString('base64');
}

export function verifyCheckpoint(
  publicKeyPem: string | KeyObject,
  seq: number,
  hash: string,
  ts: number,
  signature: string,
): boolean {
  const key = typeof publicKeyPem === 'string' ? createPublicKey(publicKeyPem) : publicKeyPem;
  try {
    return verifySignature(null, checkpointMessage(seq, hash, ts), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
