import type { AuthPlan } from '../config/index.js';
import { createApiKeyAuthenticator } from './api-key.js';
import type { Authenticator, AuthenticatorFactory, AuthenticatorOptions } from './authenticator.js';
import { createJwtAuthenticator } from './jwt.js';
import { createMtlsAuthenticator } from './mtls.js';

export type AuthType = AuthPlan['type'];

type Factories = { readonly [T in AuthType]: AuthenticatorFactory<Extract<AuthPlan, { type: T }>> };

const FACTORIES: Factories = {
  api_key: createApiKeyAuthenticator,
  jwt: createJwtAuthenticator,
  mtls: createMtlsAuthenticator,
};

/** The authenticator factories by `auth.type` (DESIGN rule 6). */
export const authenticators: ReadonlyMap<AuthType, AuthenticatorFactory> = new Map(
  Object.entries(FACTORIES) as [AuthType, AuthenticatorFactory][],
);

/**
 * The authenticator of one route's compiled `auth` (built once per plan: the plan's files were
 * read and checked at compile time, so this does no I/O and does not fail for a compiled plan).
 * Throws a TypeError naming the known types for an unknown one.
 */
export function createAuthenticator(plan: AuthPlan, options: AuthenticatorOptions): Authenticator {
  const factory = authenticators.get(plan.type);
  if (factory === undefined) {
    throw new TypeError(
      `unknown auth type "${String((plan as { type: unknown }).type)}"; known: ${[...authenticators.keys()].join(', ')}`,
    );
  }
  return factory(plan, options);
}
