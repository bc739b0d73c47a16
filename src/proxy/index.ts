export type { DataPlaneOptions, ListenerView } from './data-plane.js';
export { DataPlane } from './data-plane.js';
export type { ListenerRuntime } from './listener.js';
export { CANARY_HEADER, CANARY_PATH } from './pipeline.js';
