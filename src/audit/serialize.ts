import type { AttemptOutcome, RequestOutcome } from '../core/index.js';
import { isoMicros } from '../core/index.js';
import type { Redaction } from './redact.js';
import { captureHeaders, redactQuery } from './redact.js';

/**
 * The schema-specific writer of `tollgate.request/1` (DESIGN rule 3; pino's idea): the JSON text
 * of a record straight from the outcome, in one pass of string concatenation, without building
 * the nested record object first. It must produce exactly `JSON.stringify(buildRequestRecord(…))`;
 * serialize.test.ts holds it to that.
 */
const str = JSON.stringify as (s: string) => string;

function s(v: string | null): string {
  return v === null ? 'null' : str(v);
}

function n(v: number | null): string {
  return v === null ? 'null' : String(v);
}

function ms(v: number | null): string {
  return v === null ? 'null' : String(Math.round(v * 1000) / 1000);
}

function stringMap(m: Readonly<Record<string, string>>): string {
  let out = '{';
  let first = true;
  for (const k in m) {
    out += `${first ? '' : ','}${str(k)}:${str(m[k]!)}`;
    first = false;
  }
  return `${out}}`;
}

function attempt(a: AttemptOutcome): string {
  return (
    `{"backend":${str(a.backend)},"address":${str(a.address)},"start":"${isoMicros(a.start)}","connect_ms":${ms(a.connectMs)},` +
    `"duration_ms":${ms(a.durationMs)},"status_code":${n(a.statusCode)},"termination":"${a.termination}","error":${s(a.error)}}`
  );
}

export function serializeRequestRecord(o: RequestOutcome, redaction: Redaction, instance: string): string {
  const end = isoMicros(o.endMs);
  const tls = o.tls;
  let attempts = '';
  for (let i = 0; i < o.attempts.length; i++) attempts += (i === 0 ? '' : ',') + attempt(o.attempts[i]!);
  const t = o.timings;
  return (
    `{"schema":"tollgate.request/1","@timestamp":"${end}",` +
    `"event":{"start":"${isoMicros(o.startMs)}","end":"${end}","duration":${Math.max(0, Math.round((o.endMs - o.startMs) * 1e6))}},` +
    `"http":{"request":{"id":${str(o.requestId)},"method":${str(o.method)},"header":${stringMap(captureHeaders(o.requestHeaders, redaction))},` +
    `"body":{"size":${o.requestBodySize}}},"response":{"status_code":${o.statusCode},"body":{"size":${o.responseBodySize}}}},` +
    `"trace":{"id":"${o.traceId}"},"span":{"id":"${o.spanId}"},` +
    `"client":{"address":${str(o.clientAddress)},"port":${n(o.clientPort)}},` +
    `"network":{"peer":{"address":${str(o.peerAddress)},"port":${n(o.peerPort)}}},` +
    `"user_agent":{"original":${s(o.userAgent)}},` +
    `"url":{"path":${str(o.path)},"query":${s(redactQuery(o.query, redaction.redactQueryParams))}},` +
    `"server":{"address":${s(o.serverAddress)},"port":${n(o.serverPort)}},` +
    `"tls":{"protocol":{"version":${s(tls === null ? null : tls.protocol)}},"cipher":${s(tls === null ? null : tls.cipher)},` +
    `"server_name":${s(tls === null ? null : tls.serverName)}},` +
    `"user":{"name":${s(o.userName)}},` +
    `"error":{"type":${o.termination === 'ok' ? 'null' : `"${o.termination}"`},"message":${s(o.errorMessage)}},` +
    `"tollgate":{"identity":{"method":${str(o.identityMethod)}},"listener":${str(o.listener)},"route":${s(o.route)},` +
    `"pool":${s(o.pool)},"owner":${s(o.owner)},"tags":${o.tags === null ? 'null' : stringMap(o.tags)},` +
    `"backend":{"name":${s(o.backendName)},"address":${s(o.backendAddress)}},"upstream":{"status_code":${n(o.upstreamStatus)}},` +
    `"timings":{"queue":${ms(t.queue)},"connect":${ms(t.connect)},"upstream_headers":${ms(t.upstreamHeaders)},"upstream_total":${ms(t.upstreamTotal)}},` +
    `"attempts":[${attempts}],"termination":"${o.termination}","upgrade":${o.upgraded},"canary":${o.canary},"instance":${str(instance)},` +
    `"chain":{"seq":null,"hash":null}}}`
  );
}
