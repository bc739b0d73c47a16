import type { StoredRow } from '../../store/index.js';

/**
 * A network destination for records, driven by the shipper thread. `send` resolves once the rows
 * are delivered as far as the protocol can tell, or rejects (the shipper then backs off and sends
 * the same rows again from the last confirmed cursor: at-least-once, in seq order).
 *
 * `confirmAfterMs` is for protocols without acknowledgements (syslog over TCP/TLS/UDP): a write
 * the kernel accepted may still die in a receiver that crashes, so the shipper advances the
 * persisted cursor only over rows sent at least that long ago with no failure since; after a
 * failure it rewinds to it and sends them again (duplicates rather than gaps).
 */
export interface NetworkSink {
  readonly name: string;
  readonly confirmAfterMs: number;
  send(rows: readonly StoredRow[]): Promise<void>;
  close(): Promise<void>;
}
