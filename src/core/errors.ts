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
} as const;
