export type { DataPlaneOptions } from './data-plane.js';
export { DataPlane } from './data-plane.js';
export type { ListenerRuntime } from './listener.js';
