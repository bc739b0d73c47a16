/**
 * The audit writer: N synthetic request outcomes into a fresh store, chain on.
 *   node --import tsx scripts/bench-writer.ts [N=300000]               end to end
 *   node --import tsx scripts/bench-writer.ts [N=300000] --writer-only the writer thread alone
 * End to end: through the pipeline (serialize on this thread, hand over in batches, number +
 * chain + commit in the writer thread); records/s from the first hand-over to the last commit.
 * --writer-only: the record lines are serialized and batched beforehand (as the pipeline hands
 * them over: 512 per message), then posted to a writer thread as fast as it takes them;
 * records/s from the first message to the acknowledgement of the last commit. Add --jsonl to
 * have the writer also ship every record to a jsonl sink (from memory, cursor in the store).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AuditPipeline, serializeRequestRecord } from '../src/audit/index.js';
import type { FromWriter, ToWriter, WriterConfig } from '../src/audit/writer-protocol.js';
import { compileConfigText } from '../src/config/index.js';
import type { RequestOutcome } from '../src/core/index.js';
import { silentLogger, systemClock } from '../src/core/index.js';
import { benchOutcome } from './outcome-fixture.js';

const writerOnly = process.argv.includes('--writer-only');
const n = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 300_000);
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
const outcome = (i: number): RequestOutcome => benchOutcome(i, base);

async function endToEnd(): Promise<string> {
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
  return (
    `writer: ${n} records, chain on: ${Math.round(n / ((t1 - t0) / 1000))} records/s end to end ` +
    `(hand-over on the request thread ${Math.round(n / ((handed - t0) / 1000))} records/s, ${(((handed - t0) * 1000) / n).toFixed(2)} µs each); lost ${pipeline.health.lost}`
  );
}

async function writerAlone(): Promise<string> {
  const batches: ToWriter[] = [];
  for (let i = 0; i < n; i += 512) {
    const lines: string[] = [];
    const meta: (string | number | null)[] = [];
    for (let k = i; k < Math.min(n, i + 512); k++) {
      const o = outcome(k);
      lines.push(serializeRequestRecord(o, plan.audit, 'bench'));
      meta.push('request', Math.round(o.endMs), o.requestId, o.clientAddress, o.statusCode, o.route);
      meta.push(o.backendName, o.termination, o.userName, null);
    }
    batches.push({ type: 'batch', id: batches.length + 1, lines: lines.join('\n'), meta, urgent: false });
  }
  const config: WriterConfig = {
    storePath: plan.audit.storePath,
    dataDir: plan.dataDir,
    sinks: process.argv.includes('--jsonl') ? [{ type: 'jsonl', path: path.join(dir, 'records.jsonl') }] : [],
    checkpointIntervalMs: plan.audit.chain.checkpointIntervalMs,
    networkSinks: [],
    retentionMs: 0,
    retryMs: 1000,
    heartbeatMs: 0,
    instance: 'bench',
  };
  const entry = new URL('../src/audit/writer-thread.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  // The writer thread's own CPU time (user + system, from /proc/thread-self/stat, Linux) is
  // written to a file when the stop message arrives, before the writer handles it.
  const cpuFile = path.join(dir, 'writer-cpu');
  const code =
    `const fs = require('node:fs'); const { parentPort } = require('node:worker_threads');` +
    `const ticks = () => { try { const f = fs.readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1].split(' '); return Number(f[11]) + Number(f[12]); } catch { return -1; } };` +
    `let t0 = -1; parentPort.on('message', (m) => { if (m.type === 'batch' && t0 < 0) t0 = ticks(); else if (m.type === 'stop') fs.writeFileSync(${JSON.stringify(cpuFile)}, String(ticks() - t0)); });` +
    `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); })`;
  const worker = new Worker(code, { eval: true, workerData: config });
  const last = batches.length;
  let t0 = 0;
  let t1 = 0;
  let cpu0 = process.cpuUsage();
  let cpu = 0;
  let elu0 = worker.performance.eventLoopUtilization();
  let busy = 0;
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (m: FromWriter) => {
      if (m.type === 'ready') {
        t0 = performance.now();
        cpu0 = process.cpuUsage();
        elu0 = worker.performance.eventLoopUtilization();
        for (const b of batches) worker.postMessage(b);
      } else if (m.type === 'ack' && m.id === last) {
        t1 = performance.now();
        const used = process.cpuUsage(cpu0);
        cpu = used.user + used.system;
        busy = worker.performance.eventLoopUtilization(elu0).active;
        worker.postMessage({ type: 'stop' } satisfies ToWriter);
      } else if (m.type === 'failure') reject(new Error(m.reason));
      else if (m.type === 'stopped') resolve();
    });
  });
  await worker.terminate();
  // clock ticks (USER_HZ, 100 on Linux) of the writer thread from its first batch to the stop
  const ticks = fs.existsSync(cpuFile) ? Number(fs.readFileSync(cpuFile, 'utf8')) : -1;
  const threadCpu = ticks >= 0 ? `writer thread CPU ${((ticks * 10_000) / n).toFixed(2)} µs/record; ` : '';
  // CPU time of the whole process (the writer thread, plus this thread posting the batches), and
  // the writer thread's busy time (its event loop not idle: inserting, hashing, committing, also
  // while it waits on a sync): on a shared machine both move less than the wall clock
  return (
    `writer thread alone: ${n} records, chain on: ${Math.round(n / ((t1 - t0) / 1000))} records/s ` +
    `(${threadCpu}process CPU ${(cpu / n).toFixed(2)} µs/record, ${Math.round(n / (cpu / 1e6))} records per CPU-second; ` +
    `writer busy ${((busy * 1000) / n).toFixed(2)} µs/record, ${Math.round(n / (busy / 1000))} records per busy second)`
  );
}

const line = writerOnly ? await writerAlone() : await endToEnd();
const size = fs.statSync(path.join(dir, 'audit.db')).size;
console.log(`${line}; store ${(size / n).toFixed(0)} bytes/record`);
fs.rmSync(dir, { recursive: true, force: true });
