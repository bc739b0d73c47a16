/**
 * Messages between the audit pipeline (request thread) and the shipper thread, which sends the
 * store's records to network sinks (syslog, PostgreSQL), each from its own persisted cursor.
 */
export interface NetworkSinkConfig {
  type: 'syslog' | 'postgres' | 'otlp';
  options: Record<string, unknown>;
}

export interface ShipperConfig {
  storePath: string;
  instance: string;
  sinks: NetworkSinkConfig[];
  /** How often a caught-up sink looks for new records. */
  pollMs: number;
  /** Rows per send. */
  batch: number;
  /** First and longest wait after a failed send (doubling in between). */
  backoffMs: number;
  maxBackoffMs: number;
}

export type ToShipper = { type: 'stop' };

export type FromShipper =
  | { type: 'ready' }
  | { type: 'sink'; sink: string; error: string | null }
  /** `lag`: records committed and not yet confirmed by the sink; `lagSeconds`: age of the oldest of them. */
  | { type: 'lag'; sink: string; lag: number; lagSeconds: number; shipped: number }
  | { type: 'stopped' };
