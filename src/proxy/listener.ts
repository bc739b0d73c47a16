import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ListenerPlan } from '../config/index.js';
import type { TlsFacts } from '../core/index.js';
import { ErrorCode, TollgateError } from '../core/index.js';
import { handleClientError, handleConnect, handleRequest, handleUpgrade } from './pipeline.js';
import type { ProxyServices } from './services.js';

const kTls = Symbol('tollgate.tls');
type TlsCache = { [kTls]?: TlsFacts };

/**
 * One listening socket (accept phase): node's HTTP/1.1 server with the listener's limits,
 * TLS when configured, and a cap on connections per client IP. Requests go to the pipeline.
 */
export class ListenerRuntime {
  plan: ListenerPlan;
  readonly services: ProxyServices;
  readonly proto: 'http' | 'https';
  readonly server: http.Server;
  /** Open client connections, total and per peer IP. */
  connections = 0;
  refusedConnections = 0;
  /** Set when drain reached its deadline: connections closed now are Tollgate's doing, not the client's. */
  cutting = false;
  readonly #perIp = new Map<string, number>();
  readonly #sockets = new Set<Socket>();

  constructor(plan: ListenerPlan, services: ProxyServices) {
    this.plan = plan;
    this.services = services;
    this.proto = plan.tls === null ? 'http' : 'https';
    const limits = plan.limits;
    const options: http.ServerOptions = {
      // node's own check is only a backstop (it counts fewer bytes than the head): receive checks the whole head
      maxHeaderSize: Math.max(limits.maxHeaderBytes, 64 * 1024),
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
      keepAliveTimeout: 5_000,
      requireHostHeader: false,
      noDelay: true,
    };
    // the head is bounded by max_header_bytes (checked whole at receive); no silent cut at 2000 lines
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => handleRequest(this, req, res);
    this.server =
      plan.tls === null
        ? http.createServer(options, onRequest)
        : https.createServer(
            {
              ...options,
              cert: plan.tls.cert,
              key: plan.tls.key,
              ...(plan.tls.clientCa === null
                ? {}
                : { ca: plan.tls.clientCa, requestCert: true, rejectUnauthorized: false }),
            },
            onRequest,
          );
    this.server.maxHeadersCount = 0;
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) =>
      handleUpgrade(this, req, socket, head),
    );
    this.server.on('connect', (req: http.IncomingMessage, socket: Socket) =>
      handleConnect(this, req, socket),
    );
    this.server.on('clientError', (err: Error, socket: Socket) => handleClientError(this, err, socket));
    this.server.on(plan.tls === null ? 'connection' : 'secureConnection', (socket: Socket) =>
      this.#onConnection(socket),
    );
  }

  #onConnection(socket: Socket): void {
    const ip = socket.remoteAddress ?? '';
    const n = (this.#perIp.get(ip) ?? 0) + 1;
    if (n > this.plan.limits.maxConnectionsPerIp) {
      this.refusedConnections++;
      socket.destroy();
      return;
    }
    this.#perIp.set(ip, n);
    this.connections++;
    this.#sockets.add(socket);
    socket.once('close', () => {
      this.connections--;
      this.#sockets.delete(socket);
      const left = (this.#perIp.get(ip) ?? 1) - 1;
      if (left <= 0) this.#perIp.delete(ip);
      else this.#perIp.set(ip, left);
    });
  }

  /** TLS facts of a connection, computed once per connection. */
  tlsFacts(socket: Socket): TlsFacts | null {
    if (this.proto === 'http') return null;
    const s = socket as TLSSocket & TlsCache;
    let facts = s[kTls];
    if (facts === undefined) {
      const servername = (s as TLSSocket & { servername?: string | false }).servername;
      facts = {
        protocol: s.getProtocol?.() ?? null,
        cipher: s.getCipher?.()?.name ?? null,
        serverName: typeof servername === 'string' ? servername : null,
      };
      s[kTls] = facts;
    }
    return facts;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(
          new TollgateError(
            ErrorCode.LISTEN,
            `listener ${this.plan.name} cannot listen on ${this.plan.host}:${this.plan.port}: ${err.code ?? err.message}`,
            { source: 'config', cause: err },
          ),
        );
      };
      this.server.once('error', onError);
      this.server.listen(this.plan.port, this.plan.host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
  }

  /** The port actually bound (useful with port 0). */
  port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a !== null ? a.port : this.plan.port;
  }

  /** Updates limits and TLS material in place (reload). */
  update(plan: ListenerPlan): void {
    this.plan = plan;
    const s = this.server;
    s.headersTimeout = plan.limits.headersTimeoutMs;
    s.requestTimeout = plan.limits.requestTimeoutMs;
    if (plan.tls !== null && s instanceof https.Server)
      s.setSecureContext({
        cert: plan.tls.cert,
        key: plan.tls.key,
        ...(plan.tls.clientCa === null ? {} : { ca: plan.tls.clientCa }),
      });
  }

  /** Set by stopAccepting: every response from now on closes its connection. */
  draining = false;

  /**
   * Stops accepting; idle keep-alive connections are closed now, busy ones after the response
   * they are sending, and requests that still arrive on them are answered with `Connection: close`.
   */
  stopAccepting(): Promise<void> {
    this.draining = true;
    for (const s of this.#sockets) {
      const res = (s as Socket & { _httpMessage?: { shouldKeepAlive: boolean } })._httpMessage;
      if (res !== undefined && res !== null) res.shouldKeepAlive = false;
    }
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }

  /** Closes every remaining connection now. */
  destroyAll(): void {
    this.cutting = true;
    for (const s of this.#sockets) s.destroy();
    this.server.closeAllConnections();
  }
}
