/**
 * The identity module's only public door: who a request is (authenticators by `auth.type`) and
 * how often it may come (token-bucket rate limiters whose state survives reloads). Used by the
 * proxy's admit phase.
 */
export type {
  AuthDone,
  Authenticator,
  AuthenticatorFactory,
  AuthenticatorOptions,
  AuthSubject,
  AuthVerdict,
} from './authenticator.js';
export type { RateLimiterOptions } from './rate-limiter.js';
export { RateLimiter } from './rate-limiter.js';
export type { RateLimitsOptions } from './rate-limits.js';
export { RateLimits } from './rate-limits.js';
export type { AuthType } from './registry.js';
export { authenticators, createAuthenticator } from './registry.js';
export type { Lease, SharedBuckets } from './shared-buckets.js';
