import type { AdminEvent, EventSink, Logger } from '../core/index.js';
import type { TokenTable } from '../store/index.js';

/** How many pending events one pass chains. */
const BATCH = 200;

export interface CommittingSink extends EventSink {
  /** Resolves when everything emitted so far is committed. */
  committed(): Promise<void>;
}

/**
 * Chains the admin events that were written to the store's `pending_events` table (by
 * `tollgate token …` in another process, or by a token change through the API in the same
 * transaction as the change): every `intervalMs` and on `kick()`. A row is deleted only after
 * its event is committed, so a crash in between chains it again with the same `event.id`.
 */
export class PendingEventPump {
  readonly #table: TokenTable;
  readonly #sink: CommittingSink;
  readonly #logger: Logger;
  readonly #timer: NodeJS.Timeout;
  #running: Promise<void> | null = null;
  #again = false;
  #closed = false;

  constructor(table: TokenTable, sink: CommittingSink, logger: Logger, intervalMs = 1000) {
    this.#table = table;
    this.#sink = sink;
    this.#logger = logger;
    this.#timer = setInterval(() => void this.kick(), intervalMs);
    this.#timer.unref();
  }

  /** Chains what is pending now; resolves when it is committed. */
  kick(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#running !== null) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#pass().finally(() => {
      this.#running = null;
      if (this.#again) {
        this.#again = false;
        void this.kick();
      }
    });
    return this.#running;
  }

  async #pass(): Promise<void> {
    for (;;) {
      let rows: { id: number; event: string }[];
      try {
        rows = this.#table.pendingEvents(BATCH);
      } catch (err) {
        this.#logger.log('warn', 'cannot read pending admin events', { error: String(err) });
        return;
      }
      if (rows.length === 0) return;
      for (const r of rows) {
        try {
          this.#sink.emit(JSON.parse(r.event) as AdminEvent);
        } catch (err) {
          this.#logger.log('error', 'a pending admin event is not readable; it is kept', {
            id: r.id,
            error: String(err),
          });
          return;
        }
      }
      await this.#sink.committed();
      try {
        this.#table.pendingDone(rows[rows.length - 1]!.id);
      } catch (err) {
        this.#logger.log('warn', 'cannot clear pending admin events', { error: String(err) });
        return;
      }
      if (rows.length < BATCH) return;
    }
  }

  /** Stops the timer and waits for a pass in progress. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#running;
  }
}
