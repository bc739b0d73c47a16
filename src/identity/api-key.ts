import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKeyAuthPlan } from '../config/index.js';
import type { AuthDone, Authenticator, AuthSubject, AuthVerdict } from './authenticator.js';
import { anonymous, identified, refuse } from './authenticator.js';

/**
 * `auth: { type: api_key }`: the key is read from one header, hashed with SHA-256 and compared
 * with every listed digest in constant time (`timingSafeEqual`, no early exit), so neither the
 * answer's timing nor anything stored reveals a key. `user.name` is the matching entry's name.
 */
export class ApiKeyAuthenticator implements Authenticator {
  readonly type = 'api_key';
  readonly #header: string;
  readonly #required: boolean;
  readonly #digests: readonly Buffer[];
  readonly #names: readonly string[];
  readonly #missing: string;
  readonly #challenge: string;

  constructor(plan: ApiKeyAuthPlan) {
    this.#header = plan.header;
    this.#required = plan.required;
    this.#digests = plan.keys.map((k) => k.sha256);
    this.#names = plan.keys.map((k) => k.name);
    this.#missing = `no API key in header ${plan.header}`;
    this.#challenge = `ApiKey header="${plan.header}"`;
  }

  authenticate(subject: AuthSubject, _done: AuthDone): AuthVerdict {
    const value = subject.req.headers[this.#header];
    if (value === undefined || value === '') {
      return this.#required
        ? refuse(subject, 'auth_failed', this.#missing, this.#challenge)
        : anonymous(subject);
    }
    const digest = createHash('sha256')
      .update(typeof value === 'string' ? value : value.join(', '))
      .digest();
    const digests = this.#digests;
    let found = -1;
    for (let i = 0; i < digests.length; i++) {
      // every digest is compared, also after a match: the time taken does not depend on which key matched
      if (timingSafeEqual(digest, digests[i]!) && found === -1) found = i;
    }
    if (found === -1) return refuse(subject, 'auth_failed', 'unknown API key', this.#challenge);
    return identified(subject, 'api_key', this.#names[found]!);
  }
}

export function createApiKeyAuthenticator(plan: ApiKeyAuthPlan): Authenticator {
  return new ApiKeyAuthenticator(plan);
}
