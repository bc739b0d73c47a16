/**
 * `tollgate report`: a review of a time window built from the store alone (build.ts), and its
 * Markdown, JSON and HTML forms (render.ts). Re-exported by the audit module's index.
 */
export type { ReportOptions } from './build.js';
export { buildReport } from './build.js';
export { ALPHA as PERCENTILE_RELATIVE_ERROR, DurationHistogram } from './histogram.js';
export type { ReportFormat } from './render.js';
export { htmlText, mdText, plain, REPORT_FORMATS, renderReport } from './render.js';
export { SLOW_RULE } from './slow-backends.js';
export { SpaceSaving } from './top-k.js';
export type { Report, ReviewSection } from './types.js';
export { REPORT_SCHEMA } from './types.js';
