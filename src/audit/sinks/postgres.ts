import type { StoredRow } from '../../store/index.js';
import { CentralStore } from '../central-store.js';
import type { NetworkSink } from './network-sink.js';

/**
 * Ships records to the central PostgreSQL store (central-store.ts): a multi-row insert per batch,
 * acknowledged by the commit, idempotent on replay.
 */
export class PostgresSink implements NetworkSink {
  readonly name: string;
  readonly confirmAfterMs = 0;
  readonly #store: CentralStore;
  readonly #instance: string;

  constructor(url: string, table: string, instance: string) {
    const u = new URL(url);
    this.name = `postgres://${u.host}${u.pathname}#${table}`;
    this.#store = new CentralStore(url, table);
    this.#instance = instance;
  }

  send(rows: readonly StoredRow[]): Promise<void> {
    return this.#store.insert(this.#instance, rows);
  }

  close(): Promise<void> {
    return this.#store.close();
  }
}
