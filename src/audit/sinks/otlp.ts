import { gzipSync } from 'node:zlib';
import type { StoredRow } from '../../store/index.js';
import { withHash } from '../chain.js';
import type { NetworkSink } from './network-sink.js';
import type { AttrValue, OtlpLog } from './otlp-encode.js';
import { encodeJson, encodeProtobuf } from './otlp-encode.js';

/** A send the receiver asked to retry later (429/503 with Retry-After). */
export class RetryLater extends Error {
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

const TIMEOUT_MS = 10_000;

type Rec = Record<string, unknown>;
const get = (o: unknown, ...path: string[]): unknown => {
  let v = o;
  for (const p of path) v = v !== null && typeof v === 'object' ? (v as Rec)[p] : undefined;
  return v;
};

function attrs(pairs: [string, unknown][]): [string, AttrValue][] {
  const out: [string, AttrValue][] = [];
  for (const [k, v] of pairs)
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.push([k, v]);
  return out;
}

/** One record as an OTLP LogRecord: the record itself is the body, the filter fields are attributes. */
export function toLog(r: StoredRow): OtlpLog {
  const text = withHash(r.rec, r.hash);
  const rec = JSON.parse(text) as Rec;
  const timeNs = BigInt(Math.round(r.ts)) * 1_000_000n;
  if (r.kind === 'admin') {
    const failed = get(rec, 'event', 'outcome') === 'failure';
    return {
      timeNs,
      severityNumber: failed ? 13 : 9,
      severityText: failed ? 'WARN' : 'INFO',
      body: text,
      attributes: attrs([
        ['event.name', 'tollgate.admin'],
        ['event.action', get(rec, 'event', 'action')],
        ['event.outcome', get(rec, 'event', 'outcome')],
        ['user.name', get(rec, 'user', 'name')],
        ['source.address', get(rec, 'source', 'address')],
        ['tollgate.instance', get(rec, 'tollgate', 'instance')],
        ['tollgate.chain.seq', r.seq],
        ['tollgate.chain.hash', r.hash],
      ]),
      traceId: null,
      spanId: null,
    };
  }
  const status = r.status ?? 0;
  const bad = status >= 500 || r.termination !== 'ok';
  const traceId = get(rec, 'trace', 'id');
  const spanId = get(rec, 'span', 'id');
  return {
    timeNs,
    severityNumber: bad ? 13 : 9,
    severityText: bad ? 'WARN' : 'INFO',
    body: text,
    attributes: attrs([
      ['event.name', 'tollgate.request'],
      ['http.request.method', get(rec, 'http', 'request', 'method')],
      ['url.path', get(rec, 'url', 'path')],
      ['url.query', get(rec, 'url', 'query')],
      ['http.response.status_code', status],
      ['client.address', get(rec, 'client', 'address')],
      ['client.port', get(rec, 'client', 'port')],
      ['network.peer.address', get(rec, 'network', 'peer', 'address')],
      ['server.address', get(rec, 'server', 'address')],
      ['user_agent.original', get(rec, 'user_agent', 'original')],
      ['user.name', get(rec, 'user', 'name')],
      ['error.type', get(rec, 'error', 'type')],
      ['tollgate.request_id', r.requestId],
      ['tollgate.route', r.route],
      ['tollgate.backend', r.backend],
      ['tollgate.termination', r.termination],
      ['tollgate.instance', get(rec, 'tollgate', 'instance')],
      ['tollgate.chain.seq', r.seq],
      ['tollgate.chain.hash', r.hash],
    ]),
    traceId: typeof traceId === 'string' && /^[0-9a-f]{32}$/.test(traceId) ? traceId : null,
    spanId: typeof spanId === 'string' && /^[0-9a-f]{16}$/.test(spanId) ? spanId : null,
  };
}

/**
 * OpenTelemetry logs over OTLP/HTTP (protobuf or JSON), one gzip-compressed
 * ExportLogsServiceRequest per batch with resource `service.name=tollgate` and the instance.
 * A 2xx confirms the batch; 429, 502, 503 and 504 are retried, honouring Retry-After; any other
 * answer is an error retried with back-off (the records stay in the store meanwhile).
 */
export class OtlpSink implements NetworkSink {
  readonly name: string;
  readonly confirmAfterMs = 0;
  readonly #endpoint: string;
  readonly #protocol: 'json' | 'protobuf';
  readonly #resource: [string, AttrValue][];

  constructor(endpoint: string, protocol: 'json' | 'protobuf', instance: string) {
    this.#endpoint = endpoint;
    this.#protocol = protocol;
    const u = new URL(endpoint);
    this.name = `otlp:${u.origin}${u.pathname}`;
    this.#resource = [
      ['service.name', 'tollgate'],
      ['service.instance.id', instance],
      ['service.version', '0.1.0'],
    ];
  }

  async send(rows: readonly StoredRow[]): Promise<void> {
    const logs = rows.map(toLog);
    const scope = { name: 'tollgate.audit', version: '1' };
    const body =
      this.#protocol === 'protobuf'
        ? encodeProtobuf(this.#resource, scope, logs)
        : Buffer.from(encodeJson(this.#resource, scope, logs));
    const res = await fetch(this.#endpoint, {
      method: 'POST',
      headers: {
        'content-type': this.#protocol === 'protobuf' ? 'application/x-protobuf' : 'application/json',
        'content-encoding': 'gzip',
      },
      body: gzipSync(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await res.arrayBuffer();
    if (res.status >= 200 && res.status < 300) return;
    if ([429, 502, 503, 504].includes(res.status)) {
      const ra = res.headers.get('retry-after');
      const seconds = ra === null ? Number.NaN : Number(ra);
      const ms = Number.isFinite(seconds)
        ? seconds * 1000
        : ra !== null && !Number.isNaN(Date.parse(ra))
          ? Date.parse(ra) - Date.now()
          : 0;
      throw new RetryLater(
        `${this.name} answered ${res.status}${ra === null ? '' : ` (Retry-After: ${ra})`}`,
        Math.max(0, ms),
      );
    }
    throw new Error(`${this.name} answered ${res.status}`);
  }

  async close(): Promise<void> {}
}
