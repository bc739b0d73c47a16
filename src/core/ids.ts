import { randomFillSync } from 'node:crypto';

/**
 * Random ids from a pooled buffer: one `randomFillSync` and one hex conversion per 4 KiB instead
 * of one of each per id; an id is a slice of the pool's hex text. Request ids are 32 hex digits
 * (like a trace id), span ids 16.
 */
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let hex = '';
let offset = POOL_SIZE;

function randomHex(bytes: number): string {
  if (offset + bytes > POOL_SIZE) {
    randomFillSync(pool);
    hex = pool.toString('hex');
    offset = 0;
  }
  const s = hex.slice(offset * 2, (offset + bytes) * 2);
  offset += bytes;
  return s;
}

export function newTraceId(): string {
  return randomHex(16);
}

export function newSpanId(): string {
  return randomHex(8);
}

/** The 12 hex digits of the last millisecond a request id was made in (several ids share one). */
let idMs = -1;
let idPrefix = '';

/**
 * Request ids are 32 hex digits that sort by time: 12 digits of the epoch milliseconds, then 20
 * random ones. Unique like a random id, but each new id lands at the end of the store's
 * request-id index instead of at a random page (B-tree appends, not scattered inserts).
 */
export function newRequestId(): string {
  const now = Date.now();
  if (now !== idMs) {
    idMs = now;
    idPrefix = now.toString(16).padStart(12, '0');
  }
  return idPrefix + randomHex(10);
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

export interface TraceParent {
  traceId: string;
  parentId: string;
  flags: string;
}

/** Parses a W3C `traceparent` (version 00); null when absent or malformed. */
export function parseTraceParent(header: string | undefined): TraceParent | null {
  if (header === undefined || header.length !== 55) return null;
  const m = TRACEPARENT.exec(header);
  if (m === null || m[1] === ZERO_TRACE || m[2] === ZERO_SPAN) return null;
  return { traceId: m[1]!, parentId: m[2]!, flags: m[3]! };
}

export function formatTraceParent(traceId: string, spanId: string, flags: string): string {
  return `00-${traceId}-${spanId}-${flags}`;
}

const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** An incoming X-Request-Id is kept only if it is 1–128 visible ASCII characters. */
export function isValidRequestId(value: string): boolean {
  return REQUEST_ID.test(value);
}
