import type { RequestOutcome } from '../src/core/index.js';

/**
 * A synthetic request outcome like the benchmark's traffic (one attempt, a tag, a redacted query
 * parameter every third request, a 503 every fiftieth), for the writer and IPC benchmarks.
 */
/** One tags object for every outcome, as a route's (frozen in the plan) is in production. */
const TAGS: Readonly<Record<string, string>> = Object.freeze({ env: 'prod' });

export function benchOutcome(i: number, base: number): RequestOutcome {
  return {
    // time-ordered like core's newRequestId: 12 hex digits of ms, then 20 (here: the counter)
    requestId:
      Math.floor(base + i * 0.01)
        .toString(16)
        .padStart(12, '0') + i.toString(16).padStart(20, '0'),
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    startMs: base + i * 0.01,
    endMs: base + i * 0.01 + 1.234,
    clientAddress: `10.0.${(i >> 8) & 255}.${i & 255}`,
    clientPort: 40000 + (i % 20000),
    peerAddress: '127.0.0.1',
    peerPort: 40000 + (i % 20000),
    userAgent: 'wrk-lb-bench/1.0',
    method: 'GET',
    path: `/api/items/${i % 1000}`,
    query: i % 3 === 0 ? 'token=abc&page=2' : null,
    serverAddress: 'api.example.com',
    serverPort: null,
    requestHeaders: { 'user-agent': 'wrk-lb-bench/1.0', 'x-request-id': `req-${i}` },
    requestBodySize: 0,
    responseBodySize: 612,
    statusCode: i % 50 === 0 ? 503 : 200,
    tls: null,
    userName: null,
    identityMethod: 'anonymous',
    listener: 'public',
    route: 'api',
    pool: 'api',
    owner: 'team-payments',
    tags: TAGS,
    backendName: `api-${i % 3}`,
    backendAddress: `127.0.0.1:${9001 + (i % 3)}`,
    upstreamStatus: 200,
    timings: { queue: 0.01, connect: 0.2, upstreamHeaders: 0.9, upstreamTotal: 1.1 },
    attempts: [
      {
        backend: `api-${i % 3}`,
        address: `127.0.0.1:${9001 + (i % 3)}`,
        start: base,
        connectMs: 0.2,
        durationMs: 1.1,
        statusCode: 200,
        termination: 'ok',
        error: null,
      },
    ],
    termination: 'ok',
    errorMessage: null,
    upgraded: false,
    canary: false,
  };
}
