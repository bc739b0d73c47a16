import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { TlsPlan } from './plan.js';
import type { Finding, PathKey } from './problem.js';
import { finding } from './problem.js';

/**
 * TLS material is read when the config is compiled, so a missing file or a key that does not
 * match its certificate is a `check` problem rather than a failure at listen time.
 */
export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly client_ca?: string | undefined;
}

export function loadTls(
  files: TlsFiles,
  baseDir: string,
  path: readonly PathKey[],
  out: Finding[],
): TlsPlan | null {
  const read = (key: keyof TlsFiles): Buffer | null => {
    const file = files[key];
    if (file === undefined) return null;
    const abs = resolve(baseDir, file);
    try {
      return readFileSync(abs);
    } catch (err) {
      out.push(finding([...path, key], 'value', `cannot read ${abs}: ${fileErrorReason(err)}`));
      return null;
    }
  };
  const cert = read('cert');
  const key = read('key');
  const clientCa = read('client_ca');
  if (cert === null || key === null || (files.client_ca !== undefined && clientCa === null)) return null;
  try {
    createSecureContext({ cert, key, ...(clientCa === null ? {} : { ca: clientCa }) });
  } catch (err) {
    out.push(finding(path, 'key', `cannot use these TLS files: ${tlsErrorReason(err)}`));
    return null;
  }
  return { cert, key, clientCa };
}

/** A file system error as a short reason: "no such file", "permission denied", … */
export function fileErrorReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

function tlsErrorReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // OpenSSL messages look like "error:05800074:x509 certificate routines::key values mismatch".
  const reason = message.replace(/^error:[0-9A-F]+:[^:]*:[^:]*:/i, '');
  if (/no start line|no_start_line/i.test(reason)) return 'a file is not in PEM format';
  if (/key values mismatch/i.test(reason)) return 'the key does not match the certificate';
  return reason;
}
