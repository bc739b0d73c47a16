import { ErrorCode, TollgateError } from '../core/index.js';

/**
 * The store's diagnostic codes (docs/errors.md). They live here rather than in core's
 * `ErrorCode` until core adopts them; the strings are the contract.
 */
export const StoreErrorCode = {
  /** A reader found no store at the path (nothing recorded with this data dir yet). */
  MISSING: 'TG_ERR_STORE_MISSING',
  /** The file exists but cannot be opened as a store (permissions, not a database, corrupt). */
  OPEN: 'TG_ERR_STORE_OPEN',
  /** The store's schema is newer than this build, or a reader found it not yet migrated. */
  SCHEMA: 'TG_ERR_STORE_SCHEMA',
  /** A write failed (disk full, read-only file, I/O error, constraint). */
  WRITE: 'TG_ERR_STORE_WRITE',
} as const;

function sqliteCode(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : null;
}

/** The cause's message, with SQLite's code when it has one ("disk I/O error (SQLITE_IOERR_WRITE)"). */
function reason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = sqliteCode(err);
  return code === null ? message : `${message} (${code})`;
}

/** A failed write, named by what was being written; retryable unless the data itself was refused. */
export function writeError(file: string, what: string, err: unknown): TollgateError {
  if (err instanceof TollgateError) return err;
  const refused = sqliteCode(err)?.startsWith('SQLITE_CONSTRAINT') === true;
  return new TollgateError(
    StoreErrorCode.WRITE,
    `could not write ${what} to the audit store ${file}: ${reason(err)}`,
    { source: 'internal', retryable: !refused, cause: err },
  );
}

export function openError(file: string, err: unknown): TollgateError {
  if (err instanceof TollgateError) return err;
  return new TollgateError(
    StoreErrorCode.OPEN,
    `cannot open the audit store ${file}: ${reason(err)}; check the file's permissions and that it is a Tollgate store`,
    { source: 'internal', cause: err },
  );
}

export function missingError(file: string): TollgateError {
  return new TollgateError(
    StoreErrorCode.MISSING,
    `no audit store at ${file}: nothing has been recorded with this data dir yet, or the data dir is not the one Tollgate writes to`,
    { source: 'usage' },
  );
}

/** A caller's mistake in a filter or argument (from `tollgate query` flags, the admin API). */
export function usageError(message: string): TollgateError {
  return new TollgateError(ErrorCode.USAGE, message, { source: 'usage' });
}

export function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw usageError(`${name} must be a positive integer, not ${String(value)}`);
  return value;
}
