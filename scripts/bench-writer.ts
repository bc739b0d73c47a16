/**
 * The audit writer alone: N synthetic request outcomes through the pipeline (serialize on this
 * thread, hand over in batches, number + chain + commit in the writer thread) into a fresh
 * store. Prints records/s from the first hand-over to the last commit.
 *   node --import tsx scripts/bench-writer.ts [N=300000]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditPipeline } from '../src/audit/index.js';
import { compileConfigText } from '../src/config/index.js';
import type { RequestOutcome } from '../src/core/index.js';
import { silentLogger, systemClock } from '../src/core/index.js';

const n = Number(process.argv[2] ?? 300_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-bench-writer-'));
const plan = compileConfigText(
  `data_dir: ${dir}
listeners: [{ name: public, address: 127.0.0.1:0 }]
routes: [{ name: r, pool: p }]
pools: [{ name: p, backends: [{ name: b, address: 127.0.0.1:9 }] }]
audit: { max_queue: 1000000, chain: { enabled: true, checkpoint_interval: 1s } }
`,
  path.join(dir, 'tollgate.yaml'),
);
const base = Date.now();
function outcome(i: number): RequestOutcome {
  return {
    requestId: `req-${i}`,
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
    tags: { env: 'prod' },
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
  };
}

const pipeline = new AuditPipeline(plan, { instance: 'bench', logger: silentLogger, clock: systemClock });
await pipeline.start();
const t0 = performance.now();
let i = 0;
await new Promise<void>((resolve) => {
  const step = () => {
    const end = Math.min(n, i + 200);
    for (; i < end; i++) pipeline.onOutcome(outcome(i));
    if (i < n) setImmediate(step);
    else resolve();
  };
  step();
});
const handed = performance.now();
await pipeline.committed();
const t1 = performance.now();
await pipeline.stop();
const size = fs.statSync(path.join(dir, 'audit.db')).size;
console.log(
  `writer: ${n} records, chain on: ${Math.round(n / ((t1 - t0) / 1000))} records/s end to end ` +
    `(hand-over on the request thread ${Math.round(n / ((handed - t0) / 1000))} records/s, ${(((handed - t0) * 1000) / n).toFixed(2)} µs each); ` +
    `store ${(size / n).toFixed(0)} bytes/record; lost ${pipeline.health.lost}`,
);
fs.rmSync(dir, { recursive: true, force: true });
