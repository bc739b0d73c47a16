import path from 'node:path';
import type { AuditPlan, RuntimePlan } from '../config/index.js';
import type { Logger, OutcomeObserver, RequestOutcome } from '../core/index.js';
import { combinedLine } from './combined.js';
import { LineWriter } from './line-writer.js';
import { serializeRequestRecord } from './serialize.js';

/**
 * The record path for now (the SQLite store, chain and writer thread come with the audit
 * pipeline): every outcome becomes one `tollgate.request/1` record, written as a JSON line to
 * `<data_dir>/requests.jsonl` and to each `jsonl` (with size rotation) / `stdout` sink, and as a
 * combined-format line to each `combined` sink. Write failures are counted as lost records and
 * logged, never ignored.
 */
interface Output {
  readonly writer: LineWriter;
  readonly format: 'json' | 'combined';
}

export class Recorder implements OutcomeObserver {
  readonly instance: string;
  #audit: AuditPlan;
  #outputs: Output[] = [];
  #stdout = false;
  #combined = false;
  readonly #logger: Logger;
  recorded = 0;
  lost = 0;

  constructor(plan: RuntimePlan, instance: string, logger: Logger) {
    this.instance = instance;
    this.#logger = logger;
    this.#audit = plan.audit;
    this.#open(plan);
  }

  #open(plan: RuntimePlan): void {
    const wanted = new Map<string, { format: 'json' | 'combined'; rotate: number | null; keep: number }>();
    wanted.set(path.join(plan.dataDir, 'requests.jsonl'), { format: 'json', rotate: null, keep: 0 });
    this.#stdout = false;
    for (const s of plan.audit.sinks) {
      const o = s.options;
      if (s.type === 'jsonl')
        wanted.set(String(o.path), {
          format: 'json',
          rotate: (o.rotateBytes as number | null) ?? null,
          keep: (o.keep as number | undefined) ?? 5,
        });
      else if (s.type === 'combined')
        wanted.set(String(o.path), { format: 'combined', rotate: null, keep: 0 });
      else if (s.type === 'stdout') this.#stdout = true;
    }
    const keep: Output[] = [];
    for (const out of this.#outputs) {
      const w = wanted.get(out.writer.path);
      if (w !== undefined && w.format === out.format) {
        keep.push(out);
        wanted.delete(out.writer.path);
      } else out.writer.close();
    }
    for (const [file, w] of wanted) {
      keep.push({
        writer: new LineWriter(file, (err, n) => this.#lost(err, n, file), w.rotate, w.keep),
        format: w.format,
      });
    }
    this.#outputs = keep;
    this.#combined = keep.some((o) => o.format === 'combined');
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
    const combined = this.#combined ? combinedLine(outcome, this.#audit.redactQueryParams) : '';
    this.recorded++;
    for (const o of this.#outputs) o.writer.write(o.format === 'json' ? line : combined);
    if (this.#stdout) process.stdout.write(`${line}\n`);
  }

  close(): void {
    for (const o of this.#outputs) o.writer.close();
    this.#outputs = [];
  }
}
