/**
 * What the embedded store keeps: one row per chained record (requests and admin events share
 * one sequence and one hash chain), signed checkpoints, per-sink cursors and retention anchors.
 */
export type RowKind = 'request' | 'admin';

export interface StoredRow {
  /** Position in the chain, from 1, gap-free. */
  seq: number;
  kind: RowKind;
  /** Epoch milliseconds of the record (`event.end` for requests, `@timestamp` for admin events). */
  ts: number;
  /** The canonical record text (JSON, `tollgate.chain.seq` set, `tollgate.chain.hash` null): what the hash covers. */
  rec: string;
  /** hex SHA-256(previous hash ‖ rec). */
  hash: string;
  // filter columns (null where not applicable; all null for admin rows except userName/action)
  requestId: string | null;
  clientIp: string | null;
  status: number | null;
  route: string | null;
  backend: string | null;
  termination: string | null;
  userName: string | null;
  /** Admin rows: `event.action`. */
  action: string | null;
}

/** The filters of `tollgate query` (SPEC §1) and `GET /api/v1/requests`. */
export interface QueryFilters {
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  /** An exact status, or a class: 500..599 for "5xx". */
  status?: { min: number; max: number };
  /** An IP address or a CIDR range. */
  clientIp?: string;
  user?: string;
  route?: string;
  backend?: string;
  termination?: string;
  requestId?: string;
  /** Only rows with seq below this (paging newest first). */
  beforeSeq?: number;
}

export interface Checkpoint {
  seq: number;
  hash: string;
  /** Epoch ms when it was signed. */
  ts: number;
  /** base64 Ed25519 signature over `tollgate.checkpoint/1 ${seq} ${hash} ${ts}`. */
  signature: string;
  /** Why: `interval`, `shutdown`, `retention` (an anchor before pruned rows). */
  reason: string;
}

/**
 * Where the remaining chain starts after retention pruned its oldest records: the seq and hash
 * of the last pruned record, signed like a checkpoint (`tollgate.checkpoint/1 ${seq} ${hash} ${ts}`).
 */
export interface Anchor {
  seq: number;
  hash: string;
  /** Epoch ms when it was signed. */
  ts: number;
  /** base64 Ed25519 signature. */
  signature: string;
}

/** The filters of `GET /api/v1/events` (admin rows only). */
export interface EventFilters {
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  /** `event.action`, exact. */
  action?: string;
  /** Any of these actions (with `action`: both must hold). */
  actions?: readonly string[];
  /** The actor (`user.name`), exact. */
  user?: string;
  /**
   * Leave out successful admin API reads (`admin_request` events of GET/HEAD calls that
   * succeeded): what a dashboard's polling adds. Refusals and changes stay.
   */
  withoutReads?: boolean;
  /** Only rows with seq below this (paging newest first). */
  beforeSeq?: number;
}

export interface StatusCount {
  status: number;
  count: number;
}

export interface StoreOptions {
  /** Open an existing store for reading only (CLI, admin API) while the writer runs. */
  readonly?: boolean;
  /** Epoch-ms clock for `applied_at` and `updated_at` stamps (injected in tests). */
  now?: () => number;
  /**
   * SQLite's page cache for this connection, KiB (default 65,536: 64 MiB, for the CLI's queries
   * over large stores). The long-lived connections of a running Tollgate (writer, shipper, admin)
   * pass less: they touch recent pages, and every MiB here is resident memory.
   */
  cacheKiB?: number;
}
