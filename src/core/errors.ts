import type { Termination } from './termination.js';

/** Where an error comes from: the client side, a backend, Tollgate itself, its config or its admin API. */
export type ErrorSource = 'downstream' | 'upstream' | 'internal' | 'config' | 'admin' | 'usage';

export interface TollgateErrorOptions {
  termination?: Termination;
  source?: ErrorSource;
  retryable?: boolean;
  status?: number;
  cause?: unknown;
}

/**
 * The one error type of Tollgate. `code` is a stable `TG_ERR_*` diagnostic listed in docs/errors.md;
 * `message` is a sentence a person can act on.
 */
export class TollgateError extends Error {
  readonly code: string;
  readonly termination: Termination | null;
  readonly source: ErrorSource;
  readonly retryable: boolean;
  readonly status: number | null;

  constructor(code: string, message: string, options: TollgateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TollgateError';
    this.code = code;
    this.termination = options.termination ?? null;
    this.source = options.source ?? 'internal';
    this.retryable = options.retryable ?? false;
    this.status = options.status ?? null;
  }
}

export function isTollgateError(value: unknown): value is TollgateError {
  return value instanceof TollgateError;
}

/** Error codes. Every one is described in docs/errors.md. */
export const ErrorCode = {
  CONFIG_INVALID: 'TG_ERR_CONFIG_INVALID',
  CONFIG_READ: 'TG_ERR_CONFIG_READ',
  LISTEN: 'TG_ERR_LISTEN',
  USAGE: 'TG_ERR_USAGE',
  /** A worker process (`workers` > 1) could not start, or did not apply a reload. */
  WORKER: 'TG_ERR_WORKER',
  /** etcd (fleet config, membership) cannot be reached or refused a call. */
  FLEET_ETCD: 'TG_ERR_FLEET_ETCD',
  /** Another instance changed the fleet config since this one applied it (compare-and-swap lost). */
  FLEET_CONFLICT: 'TG_ERR_FLEET_CONFLICT',
  /** A fleet config change touched keys that belong to each instance's own file. */
  FLEET_LOCAL_KEY: 'TG_ERR_FLEET_LOCAL_KEY',
  /** Redis (fleet-wide counters) cannot be reached; limits fall back to each instance's own. */
  FLEET_REDIS: 'TG_ERR_FLEET_REDIS',
} as const;
