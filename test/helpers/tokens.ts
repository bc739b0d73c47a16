import { createToken } from '../../src/admin/index.js';
import { openStore } from '../../src/store/index.js';
import type { Harness } from './tollgate.js';

/** Makes an admin API token in the harness's store, the way `tollgate token create` does. */
export function token(h: Harness, name: string, role: string, ttlMs: number | null = null): string {
  const store = openStore(h.app.plan.audit.storePath);
  try {
    return createToken(store.tokens, {
      name,
      role,
      ttlMs,
      actor: 'local:test',
      actorRole: null,
      source: null,
      now: Date.now(),
    }).token;
  } finally {
    store.close();
  }
}
