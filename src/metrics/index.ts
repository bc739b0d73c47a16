/**
 * The metrics module's only public door: the SPEC §5 families in the Prometheus text format,
 * fed by request outcomes and admin events, with gauges read from the running process at scrape;
 * and the heavy-hitter sketch (top clients over sliding windows, bounded memory).
 */
export type { Labels } from './exposition.js';
export { CONTENT_TYPE, labelText, Registry } from './exposition.js';
export type { HistoryClass, HistorySeries, HistoryTier, HistoryTotals } from './history.js';
export { bucketQuantile, HISTORY_CLASSES, HISTORY_TIERS, MetricsHistory } from './history.js';
export type { SpaceSavingCounter } from './space-saving.js';
export { SpaceSaving } from './space-saving.js';
export type { MetricsSources } from './tollgate-metrics.js';
export { DURATION_BUCKETS, TollgateMetrics } from './tollgate-metrics.js';
export type { TopClient, TopClientsOptions, TopClientsStats } from './top-clients.js';
export { DEFAULT_TOP_CLIENTS_WINDOWS_MS, TopClients } from './top-clients.js';
