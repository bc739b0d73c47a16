export { ActiveChecker } from './active-checker.js';
export type { BackendHealth } from './backend-registry.js';
export { BackendRegistry } from './backend-registry.js';
export { BackendState } from './backend-state.js';
