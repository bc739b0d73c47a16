export { ActiveChecker } from './active-checker.js';
export type { BackendHealth, BackendLoad } from './backend-registry.js';
export { BackendRegistry } from './backend-registry.js';
export { BackendState } from './backend-state.js';
