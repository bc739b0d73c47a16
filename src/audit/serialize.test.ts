import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { RequestOutcome } from '../core/index.js';
import { buildRequestRecord } from './record.js';
import { serializeRequestRecord } from './serialize.js';

const redaction = {
  captureHeaders: ['user-agent', 'authorization', 'x-request-id'],
  redactHeaders: new Set(['authorization']),
  redactQueryParams: new Set(['token']),
};

function outcome(over: Partial<RequestOutcome> = {}): RequestOutcome {
  return {
    requestId: 'id-1',
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    startMs: 1764084000123.457,
    endMs: 1764084000125.9,
    clientAddress: '203.0.113.9',
    clientPort: null,
    peerAddress: '127.0.0.1',
    peerPort: 51234,
    userAgent: 'curl/8 "quoted" \\ \u001b[31m \u2028',
    method: 'GET',
    path: '/a"b\\c',
    query: 'token=x&y=1',
    serverAddress: 'api.example.com',
    serverPort: 8443,
    requestHeaders: { 'user-agent': 'curl', authorization: 'Bearer s', 'x-request-id': ['a', 'b'] },
    requestBodySize: 5,
    responseBodySize: 199,
    statusCode: 200,
    tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', serverName: null },
    userName: null,
    identityMethod: 'anonymous',
    listener: 'public',
    route: 'api',
    pool: 'api',
    owner: 'team-payments',
    tags: { env: 'prod', 'odd"key': 'v\n' },
    backendName: 'api-1',
    backendAddress: '127.0.0.1:9001',
    upstreamStatus: 200,
    timings: { queue: 0.0123456, connect: 1.5, upstreamHeaders: 2.25, upstreamTotal: 2.5 },
    attempts: [
      {
        backend: 'api-0',
        address: '127.0.0.1:9000',
        start: 1764084000123.5,
        connectMs: null,
        durationMs: 0.3,
        statusCode: null,
        termination: 'upstream_connect_refused',
        error: 'connection refused',
      },
      {
        backend: 'api-1',
        address: '127.0.0.1:9001',
        start: 1764084000124.1,
        connectMs: 0.2,
        durationMs: 1.4,
        statusCode: 200,
        termination: 'ok',
        error: null,
      },
    ],
    termination: 'ok',
    errorMessage: null,
    upgraded: false,
    canary: false,
    ...over,
  };
}

describe('serializeRequestRecord', () => {
  const cases: [string, Partial<RequestOutcome>][] = [
    ['an answered request with a retry, odd characters and TLS', {}],
    [
      'a failed request without route, backend or TLS',
      {
        route: null,
        pool: null,
        owner: null,
        tags: null,
        backendName: null,
        backendAddress: null,
        upstreamStatus: null,
        tls: null,
        timings: { queue: null, connect: null, upstreamHeaders: null, upstreamTotal: null },
        attempts: [],
        termination: 'no_route',
        errorMessage: 'no route matches GET /x',
        statusCode: 404,
        userAgent: null,
        query: null,
        serverAddress: null,
        serverPort: null,
        requestHeaders: {},
      },
    ],
    ['an upgraded exchange', { upgraded: true, statusCode: 101, upstreamStatus: 101 }],
    ['an authenticated request', { userName: 'alice "the admin" \u00e9', identityMethod: 'jwt' }],
    [
      'a refused request with an API key user',
      {
        userName: null,
        identityMethod: 'api_key',
        termination: 'rate_limited',
        errorMessage:
          'rate limit of route api exceeded by user "bot" (1/s, burst 1, per user); retry after 1 s',
        statusCode: 429,
        attempts: [],
      },
    ],
  ];
  for (const [name, over] of cases) {
    it(`writes exactly what JSON.stringify writes of the built record: ${name}`, () => {
      const o = outcome(over);
      assert.equal(
        serializeRequestRecord(o, redaction, 'host:1'),
        JSON.stringify(buildRequestRecord(o, redaction, 'host:1')),
      );
    });
  }

  it('writes timings exactly as JSON.stringify writes them rounded to the microsecond, for any number', () => {
    const duration = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.double({ min: -5, max: 5, noNaN: true }),
      fc.double({ min: 0, max: 100_000, noNaN: true }),
      fc.integer({ min: -2_000_000, max: 2_000_000 }).map((x) => x / 1000),
      fc.integer({ min: 0, max: 2_000_000 }).map((x) => x / 1000 + 0.0005),
      fc.constantFrom(0, -0, 0.0005, -0.0005, 1e15, 999_999_999_999.9995, Number.MAX_SAFE_INTEGER),
    );
    const maybe = fc.option(duration, { nil: null });
    fc.assert(
      fc.property(maybe, maybe, maybe, maybe, maybe, (queue, connect, headers, total, attempt) => {
        const o = outcome({
          timings: { queue, connect, upstreamHeaders: headers, upstreamTotal: total },
          attempts: [{ ...outcome().attempts[1]!, connectMs: attempt, durationMs: queue }],
        });
        assert.equal(
          serializeRequestRecord(o, redaction, 'h'),
          JSON.stringify(buildRequestRecord(o, redaction, 'h')),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps the order and values JSON.stringify writes for header names a plain object reorders or drops', () => {
    const odd = {
      captureHeaders: ['x-b', '10', 'x-a', '2', '__proto__', 'x-b'],
      redactHeaders: new Set(['x-a']),
      redactQueryParams: new Set<string>(),
    };
    const o = outcome({
      requestHeaders: { 'x-a': 's', 'x-b': ['1', '2'], '10': 't', '2': 'u', __proto__: 'p' },
    });
    assert.equal(serializeRequestRecord(o, odd, 'h'), JSON.stringify(buildRequestRecord(o, odd, 'h')));
  });

  it("writes each request's own route, owner, tags and backend when they change between requests", () => {
    const variants: Partial<RequestOutcome>[] = [
      {},
      { owner: 'team-search' },
      { tags: { env: 'staging' } },
      { route: 'other', pool: 'other' },
      { backendAddress: '127.0.0.1:9999' },
      { listener: 'internal', identityMethod: 'api_key', userName: 'bot' },
      { tls: null },
      {},
    ];
    for (const over of variants) {
      const o = outcome(over);
      assert.equal(
        serializeRequestRecord(o, redaction, 'h'),
        JSON.stringify(buildRequestRecord(o, redaction, 'h')),
      );
    }
  });

  it('never writes a redacted value', () => {
    const line = serializeRequestRecord(outcome(), redaction, 'h');
    assert.ok(!line.includes('Bearer s'));
    assert.ok(line.includes('"query":"token=REDACTED&y=1"'));
  });
});
