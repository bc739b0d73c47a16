import type { AdminEvent, RequestOutcome } from '../core/index.js';
import type { BackendHealth, BackendLoad } from '../health/index.js';
import type { ListenerView } from '../proxy/index.js';

/**
 * Messages between the primary and its workers (`workers` > 1), over node:cluster's IPC channel
 * with `serialization: 'advanced'` (structured clone: outcomes cross as plain data, strings are
 * copied, nothing is JSON-encoded). The workers serve traffic; the primary is the one place that
 * numbers and chains records (one sequencer), keeps the metrics, runs the admin API, the alerts
 * and the active health checks. See docs/adr/0007-cluster-workers.md.
 */

/** A worker's counters, sent every STATS_MS: the primary sums them for the metrics and the admin API. */
export interface WorkerStats {
  listeners: ListenerView[];
  backends: BackendLoad[];
}

export type ToPrimary =
  /** The worker's entry has loaded and listens for messages: the primary sends `init`. */
  | { t: 'hello' }
  | { t: 'ready'; stats: WorkerStats }
  /** Outcomes of finished requests, in completion order (batched per HANDOVER_MS). */
  | { t: 'outcomes'; list: RequestOutcome[] }
  | { t: 'event'; event: AdminEvent }
  /** durability: strict — answer `durable` with this id once everything sent before is committed. */
  | { t: 'durable'; id: number }
  | { t: 'stats'; stats: WorkerStats }
  | { t: 'reloaded'; id: number; error: string | null }
  | { t: 'drained'; cut: number }
  | { t: 'failed'; error: string }
  /** A rate limiter's lease from the primary's bucket `key` (see LeaseBuckets). */
  | { t: 'lease'; id: number; key: string; rate: number; burst: number; want: number };

export type ToWorker =
  | { t: 'init'; worker: number; text: string; file: string; canaryToken: string | null }
  /** The audit gate's reason to refuse new requests (fail_closed, pushback), or null. */
  | { t: 'gate'; reason: string | null }
  | { t: 'backends'; list: BackendHealth[] }
  | { t: 'durable'; id: number }
  | { t: 'reload'; id: number; text: string; file: string }
  | { t: 'drain'; deadlineMs: number }
  | { t: 'lease'; id: number; granted: number; waitMs: number };

/** How often a worker reports its counters. */
export const STATS_MS = 1000;
/** Outcomes are sent every HANDOVER_MS, or at once past HANDOVER_OUTCOMES. */
export const HANDOVER_MS = 5;
export const HANDOVER_OUTCOMES = 256;
