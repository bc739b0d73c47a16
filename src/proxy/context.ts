import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { IdentityMethod, Termination } from '../core/index.js';
import type { AuthSubject } from '../identity/index.js';
import type { Attempt } from './attempt.js';
import type { ListenerRuntime } from './listener.js';
import type { PlanRuntime, RouteRuntime } from './plan-runtime.js';
import type { PoolRuntime, SelectionRequest } from './pool-runtime.js';

/**
 * One request's state as it moves through the phases (DESIGN rule 3: one fixed-shape object per
 * request, every field set in the constructor). Only pipeline.ts writes to it.
 */
export class ProxyContext implements SelectionRequest, AuthSubject {
  readonly listener: ListenerRuntime;
  readonly runtime: PlanRuntime;
  readonly req: IncomingMessage;
  /** Null for an Upgrade (WebSocket) exchange, which has only sockets. */
  readonly res: ServerResponse | null;
  readonly startMs: number;
  readonly startMono: number;
  // receive
  requestId = '';
  traceId = '';
  spanId = '';
  traceFlags = '01';
  peerAddress = '';
  peerPort: number | null = null;
  clientAddress = '';
  clientPort: number | null = null;
  trustedPeer = false;
  method = '';
  path = '';
  query: string | null = null;
  hostName: string | null = null;
  hostPort: number | null = null;
  hasBody = false;
  /** respond: armed while the client does not read (res.write returned false), for send_timeout. */
  sendTimer: NodeJS.Timeout | null = null;
  // route
  route: RouteRuntime | null = null;
  pool: PoolRuntime | null = null;
  // admit
  userName: string | null = null;
  identityMethod: IdentityMethod = 'anonymous';
  /** `WWW-Authenticate` of a 401 written by Tollgate; null for none. */
  challenge: string | null = null;
  /** `Retry-After` seconds of a 429 written by Tollgate; 0 for none. */
  retryAfterS = 0;
  // select / attempts
  tried: number[] = [];
  /** For consistent_hash: the request's key, computed once at route. */
  hashKey: string | null = null;
  attempts: Attempt[] = [];
  current: Attempt | null = null;
  upstreamHeaders: string[] | null = null;
  queueMs: number | null = null;
  retrying = false;
  setCookie: string | null = null;
  // response
  answered: Attempt | null = null;
  statusCode = 0;
  requestBodySize = 0;
  responseBodySize = 0;
  termination: Termination | null = null;
  /** Tollgate's own canary request, answered at receive. */
  canary = false;
  errorMessage: string | null = null;
  /** durability: strict — the last response chunk, written only once the record is durable. */
  heldChunk: Buffer | null = null;
  /** Upgrade exchanges: the client's socket. */
  clientSocket: Socket | null = null;
  upgradeHead: Buffer | null = null;
  completed = false;

  constructor(
    listener: ListenerRuntime,
    runtime: PlanRuntime,
    req: IncomingMessage,
    res: ServerResponse | null,
    startMs: number,
    startMono: number,
  ) {
    this.listener = listener;
    this.runtime = runtime;
    this.req = req;
    this.res = res;
    this.startMs = startMs;
    this.startMono = startMono;
  }
}
