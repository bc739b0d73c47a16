/**
 * The alerts module's only public door: rules evaluated over live signals, their states and
 * admin events, the notifiers (webhook, Alertmanager) and slow-backend detection.
 */
export type { AlertEngineOptions, Deliver } from './engine.js';
export { AlertEngine, alertId } from './engine.js';
export type { AlertSources, Observation } from './evaluate.js';
export type { AlertView } from './notifiers.js';
export { deliver } from './notifiers.js';
export type { ClientCounts, Sample } from './signals.js';
export { MAX_WINDOW_MS } from './windows.js';
