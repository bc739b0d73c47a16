import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { AuthPlan } from '../config/index.js';
import type { Clock, IdentityMethod } from '../core/index.js';

/**
 * An Authenticator decides who a request is, for one route (DESIGN rule 6: a small interface,
 * a registry by config name, one contract test for every implementation).
 *
 * It reads the request through an `AuthSubject` and writes the identity (or the reason for a
 * refusal) back into it: the proxy's per-request context is the subject, so nothing is
 * allocated for the answer. Rules every implementation keeps:
 * - `authenticate` answers `ok`, `auth_failed` or `forbidden` at once, or `pending` and then
 *   calls `done(subject, verdict)` exactly once, later (never synchronously);
 * - on `ok` it sets `identityMethod` (its own method, or `anonymous` when the route lets
 *   requests without credentials through) and `userName` (null when anonymous);
 * - on a refusal it sets `errorMessage` to a reason a person can act on, and leaves `userName`
 *   null; it may set `challenge` (the `WWW-Authenticate` value of the 401);
 * - no message, log line or field it writes ever contains the credential (key, token, JWT text).
 */
export type AuthVerdict = 'ok' | 'auth_failed' | 'forbidden';

export interface AuthSubject {
  readonly req: { readonly headers: IncomingHttpHeaders; readonly socket: Socket };
  userName: string | null;
  identityMethod: IdentityMethod;
  errorMessage: string | null;
  /** `WWW-Authenticate` for the 401 reply; null for none. */
  challenge: string | null;
}

/**
 * Called once with the verdict of an authentication that answered `pending`. It must not throw
 * (the pipeline's handles its own errors): it runs at the end of the authenticator's async work.
 */
export type AuthDone = (subject: AuthSubject, verdict: AuthVerdict) => void;

export interface Authenticator {
  readonly type: AuthPlan['type'];
  authenticate(subject: AuthSubject, done: AuthDone): AuthVerdict | 'pending';
}

export interface AuthenticatorOptions {
  /** Time for token validity checks (`exp`, `nbf`). */
  readonly clock: Clock;
}

export type AuthenticatorFactory<P extends AuthPlan = AuthPlan> = (
  plan: P,
  options: AuthenticatorOptions,
) => Authenticator;

/** Sets the refusal on the subject and returns its verdict. */
export function refuse(
  subject: AuthSubject,
  verdict: 'auth_failed' | 'forbidden',
  message: string,
  challenge: string | null,
): AuthVerdict {
  subject.userName = null;
  subject.errorMessage = message;
  subject.challenge = challenge;
  return verdict;
}

/** Lets a request without credentials through, as anonymous (routes with `required: false`). */
export function anonymous(subject: AuthSubject): AuthVerdict {
  subject.userName = null;
  subject.identityMethod = 'anonymous';
  return 'ok';
}

/** Sets an established identity. */
export function identified(subject: AuthSubject, method: IdentityMethod, user: string): AuthVerdict {
  subject.userName = user;
  subject.identityMethod = method;
  return 'ok';
}

/** A value from a client or certificate as a message quotes it: JSON-quoted, at most 100 characters. */
export function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}…` : text);
}
