/**
 * What it costs to get one request's outcome from a cluster worker to the primary (ADR 0007):
 *   node --import tsx scripts/bench-ipc.ts [N=100000] [ROUNDS=3]
 * A forked child sends N synthetic outcomes in batches of 256 over node's IPC channel, as a
 * worker does, in three ways, interleaved over ROUNDS: the outcome objects with `advanced`
 * serialization (what Tollgate does), the same with `json` serialization, and record lines
 * serialized in the child (the alternative: workers serialize, the primary only chains).
 * Printed per way: CPU µs per outcome in the child (sending) and in the parent (receiving, plus
 * for outcomes the record serialization the primary then does), medians of the rounds.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { serializeRequestRecord } from '../src/audit/index.js';
import { compileConfigText } from '../src/config/index.js';
import type { RequestOutcome } from '../src/core/index.js';
import { benchOutcome } from './outcome-fixture.js';

type Way = 'advanced' | 'json' | 'text' | 'lines';
const BATCH = 256;
const plan = compileConfigText(
  `listeners: [{ name: public, address: 127.0.0.1:0 }]
routes: [{ name: r, pool: p }]
pools: [{ name: p, backends: [{ name: b, address: 127.0.0.1:9 }] }]
`,
  '/tmp/bench-ipc.yaml',
);

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

if (process.env.BENCH_IPC_CHILD !== undefined) {
  const way = process.env.BENCH_IPC_CHILD as Way;
  const n = Number(process.env.BENCH_IPC_N);
  const base = Date.now();
  const outcomes: RequestOutcome[] = [];
  for (let i = 0; i < n; i++) outcomes.push(benchOutcome(i, base));
  const start = cpuMicros();
  let i = 0;
  const step = () => {
    for (let k = 0; k < 8 && i < n; k++) {
      const end = Math.min(n, i + BATCH);
      if (way === 'lines') {
        const lines: string[] = [];
        for (let j = i; j < end; j++) lines.push(serializeRequestRecord(outcomes[j]!, plan.audit, 'bench'));
        process.send!({ t: 'lines', lines: lines.join('\n'), count: end - i });
      } else if (way === 'text') process.send!({ t: 'text', text: JSON.stringify(outcomes.slice(i, end)) });
      else process.send!({ t: 'outcomes', list: outcomes.slice(i, end) });
      i = end;
    }
    if (i < n) setImmediate(step);
    else process.send!({ t: 'done', cpu: cpuMicros() - start });
  };
  step();
} else {
  const n = Number(process.argv[2] ?? 100_000);
  const rounds = Number(process.argv[3] ?? 3);
  const self = fileURLToPath(import.meta.url);
  const run = (way: Way): Promise<{ child: number; parent: number }> =>
    new Promise((resolve, reject) => {
      const child = fork(self, [], {
        env: { ...process.env, BENCH_IPC_CHILD: way, BENCH_IPC_N: String(n) },
        serialization: way === 'json' ? 'json' : 'advanced',
      });
      // everything the parent does from the first message to the last is receiving (its loop is otherwise idle)
      let first = 0;
      let received = 0;
      child.on(
        'message',
        (m: {
          t: string;
          list?: RequestOutcome[];
          text?: string;
          lines?: string;
          count?: number;
          cpu?: number;
        }) => {
          if (first === 0) first = cpuMicros();
          if (m.t === 'outcomes') {
            // the primary's work per outcome: the record line (metrics and alerts are the same either way)
            for (const o of m.list!) serializeRequestRecord(o, plan.audit, 'bench');
            received += m.list!.length;
          } else if (m.t === 'text') {
            const list = JSON.parse(m.text!) as RequestOutcome[];
            for (const o of list) serializeRequestRecord(o, plan.audit, 'bench');
            received += list.length;
          } else if (m.t === 'lines') {
            received += m.count!;
          }
          if (m.t === 'done') {
            const parent = cpuMicros() - first;
            if (received !== n) reject(new Error(`${way}: received ${received} of ${n}`));
            child.kill();
            resolve({ child: m.cpu! / n, parent: parent / n });
          }
        },
      );
      child.on('error', reject);
    });
  const results: Record<Way, { child: number[]; parent: number[] }> = {
    advanced: { child: [], parent: [] },
    json: { child: [], parent: [] },
    text: { child: [], parent: [] },
    lines: { child: [], parent: [] },
  };
  const ways: Way[] = ['advanced', 'json', 'text', 'lines'];
  for (let r = 0; r < rounds; r++) {
    for (const way of r % 2 === 0 ? ways : [...ways].reverse()) {
      const x = await run(way);
      results[way].child.push(x.child);
      results[way].parent.push(x.parent);
    }
  }
  // the record line alone, in this process (what the primary would do without any IPC)
  const local: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const base = Date.now();
    const list: RequestOutcome[] = [];
    for (let i = 0; i < n; i++) list.push(benchOutcome(i, base));
    const t0 = cpuMicros();
    for (const o of list) serializeRequestRecord(o, plan.audit, 'bench');
    local.push((cpuMicros() - t0) / n);
  }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  console.log(`${n} outcomes, batches of ${BATCH}, ${rounds} rounds (CPU µs per outcome, medians)`);
  console.log('way\tworker (send)\tprimary (receive + record line)\ttotal');
  for (const way of ways) {
    const c = median(results[way].child);
    const p = median(results[way].parent);
    console.log(`${way}\t${c.toFixed(2)}\t${p.toFixed(2)}\t${(c + p).toFixed(2)}`);
  }
  console.log(`record line alone, no IPC: ${median(local).toFixed(2)} µs per outcome`);
}
