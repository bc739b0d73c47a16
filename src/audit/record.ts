import type { AttemptOutcome, RequestOutcome } from '../core/index.js';
import { isoMicros } from '../core/index.js';
import type { Redaction } from './redact.js';
import { captureHeaders, redactQuery } from './redact.js';

export const REQUEST_SCHEMA = 'tollgate.request/1';

/** A `tollgate.request/1` record (SPEC §3): nested objects, OpenTelemetry / ECS field names. */
export interface RequestRecord {
  schema: typeof REQUEST_SCHEMA;
  '@timestamp': string;
  event: { start: string; end: string; duration: number };
  http: {
    request: { id: string; method: string; header: Record<string, string>; body: { size: number } };
    response: { status_code: number; body: { size: number } };
  };
  trace: { id: string };
  span: { id: string };
  client: { address: string; port: number | null };
  network: { peer: { address: string; port: number | null } };
  user_agent: { original: string | null };
  url: { path: string; query: string | null };
  server: { address: string | null; port: number | null };
  tls: { protocol: { version: string | null }; cipher: string | null; server_name: string | null };
  user: { name: string | null };
  error: { type: string | null; message: string | null };
  tollgate: {
    identity: { method: string };
    listener: string;
    route: string | null;
    pool: string | null;
    owner: string | null;
    tags: Record<string, string> | null;
    backend: { name: string | null; address: string | null };
    upstream: { status_code: number | null };
    timings: {
      queue: number | null;
      connect: number | null;
      upstream_headers: number | null;
      upstream_total: number | null;
    };
    attempts: RecordAttempt[];
    termination: string;
    upgrade: boolean;
    /** Tollgate's own canary request (audit.canary). */
    canary: boolean;
    instance: string;
    chain: { seq: number | null; hash: string | null };
  };
}

export interface RecordAttempt {
  backend: string;
  address: string;
  start: string;
  connect_ms: number | null;
  duration_ms: number | null;
  status_code: number | null;
  termination: string;
  error: string | null;
}

function round3(n: number | null): number | null {
  return n === null ? null : Math.round(n * 1000) / 1000;
}

function attempt(a: AttemptOutcome): RecordAttempt {
  return {
    backend: a.backend,
    address: a.address,
    start: isoMicros(a.start),
    connect_ms: round3(a.connectMs),
    duration_ms: round3(a.durationMs),
    status_code: a.statusCode,
    termination: a.termination,
    error: a.error,
  };
}

/** Builds the record of one request: redacted, with every field present (null where not applicable). */
export function buildRequestRecord(o: RequestOutcome, redaction: Redaction, instance: string): RequestRecord {
  const tls = o.tls;
  const end = isoMicros(o.endMs);
  return {
    schema: REQUEST_SCHEMA,
    '@timestamp': end,
    event: {
      start: isoMicros(o.startMs),
      end,
      duration: Math.max(0, Math.round((o.endMs - o.startMs) * 1e6)),
    },
    http: {
      request: {
        id: o.requestId,
        method: o.method,
        header: captureHeaders(o.requestHeaders, redaction),
        body: { size: o.requestBodySize },
      },
      response: { status_code: o.statusCode, body: { size: o.responseBodySize } },
    },
    trace: { id: o.traceId },
    span: { id: o.spanId },
    client: { address: o.clientAddress, port: o.clientPort },
    network: { peer: { address: o.peerAddress, port: o.peerPort } },
    user_agent: { original: o.userAgent },
    url: { path: o.path, query: redactQuery(o.query, redaction.redactQueryParams) },
    server: { address: o.serverAddress, port: o.serverPort },
    tls: {
      protocol: { version: tls === null ? null : tls.protocol },
      cipher: tls === null ? null : tls.cipher,
      server_name: tls === null ? null : tls.serverName,
    },
    user: { name: o.userName },
    error: { type: o.termination === 'ok' ? null : o.termination, message: o.errorMessage },
    tollgate: {
      identity: { method: o.identityMethod },
      listener: o.listener,
      route: o.route,
      pool: o.pool,
      owner: o.owner,
      tags: o.tags === null ? null : { ...o.tags },
      backend: { name: o.backendName, address: o.backendAddress },
      upstream: { status_code: o.upstreamStatus },
      timings: {
        queue: round3(o.timings.queue),
        connect: round3(o.timings.connect),
        upstream_headers: round3(o.timings.upstreamHeaders),
        upstream_total: round3(o.timings.upstreamTotal),
      },
      attempts: o.attempts.map(attempt),
      termination: o.termination,
      upgrade: o.upgraded,
      canary: o.canary,
      instance,
      chain: { seq: null, hash: null },
    },
  };
}
