import type { StoredRow } from '../../store/index.js';

/**
 * A destination records are shipped to from the store (the store is the outbox). Each sink has
 * its own persisted cursor in the store; `ship` is called with the rows after that cursor, in
 * seq order, and must either write all of them or throw (the cursor then stays, and the same
 * rows are offered again later: at-least-once, ordered).
 */
export interface RecordSink {
  /** Unique per sink: the cursor key (`jsonl:/abs/path`, `combined:/abs/path`, `stdout`). */
  readonly name: string;
  ship(rows: readonly StoredRow[]): void;
  close(): void;
}
