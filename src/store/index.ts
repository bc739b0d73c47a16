/**
 * The store module's only public door: the embedded SQLite audit store (one writer connection in
 * the audit writer thread, read-only connections for the CLI and the admin API).
 */
export type { ClientIpMatch } from './client-ip.js';
export { canonicalIp, parseClientIp } from './client-ip.js';
export { openStore, SERVER_CACHE_KIB, STREAM_CACHE_KIB } from './database.js';
export type { ErrorGroupRow } from './error-groups.js';
export { StoreErrorCode } from './errors.js';
export type { FilterName, FilterText } from './filters.js';
export {
  FILTER_KEYS,
  flagName,
  paramName,
  parseFilters,
  parseStatus,
  parseTime,
  rowMatcher,
} from './filters.js';
export type { Migration } from './migrations.js';
export { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
export type {
  ReportAdminRow,
  ReportQueries,
  ReportRequestRow,
  RequestTotals,
  TotalsFilter,
} from './report-queries.js';
export type { AnchorSignature, StoreContext } from './store.js';
export { Store } from './store.js';
export type { TokenRow } from './tokens.js';
export { TokenTable } from './tokens.js';
export type {
  Anchor,
  Checkpoint,
  EventFilters,
  QueryFilters,
  RowKind,
  StatusCount,
  StoredRow,
  StoreOptions,
} from './types.js';
