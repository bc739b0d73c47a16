export { ActiveChecker } from './active-checker.js';
export { BackendRegistry } from './backend-registry.js';
export { BackendState } from './backend-state.js';
