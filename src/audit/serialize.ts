import type { AttemptOutcome, RequestOutcome } from '../core/index.js';
import { isoMicros } from '../core/index.js';
import type { Redaction } from './redact.js';
import { captureHeaders, REDACTED, redactQuery } from './redact.js';

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

/** `.5`, `.05`, `.005`, `.25`, …: the decimal fraction of f/1000 without trailing zeros ('' for 0). */
const THOUSANDTHS: readonly string[] = Array.from({ length: 1000 }, (_, f) =>
  f === 0 ? '' : `.${String(f).padStart(3, '0').replace(/0+$/, '')}`,
);

/**
 * `JSON.stringify(Math.round(v * 1000) / 1000)` without the double-to-shortest-string conversion
 * (the costliest step of a record): for |x| < 10^15 the shortest text that reads back as x/1000
 * is x/1000 written out in decimal (15 significant digits always round-trip), trailing zeros
 * dropped.
 */
function ms(v: number | null): string {
  if (v === null) return 'null';
  const x = Math.round(v * 1000);
  if (x === 0) return '0'; // also -0, which JSON writes as 0
  const a = x < 0 ? -x : x;
  if (!(a < 1e15)) return Number.isFinite(x) ? String(x / 1000) : 'null'; // NaN, ±∞: null, as JSON.stringify
  const f = a % 1000;
  const text = `${(a - f) / 1000}${THOUSANDTHS[f]!}`;
  return x < 0 ? `-${text}` : text;
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

/**
 * The captured headers of a redaction, compiled once: each name's `"name":` and whether it is
 * redacted. Names that a plain object would not keep in list order (array indices, `__proto__`,
 * duplicates) fall back to building the object first, so the text stays what JSON.stringify
 * writes of the record.
 */
interface CompiledCapture {
  readonly names: readonly string[];
  readonly keys: readonly string[];
  readonly redacted: readonly boolean[];
  readonly direct: boolean;
}

const compiled = new WeakMap<Redaction, CompiledCapture>();

function compileCapture(r: Redaction): CompiledCapture {
  const names = r.captureHeaders;
  const direct =
    new Set(names).size === names.length &&
    names.every((name) => name !== '__proto__' && !/^(?:0|[1-9][0-9]*)$/.test(name));
  return {
    names,
    keys: names.map((name) => `${str(name)}:`),
    redacted: names.map((name) => r.redactHeaders.has(name)),
    direct,
  };
}

function headerMap(headers: RequestOutcome['requestHeaders'], r: Redaction): string {
  let cc = compiled.get(r);
  if (cc === undefined) {
    cc = compileCapture(r);
    compiled.set(r, cc);
  }
  if (!cc.direct) return stringMap(captureHeaders(headers, r));
  let out = '{';
  for (let i = 0; i < cc.names.length; i++) {
    const v = headers[cc.names[i]!];
    if (v === undefined) continue;
    out += `${out.length === 1 ? '' : ','}${cc.keys[i]!}${cc.redacted[i] ? `"${REDACTED}"` : str(Array.isArray(v) ? v.join(', ') : v)}`;
  }
  return `${out}}`;
}

/** Bound of the caches below: past it a cache starts over. */
const CACHE_MAX = 4096;

/** The JSON text of a string that repeats from record to record (the method, the instance): escaped once. */
const constants = new Map<string, string>();

function c(v: string): string {
  let json = constants.get(v);
  if (json === undefined) {
    if (constants.size >= CACHE_MAX) constants.clear();
    json = str(v);
    constants.set(v, json);
  }
  return json;
}

/** An attempt's `{"backend":…,"address":…,"start":"` per backend (names and addresses come from the config). */
const attemptHeads = new Map<string, { address: string; json: string }>();

function attemptHead(backend: string, address: string): string {
  let h = attemptHeads.get(backend);
  if (h === undefined || h.address !== address) {
    if (attemptHeads.size >= CACHE_MAX) attemptHeads.clear();
    h = { address, json: `{"backend":${str(backend)},"address":${str(address)},"start":"` };
    attemptHeads.set(backend, h);
  }
  return h.json;
}

function attempt(a: AttemptOutcome): string {
  return (
    `${attemptHead(a.backend, a.address)}${isoMicros(a.start)}","connect_ms":${ms(a.connectMs)},` +
    `"duration_ms":${ms(a.durationMs)},"status_code":${n(a.statusCode)},"termination":"${a.termination}","error":${s(a.error)}}`
  );
}

const NO_TLS = '"tls":{"protocol":{"version":null},"cipher":null,"server_name":null},';

function tlsJson(tls: RequestOutcome['tls']): string {
  if (tls === null) return NO_TLS;
  return (
    `"tls":{"protocol":{"version":${s(tls.protocol)}},"cipher":${s(tls.cipher)},` +
    `"server_name":${s(tls.serverName)}},`
  );
}

/**
 * Where a request went (identity method, listener, route, pool, owner, tags, backend), as the
 * record's `"identity":…,"backend":{…}` text. These repeat from request to request: the last one
 * per backend is kept and reused while every part is the same.
 */
interface Placement {
  readonly identity: string;
  readonly listener: string;
  readonly route: string | null;
  readonly pool: string | null;
  readonly owner: string | null;
  readonly tags: RequestOutcome['tags'];
  readonly backendName: string | null;
  readonly backendAddress: string | null;
  readonly json: string;
}

const placements = new Map<string, Placement>();

function placement(o: RequestOutcome): string {
  const key = o.backendName ?? '';
  const p = placements.get(key);
  if (
    p !== undefined &&
    p.identity === o.identityMethod &&
    p.listener === o.listener &&
    p.route === o.route &&
    p.pool === o.pool &&
    p.owner === o.owner &&
    p.tags === o.tags &&
    p.backendName === o.backendName &&
    p.backendAddress === o.backendAddress
  )
    return p.json;
  const json =
    `"identity":{"method":${str(o.identityMethod)}},"listener":${str(o.listener)},"route":${s(o.route)},` +
    `"pool":${s(o.pool)},"owner":${s(o.owner)},"tags":${o.tags === null ? 'null' : stringMap(o.tags)},` +
    `"backend":{"name":${s(o.backendName)},"address":${s(o.backendAddress)}},`;
  if (placements.size >= CACHE_MAX) placements.clear();
  placements.set(key, {
    identity: o.identityMethod,
    listener: o.listener,
    route: o.route,
    pool: o.pool,
    owner: o.owner,
    tags: o.tags,
    backendName: o.backendName,
    backendAddress: o.backendAddress,
    json,
  });
  return json;
}

export function serializeRequestRecord(o: RequestOutcome, redaction: Redaction, instance: string): string {
  const end = isoMicros(o.endMs);
  let attempts = '';
  for (let i = 0; i < o.attempts.length; i++) attempts += (i === 0 ? '' : ',') + attempt(o.attempts[i]!);
  const t = o.timings;
  return (
    `{"schema":"tollgate.request/1","@timestamp":"${end}",` +
    `"event":{"start":"${isoMicros(o.startMs)}","end":"${end}","duration":${Math.max(0, Math.round((o.endMs - o.startMs) * 1e6))}},` +
    `"http":{"request":{"id":${str(o.requestId)},"method":${c(o.method)},"header":${headerMap(o.requestHeaders, redaction)},` +
    `"body":{"size":${o.requestBodySize}}},"response":{"status_code":${o.statusCode},"body":{"size":${o.responseBodySize}}}},` +
    `"trace":{"id":"${o.traceId}"},"span":{"id":"${o.spanId}"},` +
    `"client":{"address":${str(o.clientAddress)},"port":${n(o.clientPort)}},` +
    `"network":{"peer":{"address":${str(o.peerAddress)},"port":${n(o.peerPort)}}},` +
    `"user_agent":{"original":${s(o.userAgent)}},` +
    `"url":{"path":${str(o.path)},"query":${s(redactQuery(o.query, redaction.redactQueryParams))}},` +
    `"server":{"address":${s(o.serverAddress)},"port":${n(o.serverPort)}},${tlsJson(o.tls)}` +
    `"user":{"name":${s(o.userName)}},` +
    `"error":{"type":${o.termination === 'ok' ? 'null' : `"${o.termination}"`},"message":${s(o.errorMessage)}},` +
    `"tollgate":{${placement(o)}"upstream":{"status_code":${n(o.upstreamStatus)}},` +
    `"timings":{"queue":${ms(t.queue)},"connect":${ms(t.connect)},"upstream_headers":${ms(t.upstreamHeaders)},"upstream_total":${ms(t.upstreamTotal)}},` +
    `"attempts":[${attempts}],"termination":"${o.termination}","upgrade":${o.upgraded},"canary":${o.canary},"instance":${c(instance)},` +
    `"chain":{"seq":null,"hash":null}}}`
  );
}
