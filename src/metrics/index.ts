export type { SpaceSavingCounter } from './space-saving.js';
export { SpaceSaving } from './space-saving.js';
export type { TopClient, TopClientsOptions, TopClientsStats } from './top-clients.js';
export { DEFAULT_TOP_CLIENTS_WINDOWS_MS, TopClients } from './top-clients.js';
