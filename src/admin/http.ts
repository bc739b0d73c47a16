import type { IncomingMessage, ServerResponse } from 'node:http';

/** A refusal the API answers with: status, a short machine code and a sentence a person can act on. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  readonly details: unknown;
  /** For a refused token that has a name (revoked, expired): who tried, for the call's event. */
  actor: string | null = null;

  constructor(
    status: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
    details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.headers = headers;
    this.details = details;
  }
}

/** What a handler answers; the server writes it and records the call. */
export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** For changes: the before/after difference, recorded on the call's admin event. */
  diff?: unknown;
  /** Extra facts for the call's admin event. */
  labels?: Record<string, string | number | boolean | null>;
  /** The handler wrote the response itself (the event stream). */
  streamed?: boolean;
}

export function ok(body: unknown, extra: Partial<Reply> = {}): Reply {
  return { status: 200, body, ...extra };
}

/** Largest request body the API reads (a config file is far smaller). */
export const MAX_BODY_BYTES = 1024 * 1024;

export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new ApiError(413, 'too_large', `the request body is larger than ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readBody(req);
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError(400, 'bad_request', 'the request body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new ApiError(400, 'bad_request', 'the request body must be a JSON object');
  return value as Record<string, unknown>;
}

export function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = typeof body === 'string' ? body : `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}
