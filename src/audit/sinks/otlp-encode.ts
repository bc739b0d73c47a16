/**
 * OTLP logs encoding (opentelemetry-proto, logs/v1 and collector/logs/v1): records become
 * LogRecords with semantic-convention attributes, in one ExportLogsServiceRequest per batch, as
 * protobuf (a small writer for the handful of message types involved) or as OTLP/JSON.
 */

export type AttrValue = string | number | boolean;

export interface OtlpLog {
  timeNs: bigint;
  severityNumber: number;
  severityText: string;
  body: string;
  attributes: [string, AttrValue][];
  /** 16 bytes hex, or null. */
  traceId: string | null;
  /** 8 bytes hex, or null. */
  spanId: string | null;
}

/** A protobuf writer over one growing buffer; nested messages are written to their own and copied in. */
class Writer {
  #buf = Buffer.allocUnsafe(256);
  #len = 0;

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(next, 0, 0, this.#len);
    this.#buf = next;
  }

  varint(v: number): this {
    this.#room(10);
    let n = v;
    if (n < 0) {
      // negative int64: ten bytes of two's complement
      let b = BigInt.asUintN(64, BigInt(n));
      while (b >= 0x80n) {
        this.#buf[this.#len++] = Number(b & 0x7fn) | 0x80;
        b >>= 7n;
      }
      this.#buf[this.#len++] = Number(b);
      return this;
    }
    while (n >= 0x80) {
      this.#buf[this.#len++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.#buf[this.#len++] = n;
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2).varint(data.length);
    this.#room(data.length);
    this.#buf.set(data, this.#len);
    this.#len += data.length;
    return this;
  }

  string(field: number, s: string): this {
    const n = Buffer.byteLength(s);
    this.tag(field, 2).varint(n);
    this.#room(n);
    this.#len += this.#buf.write(s, this.#len, 'utf8');
    return this;
  }

  message(field: number, inner: Writer): this {
    return this.bytes(field, inner.finish());
  }

  fixed64(field: number, v: bigint): this {
    this.tag(field, 1);
    this.#room(8);
    this.#buf.writeBigUInt64LE(v, this.#len);
    this.#len += 8;
    return this;
  }

  double(field: number, v: number): this {
    this.tag(field, 1);
    this.#room(8);
    this.#buf.writeDoubleLE(v, this.#len);
    this.#len += 8;
    return this;
  }

  finish(): Buffer {
    return this.#buf.subarray(0, this.#len);
  }
}

function anyValue(v: AttrValue): Writer {
  const w = new Writer();
  if (typeof v === 'string') w.string(1, v);
  else if (typeof v === 'boolean') w.tag(2, 0).varint(v ? 1 : 0);
  else if (Number.isInteger(v)) w.tag(3, 0).varint(v);
  else w.double(4, v);
  return w;
}

function keyValue(k: string, v: AttrValue): Writer {
  return new Writer().string(1, k).message(2, anyValue(v));
}

/** `ExportLogsServiceRequest` as protobuf bytes. */
export function encodeProtobuf(
  resource: [string, AttrValue][],
  scope: { name: string; version: string },
  logs: OtlpLog[],
): Buffer {
  const res = new Writer();
  for (const [k, v] of resource) res.message(1, keyValue(k, v));
  const scopeLogs = new Writer().message(1, new Writer().string(1, scope.name).string(2, scope.version));
  for (const l of logs) {
    const r = new Writer().fixed64(1, l.timeNs).tag(2, 0).varint(l.severityNumber).string(3, l.severityText);
    r.message(5, anyValue(l.body));
    for (const [k, v] of l.attributes) r.message(6, keyValue(k, v));
    if (l.traceId !== null) r.bytes(9, Buffer.from(l.traceId, 'hex'));
    if (l.spanId !== null) r.bytes(10, Buffer.from(l.spanId, 'hex'));
    r.fixed64(11, l.timeNs);
    scopeLogs.message(2, r);
  }
  const resourceLogs = new Writer().message(1, res).message(2, scopeLogs);
  return new Writer().message(1, resourceLogs).finish();
}

function jsonValue(v: AttrValue): Record<string, unknown> {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
}

/** The same request in OTLP/JSON (64-bit integers as strings, ids as hex). */
export function encodeJson(
  resource: [string, AttrValue][],
  scope: { name: string; version: string },
  logs: OtlpLog[],
): string {
  return JSON.stringify({
    resourceLogs: [
      {
        resource: { attributes: resource.map(([key, v]) => ({ key, value: jsonValue(v) })) },
        scopeLogs: [
          {
            scope,
            logRecords: logs.map((l) => ({
              timeUnixNano: String(l.timeNs),
              observedTimeUnixNano: String(l.timeNs),
              severityNumber: l.severityNumber,
              severityText: l.severityText,
              body: { stringValue: l.body },
              attributes: l.attributes.map(([key, v]) => ({ key, value: jsonValue(v) })),
              ...(l.traceId === null ? {} : { traceId: l.traceId }),
              ...(l.spanId === null ? {} : { spanId: l.spanId }),
            })),
          },
        ],
      },
    ],
  });
}
