import type { AttemptOutcome, AttemptView, RequestOutcome, RequestRecordView } from '../core/index.js';
import { isoMicros } from '../core/index.js';
import type { Redaction } from './redact.js';
import { captureHeaders, redactQuery } from './redact.js';

export const REQUEST_SCHEMA = 'tollgate.request/1';

/** A `tollgate.request/1` record (SPEC §3): nested objects, OpenTelemetry / ECS field names. */
export type RequestRecord = RequestRecordView;
export type RecordAttempt = AttemptView;

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
