import type { Socket } from 'node:net';
import net from 'node:net';

/**
 * A raw tunnel for Upgrade exchanges (WebSocket): write the request head to the backend, then
 * copy bytes both ways until either side closes. The backend's status line is read from the
 * first bytes it sends. No closures are kept per byte; the tunnel object holds the state.
 */
export interface TunnelListener {
  connected(t: Tunnel): void;
  status(t: Tunnel, status: number): void;
  closed(t: Tunnel, error: (Error & { code?: string }) | null): void;
}

export class Tunnel {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly #listener: TunnelListener;
  readonly #head: Buffer;
  readonly #requestHead: string;
  #sniffed = false;
  /** Bytes of the backend's response head seen so far, until its blank line. */
  #responseHead: string | null = '';
  #closed = 0;
  #error: (Error & { code?: string }) | null = null;
  #connectTimer: NodeJS.Timeout | null;
  connected = false;
  bytesUp = 0;
  bytesDown = 0;

  constructor(
    client: Socket,
    host: string,
    port: number,
    requestHead: string,
    head: Buffer,
    connectTimeoutMs: number,
    listener: TunnelListener,
  ) {
    this.client = client;
    this.#listener = listener;
    this.#head = head;
    this.#requestHead = requestHead;
    this.upstream = net.connect({ host, port, noDelay: true });
    this.#connectTimer = setTimeout(
      () => this.#fail(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' })),
      connectTimeoutMs,
    );
    this.upstream.once('connect', () => this.#onConnect());
    this.upstream.on('error', (err) => this.#fail(err));
    this.upstream.once('close', () => this.#onClose());
  }

  #onConnect(): void {
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
    this.connected = true;
    this.#listener.connected(this);
    this.upstream.write(this.#requestHead);
    if (this.#head.length > 0) {
      this.bytesUp += this.#head.length;
      this.upstream.write(this.#head);
    }
    this.upstream.on('data', (chunk: Buffer) => {
      this.#countDown(chunk);
      if (!this.#sniffed) {
        this.#sniffed = true;
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(chunk.toString('latin1', 0, Math.min(chunk.length, 16)));
        this.#listener.status(this, m === null ? 0 : Number(m[1]));
      }
      if (!this.client.write(chunk)) this.upstream.pause();
    });
    this.client.on('drain', () => this.upstream.resume());
    this.upstream.on('drain', () => this.client.resume());
    this.client.on('data', (chunk: Buffer) => {
      this.bytesUp += chunk.length;
      if (!this.upstream.write(chunk)) this.client.pause();
    });
    this.client.on('error', () => this.upstream.destroy());
    this.client.once('close', () => {
      this.upstream.destroy();
      this.#onClose();
    });
    this.upstream.once('end', () => this.client.end());
    this.client.once('end', () => this.upstream.end());
  }

  /** Counts response bytes after the backend's head (the 101 and its headers are not body). */
  #countDown(chunk: Buffer): void {
    if (this.#responseHead === null) {
      this.bytesDown += chunk.length;
      return;
    }
    const text = this.#responseHead + chunk.toString('latin1');
    const end = text.indexOf('\r\n\r\n');
    if (end === -1) {
      this.#responseHead = text.length > 65_536 ? null : text;
      return;
    }
    this.#responseHead = null;
    this.bytesDown += text.length - (end + 4);
  }

  #fail(err: Error & { code?: string }): void {
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
    this.#error ??= err;
    this.upstream.destroy();
    if (this.connected) this.client.destroy();
  }

  #onClose(): void {
    // before connect only the upstream socket is involved; after, both must close
    this.#closed++;
    if (!this.connected || this.#closed === 2) {
      if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
      this.#listener.closed(this, this.#error);
    }
  }
}

/** The request head for the backend: request line and the already rewritten headers. */
export function requestHead(method: string, url: string, headers: readonly string[]): string {
  let s = `${method} ${url} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) s += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${s}\r\n`;
}
