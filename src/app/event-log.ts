import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { LineWriter } from '../audit/index.js';
import type { AdminEvent, EventSink, Logger } from '../core/index.js';

/**
 * Admin and system events, for now as `tollgate.admin/1` JSON lines in `<data_dir>/events.jsonl`
 * and on the operational log (the chained store takes them over with the audit pipeline).
 */
export class EventLog implements EventSink {
  readonly #writer: LineWriter;
  readonly #logger: Logger;
  readonly #listeners: ((e: AdminEvent) => void)[] = [];

  constructor(dataDir: string, logger: Logger) {
    this.#logger = logger;
    this.#writer = new LineWriter(path.join(dataDir, 'events.jsonl'), (err) =>
      logger.log('error', 'admin event could not be written', { error: err.message }),
    );
  }

  /** For tests and the admin stream: called with every event. */
  subscribe(fn: (e: AdminEvent) => void): void {
    this.#listeners.push(fn);
  }

  emit(e: AdminEvent): void {
    const record = {
      schema: 'tollgate.admin/1',
      '@timestamp': new Date().toISOString(),
      event: { id: randomUUID(), action: e.action, outcome: e.outcome, reason: e.reason },
      user: { name: e.actor, roles: e.roles },
      source: { address: e.sourceAddress },
      http: { request: { method: e.method } },
      url: { path: e.path },
      tollgate: { diff: e.diff, labels: e.labels, chain: { seq: null, hash: null } },
    };
    this.#writer.write(JSON.stringify(record));
    this.#logger.log(e.outcome === 'failure' ? 'warn' : 'info', e.action, {
      reason: e.reason,
      actor: e.actor,
      ...e.labels,
    });
    for (const fn of this.#listeners) fn(e);
  }

  close(): void {
    this.#writer.close();
  }
}
