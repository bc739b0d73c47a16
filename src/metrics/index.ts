/**
 * The metrics module's only public door: the SPEC §5 families in the Prometheus text format,
 * fed by request outcomes and admin events, with gauges read from the running process at scrape.
 */
export type { Labels } from './exposition.js';
export { CONTENT_TYPE, labelText, Registry } from './exposition.js';
export type { MetricsSources } from './tollgate-metrics.js';
export { DURATION_BUCKETS, TollgateMetrics } from './tollgate-metrics.js';
