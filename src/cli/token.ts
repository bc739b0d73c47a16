import os from 'node:os';
import { changeRole, createToken, revokeToken, tokenView } from '../admin/index.js';
import { ErrorCode, parseDuration, TollgateError } from '../core/index.js';
import { openStore } from '../store/index.js';
import { table } from './format.js';
import type { StoreOptions } from './store-location.js';
import { storeLocation } from './store-location.js';

/** The CLI acts as the local operator: whoever can run it against the data dir. */
function localActor(): string {
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {}
  return `local:${user}`;
}

function withStore<T>(o: StoreOptions, fn: (store: ReturnType<typeof openStore>) => T): T {
  const store = openStore(storeLocation(o).storePath);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

export interface TokenCreateOptions extends StoreOptions {
  name: string;
  role: string;
  ttl?: string;
  json?: boolean;
}

/**
 * `tollgate token create`: prints the token once (only the token; `--json` adds name, role and
 * expiry) and stores its SHA-256. The events (`token_created`, `privilege_granted`) wait in the
 * store until the running Tollgate chains them (within a second), or until the next start.
 */
export function tokenCreateCommand(o: TokenCreateOptions): void {
  let ttlMs: number | null = null;
  if (o.ttl !== undefined) {
    try {
      ttlMs = parseDuration(o.ttl);
    } catch (err) {
      throw new TollgateError(ErrorCode.USAGE, `--ttl: ${(err as Error).message}`, { source: 'usage' });
    }
  }
  const now = Date.now();
  const { token, row } = withStore(o, (store) =>
    createToken(store.tokens, {
      name: o.name,
      role: o.role,
      ttlMs,
      actor: localActor(),
      actorRole: null,
      source: null,
      now,
    }),
  );
  if (o.json === true) {
    const expires = row.expiresAt === null ? null : new Date(row.expiresAt).toISOString();
    process.stdout.write(`${JSON.stringify({ name: row.name, role: row.role, token, expires })}\n`);
  } else process.stdout.write(`${token}\n`);
}

export function tokenListCommand(o: StoreOptions & { json?: boolean }): void {
  const now = Date.now();
  const rows = withStore(o, (store) => store.tokens.list()).map((r) => tokenView(r, now));
  if (o.json === true) {
    for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write('no tokens\n');
    return;
  }
  const cols = ['name', 'role', 'state', 'created', 'expires', 'created_by'];
  process.stdout.write(
    table(
      cols,
      rows.map((r) => cols.map((c) => String(r[c] ?? '-'))),
    ),
  );
}

export function tokenRevokeCommand(name: string, o: StoreOptions): void {
  withStore(o, (store) => revokeToken(store.tokens, name, localActor(), null, null, Date.now()));
  process.stdout.write(`revoked ${name}\n`);
}

export function tokenRoleCommand(name: string, role: string, o: StoreOptions): void {
  const { before, after } = withStore(o, (store) =>
    changeRole(store.tokens, name, role, localActor(), null, null, Date.now()),
  );
  process.stdout.write(`${name}: ${before} -> ${after}\n`);
}
