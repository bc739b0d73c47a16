/**
 * Times `tollgate report` on a large store (not a test):
 *   node --import tsx scripts/bench-report.ts [N=1000000] [--data DIR] [--format md|json|html]
 * Fills a temporary store with N request rows over 7 days (the generator of bench-store.ts), or
 * reads the store already in DIR (`bench-store.ts N --keep DIR` makes one), then builds and
 * renders one report over the whole 7 days, read-only like the CLI, and prints the time, the
 * rows per second, the CPU time and the peak resident memory.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ReportFormat } from '../src/audit/index.js';
import { buildReport, renderReport } from '../src/audit/index.js';
import { openStore } from '../src/store/index.js';
import { DAY, fill, NOW } from './store-fill.js';

const args = process.argv.slice(2);
const flag = (name: string): string | null => {
  const i = args.indexOf(name);
  return i === -1 ? null : (args[i + 1] ?? null);
};
const dataDir = flag('--data');
const format = (flag('--format') ?? 'md') as ReportFormat;
const positional = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
const N = Number(positional[0] ?? 1_000_000);

const dir = dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-bench-report-'));
const file = path.join(dir, 'audit.db');
try {
  if (dataDir === null) {
    console.log(`filling ${file} with ${N.toLocaleString('en')} request rows over 7 days`);
    const writer = openStore(file);
    const { seconds } = fill(writer, N);
    writer.close();
    console.log(`fill: ${seconds.toFixed(1)} s`);
  }
  const store = openStore(file, { readonly: true });
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const report = buildReport(store, { since: NOW - 8 * DAY, until: NOW + DAY, now: NOW });
  const built = process.hrtime.bigint();
  const text = renderReport(report, format);
  const t1 = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpu0);
  store.close();
  const rows = report.audit.records_in_window;
  const seconds = Number(t1 - t0) / 1e9;
  console.log(
    `report over ${rows.toLocaleString('en')} rows: ${seconds.toFixed(2)} s wall ` +
      `(build ${(Number(built - t0) / 1e9).toFixed(2)} s, render ${format} ${(Number(t1 - built) / 1e6).toFixed(0)} ms, ` +
      `${(text.length / 1024).toFixed(0)} KiB), ${Math.round(rows / seconds).toLocaleString('en')} rows/s, ` +
      `CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB ` +
      `(${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)})`,
  );
} finally {
  if (dataDir === null) fs.rmSync(dir, { recursive: true, force: true });
}
