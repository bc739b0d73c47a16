/**
 * The admin module's only public door: the admin API server (SPEC §4), tokens and roles for the
 * CLI, and the pump that chains admin events other processes left in the store.
 */
export type { Elevation, Schedule } from './elevation.js';
export type { AdminContext, AdminHost } from './host.js';
export type { CommittingSink } from './pending-events.js';
export { PendingEventPump } from './pending-events.js';
export type { Role } from './roles.js';
export { isRole, ROLES } from './roles.js';
export { ROUTES } from './routes.js';
export type { AdminServerOptions } from './server.js';
export { AdminServer } from './server.js';
export type { AuthResult, CreateToken } from './tokens.js';
export {
  authenticate,
  changeRole,
  createToken,
  hashToken,
  revokeToken,
  TOKEN_PREFIX,
  TokenErrorCode,
  tokenView,
} from './tokens.js';
