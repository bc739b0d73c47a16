export type { AppOptions } from './app.js';
export { App } from './app.js';
export { demoBanner, demoBaseline, demoConfig, demoToken, startDemoBackends } from './demo.js';
export { installSignals } from './signals.js';
