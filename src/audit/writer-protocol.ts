/**
 * Messages between the audit pipeline (request thread) and the writer thread. A batch carries its
 * record lines joined by newlines in one string (JSON lines hold no raw newline; one flat string
 * clones as a copy, thousands of small ones cost a clone and a flatten each) and the index
 * columns as one flat array, FIELDS entries per record:
 *   kind, ts, requestId, clientIp, status, route, backend, termination, userName, action
 */
export const FIELDS = 10;

export interface SinkConfig {
  type: string;
  path?: string;
  rotateBytes?: number | null;
  keep?: number;
}

export interface WriterConfig {
  storePath: string;
  dataDir: string;
  sinks: SinkConfig[];
  /** Cursor names of the network sinks (shipped by the shipper thread): retention waits for them too. */
  networkSinks: string[];
  checkpointIntervalMs: number;
  retentionMs: number;
  retryMs: number;
  /** 0: no heartbeat events. */
  heartbeatMs: number;
  /** The instance id heartbeat records carry. */
  instance: string;
}

/** `urgent`: someone waits for this batch to be durable (durability: strict): commit it without waiting for the group window. */
export type ToWriter =
  | { type: 'batch'; id: number; lines: string; meta: (string | number | null)[]; urgent: boolean }
  | { type: 'commit' }
  | { type: 'stop' };

export type FromWriter =
  | { type: 'ready' }
  | { type: 'ack'; id: number; count: number; lastSeq: number }
  | { type: 'failure'; reason: string; queued: number }
  | { type: 'recovered'; reason: string }
  | { type: 'sink'; sink: string; error: string | null }
  | { type: 'lag'; lags: Record<string, number>; lastSeq: number }
  | { type: 'pruned'; count: number }
  | { type: 'stopped'; lastSeq: number; unwritten: number };
