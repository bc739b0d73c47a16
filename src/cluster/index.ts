export type { ClusterHost, WorkerView } from './primary.js';
export { ClusterPrimary } from './primary.js';
export type { ToPrimary, ToWorker, WorkerStats } from './protocol.js';
