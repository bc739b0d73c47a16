import path from 'node:path';
import type { AuditPlan, RuntimePlan } from '../config/index.js';
import type { Logger, OutcomeObserver, RequestOutcome } from '../core/index.js';
import { LineWriter } from './line-writer.js';
import { serializeRequestRecord } from './serialize.js';

/**
 * The record path for now (the SQLite store, chain and writer thread come with the audit
 * pipeline): every outcome becomes one `tollgate.request/1` record, written as a JSON line to
 * `<data_dir>/requests.jsonl` and to each `jsonl` / `stdout` sink. Write failures are counted
 * as lost records and logged, never ignored.
 */
export class Recorder implements OutcomeObserver {
  readonly instance: string;
  #audit: AuditPlan;
  #writers: LineWriter[] = [];
  #stdout: boolean;
  #logger: Logger;
  recorded = 0;
  lost = 0;

  constructor(plan: RuntimePlan, instance: string, logger: Logger) {
    this.instance = instance;
    this.#logger = logger;
    this.#audit = plan.audit;
    this.#stdout = false;
    this.#open(plan);
  }

  #open(plan: RuntimePlan): void {
    const files = new Set<string>([path.join(plan.dataDir, 'requests.jsonl')]);
    this.#stdout = false;
    for (const s of plan.audit.sinks) {
      if (s.type === 'jsonl') files.add(String(s.options.path));
      if (s.type === 'stdout') this.#stdout = true;
    }
    const keep: LineWriter[] = [];
    for (const w of this.#writers) {
      if (files.has(w.path)) {
        keep.push(w);
        files.delete(w.path);
      } else w.close();
    }
    for (const f of files) keep.push(new LineWriter(f, (err, n) => this.#lost(err, n, f)));
    this.#writers = keep;
  }

  #lost(err: Error, lines: number, file: string): void {
    this.lost += lines;
    this.#logger.log('error', 'records could not be written', { file, lines, error: err.message });
  }

  /** Applies a new plan's audit settings (redaction, sinks). */
  reload(plan: RuntimePlan): void {
    this.#audit = plan.audit;
    this.#open(plan);
  }

  onOutcome(outcome: RequestOutcome): void {
    const line = serializeRequestRecord(outcome, this.#audit, this.instance);
    this.recorded++;
    for (const w of this.#writers) w.write(line);
    if (this.#stdout) process.stdout.write(`${line}\n`);
  }

  close(): void {
    for (const w of this.#writers) w.close();
    this.#writers = [];
  }
}
