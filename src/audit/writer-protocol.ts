/**
 * Messages between the audit pipeline (request thread) and the writer thread. Records travel as
 * one flat array per batch, FIELDS entries per record, so structured cloning stays cheap:
 *   kind, ts, line, requestId, clientIp, status, route, backend, termination, userName, action
 */
export const FIELDS = 11;

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
  checkpointIntervalMs: number;
  retentionMs: number;
  retryMs: number;
}

export type ToWriter = { type: 'batch'; id: number; flat: (string | number | null)[] } | { type: 'stop' };

export type FromWriter =
  | { type: 'ready' }
  | { type: 'ack'; id: number; count: number; lastSeq: number }
  | { type: 'failure'; reason: string; queued: number }
  | { type: 'recovered'; reason: string }
  | { type: 'sink'; sink: string; error: string | null }
  | { type: 'lag'; lags: Record<string, number>; lastSeq: number }
  | { type: 'pruned'; count: number }
  | { type: 'stopped'; lastSeq: number; unwritten: number };
