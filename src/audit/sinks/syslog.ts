import dgram from 'node:dgram';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import type { StoredRow } from '../../store/index.js';
import { withHash } from '../chain.js';
import { LineBuffer } from './line-buffer.js';
import type { NetworkSink } from './network-sink.js';

export interface SyslogOptions {
  host: string;
  port: number;
  protocol: 'tcp' | 'udp' | 'tls';
  facility: number;
  appName: string;
  caPem: string | null;
  serverName: string | null;
}

/** IANA's example enterprise number (RFC 5612), for the structured-data ID `tollgate@32473`. */
const SD_ID = 'tollgate@32473';
const BOM = '\ufeff';
/** Larger UDP datagrams are truncated to this (RFC 5426 receivers must take 480; 8 KiB is common; 64 KiB is the limit). */
const UDP_MAX_BYTES = 65_000;
const CONNECT_TIMEOUT_MS = 5000;

function sdValue(v: string): string {
  return v.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

/** PRI severity: 4 warning for 5xx and failed events, 5 notice for 4xx and other events, 6 info for the rest. */
function severity(r: StoredRow): number {
  if (r.kind === 'admin') return r.rec.includes('"outcome":"failure"') ? 4 : 5;
  const s = r.status ?? 0;
  return s >= 500 || r.termination !== 'ok' ? 4 : s >= 400 ? 5 : 6;
}

/**
 * One record as an RFC 5424 message: the chained record (JSON, with its hash) is the MSG, the
 * filter fields are structured data `[tollgate@32473 seq=… kind=… request_id=… status=… …]`.
 */
export function formatSyslog(
  r: StoredRow,
  facility: number,
  appName: string,
  host: string,
  pid: number,
): string {
  const params: [string, string | number | null][] = [
    ['seq', r.seq],
    ['kind', r.kind],
    ['request_id', r.requestId],
    ['status', r.status],
    ['route', r.route],
    ['backend', r.backend],
    ['termination', r.termination],
    ['client_ip', r.clientIp],
    ['user', r.userName],
    ['action', r.action],
  ];
  let sd = `[${SD_ID}`;
  for (const [k, v] of params) if (v !== null) sd += ` ${k}="${sdValue(String(v))}"`;
  sd += ']';
  const pri = facility * 8 + severity(r);
  const ts = new Date(r.ts).toISOString();
  return `<${pri}>1 ${ts} ${host} ${appName} ${pid} ${r.kind} ${sd} ${BOM}${withHash(r.rec, r.hash)}`;
}

/**
 * RFC 5424 over TCP with octet-counting framing (RFC 6587), over TLS (RFC 5425), or over UDP
 * (RFC 5426, one connected socket so an unreachable receiver shows up as an error). Syslog has no
 * acknowledgements, so the shipper confirms rows one second after the write (see NetworkSink).
 */
export class SyslogSink implements NetworkSink {
  readonly name: string;
  readonly confirmAfterMs = 1000;
  readonly #o: SyslogOptions;
  readonly #host =
    os
      .hostname()
      .replace(/[^!-~]/g, '')
      .slice(0, 255) || '-';
  #stream: net.Socket | null = null;
  #udp: dgram.Socket | null = null;
  #broken: Error | null = null;
  readonly #out = new LineBuffer();

  constructor(o: SyslogOptions) {
    this.#o = o;
    this.name = `syslog:${o.protocol}://${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`;
  }

  async send(rows: readonly StoredRow[]): Promise<void> {
    const o = this.#o;
    if (o.protocol === 'udp') return this.#sendUdp(rows);
    const socket = await this.#connect();
    // reused: one batch is in flight at a time, and the socket is done with it once the write calls back
    const out = this.#out;
    out.clear();
    for (const r of rows) {
      const msg = formatSyslog(r, o.facility, o.appName, this.#host, process.pid);
      out.add(`${Buffer.byteLength(msg)} ${msg}`);
    }
    await new Promise<void>((resolve, reject) => {
      socket.write(out.bytes(), (err) =>
        err ? reject(err) : this.#broken ? reject(this.#broken) : resolve(),
      );
    });
  }

  async #sendUdp(rows: readonly StoredRow[]): Promise<void> {
    const o = this.#o;
    const socket = await this.#connectUdp();
    for (const r of rows) {
      let buf = Buffer.from(formatSyslog(r, o.facility, o.appName, this.#host, process.pid));
      if (buf.length > UDP_MAX_BYTES) buf = buf.subarray(0, UDP_MAX_BYTES);
      await new Promise<void>((resolve, reject) =>
        socket.send(buf, (err) => (err ? reject(err) : resolve())),
      );
    }
    if (this.#broken !== null) throw this.#broken;
  }

  #connectUdp(): Promise<dgram.Socket> {
    if (this.#udp !== null && this.#broken === null) return Promise.resolve(this.#udp);
    this.#udp?.close();
    this.#broken = null;
    const o = this.#o;
    const socket = dgram.createSocket(net.isIPv6(o.host) ? 'udp6' : 'udp4');
    socket.on('error', (err) => {
      this.#broken = err;
    });
    this.#udp = socket;
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(o.port, o.host, () => {
        socket.off('error', reject);
        resolve(socket);
      });
    });
  }

  #connect(): Promise<net.Socket> {
    if (this.#stream !== null && this.#broken === null && !this.#stream.destroyed)
      return Promise.resolve(this.#stream);
    this.#stream?.destroy();
    this.#stream = null;
    this.#broken = null;
    const o = this.#o;
    return new Promise((resolve, reject) => {
      const onConnect = () => {
        clearTimeout(timer);
        socket.off('error', onFail);
        socket.on('error', (err) => {
          this.#broken = err;
        });
        socket.on('close', () => {
          this.#broken ??= new Error(`${this.name} closed the connection`);
        });
        // the receiver never talks back; reading keeps a half-closed peer from going unnoticed
        socket.on('data', () => {});
        this.#stream = socket;
        resolve(socket);
      };
      const onFail = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const socket: net.Socket =
        o.protocol === 'tls'
          ? tls.connect({
              host: o.host,
              port: o.port,
              servername: o.serverName ?? (net.isIP(o.host) === 0 ? o.host : undefined),
              ...(o.caPem === null ? {} : { ca: o.caPem }),
            })
          : net.connect({ host: o.host, port: o.port });
      socket.setNoDelay(true);
      socket.once(o.protocol === 'tls' ? 'secureConnect' : 'connect', onConnect);
      socket.once('error', onFail);
      const timer = setTimeout(
        () => onFail(new Error(`connect to ${this.name} timed out`)),
        CONNECT_TIMEOUT_MS,
      );
    });
  }

  async close(): Promise<void> {
    const s = this.#stream;
    this.#stream = null;
    if (s !== null && !s.destroyed) await new Promise<void>((r) => s.end(() => r()));
    this.#udp?.close();
    this.#udp = null;
  }
}
