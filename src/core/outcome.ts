import type { Termination } from './termination.js';

/**
 * What the proxy knows about one request when it completes: plain data, no methods, so it can
 * cross threads and processes. The audit module turns it into a `tollgate.request/1` record
 * (redacting and capturing headers there, off the proxy's path).
 */
export interface AttemptOutcome {
  backend: string;
  address: string;
  /** Epoch milliseconds when the attempt was dispatched. */
  start: number;
  /** Milliseconds from dispatch until a connection carried the request (queue + connect). */
  connectMs: number | null;
  durationMs: number | null;
  statusCode: number | null;
  termination: Termination;
  error: string | null;
}

/** Who a request was made by, as `tollgate.identity.method` names it (SPEC §3). */
export type IdentityMethod = 'anonymous' | 'jwt' | 'api_key' | 'mtls';

export interface TlsFacts {
  protocol: string | null;
  cipher: string | null;
  serverName: string | null;
}

export interface Timings {
  queue: number | null;
  connect: number | null;
  upstreamHeaders: number | null;
  upstreamTotal: number | null;
}

export interface RequestOutcome {
  requestId: string;
  traceId: string;
  spanId: string;
  /** Epoch milliseconds (fractional): first byte received / last byte sent or failure. */
  startMs: number;
  endMs: number;
  clientAddress: string;
  clientPort: number | null;
  peerAddress: string;
  peerPort: number | null;
  userAgent: string | null;
  method: string;
  path: string;
  /** Raw query string without the `?`, or null. Redaction happens in the audit module. */
  query: string | null;
  serverAddress: string | null;
  serverPort: number | null;
  /** The incoming request headers as node parsed them (lower-case names). */
  requestHeaders: Readonly<Record<string, string | string[] | undefined>>;
  requestBodySize: number;
  responseBodySize: number;
  statusCode: number;
  tls: TlsFacts | null;
  /** The identity admit established: JWT claim, API-key name or certificate field; null when anonymous. */
  userName: string | null;
  identityMethod: IdentityMethod;
  listener: string;
  route: string | null;
  pool: string | null;
  owner: string | null;
  tags: Readonly<Record<string, string>> | null;
  backendName: string | null;
  backendAddress: string | null;
  upstreamStatus: number | null;
  timings: Timings;
  attempts: AttemptOutcome[];
  termination: Termination;
  errorMessage: string | null;
  /** True for a WebSocket (or other Upgrade) exchange. */
  upgraded: boolean;
  /** True for Tollgate's own canary request (audit.canary): recorded, but kept out of traffic figures. */
  canary: boolean;
}

/** Receives every completed request exactly once. Observers read; they never steer. */
export interface OutcomeObserver {
  onOutcome(outcome: RequestOutcome): void;
}
