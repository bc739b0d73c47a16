import type { ServerResponse } from 'node:http';
import type { Termination } from '../core/index.js';

/**
 * Responses Tollgate writes itself, one per termination: a small JSON body naming the
 * termination, the diagnostic and the request id, so a client can quote it to an operator.
 * `extraHeaders` (name, value, name, value…) carries what a termination adds: `WWW-Authenticate`
 * on a 401, `Retry-After` on a 429.
 */
export function writeLocalReply(
  res: ServerResponse,
  status: number,
  termination: Termination,
  message: string,
  requestId: string,
  isHead: boolean,
  extraHeaders: readonly string[] | null = null,
): number {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return 0;
  }
  const body = JSON.stringify({ error: termination, message, request_id: requestId });
  const headers = [
    'content-type',
    'application/json',
    'content-length',
    String(Buffer.byteLength(body)),
    'cache-control',
    'no-store',
    'x-request-id',
    requestId,
  ];
  if (extraHeaders !== null) headers.push(...extraHeaders);
  res.writeHead(status, headers);
  if (isHead) {
    res.end();
    return 0;
  }
  res.end(body);
  return Buffer.byteLength(body);
}

/** Bytes of the body `writeLocalReply` would write. */
export function localReplySize(
  termination: Termination,
  message: string,
  requestId: string,
  isHead: boolean,
): number {
  return isHead
    ? 0
    : Buffer.byteLength(JSON.stringify({ error: termination, message, request_id: requestId }));
}

/** The same reply written straight onto a socket (client errors, refused upgrades). */
export function rawLocalReply(
  status: number,
  reason: string,
  termination: Termination,
  message: string,
  requestId: string | null,
  extraHeaders: readonly string[] | null = null,
): string {
  const body = JSON.stringify({ error: termination, message, request_id: requestId });
  let extra = '';
  if (extraHeaders !== null) {
    for (let i = 0; i + 1 < extraHeaders.length; i += 2)
      extra += `${extraHeaders[i]}: ${extraHeaders[i + 1]}\r\n`;
  }
  return (
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
    `${requestId === null ? '' : `x-request-id: ${requestId}\r\n`}${extra}connection: close\r\n\r\n${body}`
  );
}
