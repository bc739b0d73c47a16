export type { ListenerRuntime } from './listener.js';
export type { ProxyOptions } from './proxy.js';
export { Proxy } from './proxy.js';
