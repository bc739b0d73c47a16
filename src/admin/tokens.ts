import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { AdminEvent } from '../core/index.js';
import { isoMicros, systemEvent, TollgateError } from '../core/index.js';
import type { TokenRow, TokenTable } from '../store/index.js';
import type { Role } from './roles.js';
import { isRole, ROLES, roleRank } from './roles.js';

/** Every token starts with this, so a leaked one is easy to recognise (and to scan logs for). */
export const TOKEN_PREFIX = 'tgt_';

export const TokenErrorCode = {
  /** A token name or role the CLI or API was given is not acceptable. */
  INVALID: 'TG_ERR_TOKEN_INVALID',
  /** A live token of that name exists already. */
  EXISTS: 'TG_ERR_TOKEN_EXISTS',
  /** No live token of that name. */
  UNKNOWN: 'TG_ERR_TOKEN_UNKNOWN',
} as const;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

function tokenError(code: string, message: string): TollgateError {
  return new TollgateError(code, message, { source: 'usage' });
}

/** 32 random bytes, base64url: 256 bits, so a stored SHA-256 is as good as a password hash. */
export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export type AuthResult =
  | { ok: true; name: string; role: Role }
  | { ok: false; name: string | null; reason: string };

/**
 * Checks a presented bearer token against every stored hash, each compared in constant time and
 * none skipped, so the time taken says nothing about which token (if any) was close.
 */
export function authenticate(table: TokenTable, presented: string, nowMs: number): AuthResult {
  const digest = createHash('sha256').update(presented).digest();
  let found: TokenRow | null = null;
  for (const row of table.list()) {
    const stored = Buffer.from(row.hash, 'hex');
    if (stored.length === digest.length && timingSafeEqual(stored, digest) && found === null) found = row;
  }
  if (found === null) return { ok: false, name: null, reason: 'unknown token' };
  if (found.revokedAt !== null)
    return {
      ok: false,
      name: found.name,
      reason: `token ${found.name} was revoked ${isoMicros(found.revokedAt)}`,
    };
  if (found.expiresAt !== null && nowMs >= found.expiresAt)
    return {
      ok: false,
      name: found.name,
      reason: `token ${found.name} expired ${isoMicros(found.expiresAt)}`,
    };
  if (!isRole(found.role))
    return { ok: false, name: found.name, reason: `token ${found.name} has no known role` };
  return { ok: true, name: found.name, role: found.role };
}

export interface CreateToken {
  name: string;
  role: string;
  /** Null: it never expires. */
  ttlMs: number | null;
  /** Who creates it: a token name, or `local:USER` for the CLI. */
  actor: string;
  /** The actor's role, or null for the local operator (who has the data dir, so every power). */
  actorRole: Role | null;
  source: string | null;
  now: number;
}

function pending(e: AdminEvent, now: number): string {
  return JSON.stringify({ ...e, id: randomUUID(), at: now });
}

function checkRole(role: string): Role {
  if (!isRole(role))
    throw tokenError(TokenErrorCode.INVALID, `role "${role}" is not one of ${ROLES.join(', ')}`);
  return role;
}

function live(row: TokenRow | null, now: number): boolean {
  return row !== null && row.revokedAt === null && (row.expiresAt === null || row.expiresAt > now);
}

/**
 * Creates a token: stores its hash with name, role, creator and expiry, and queues the events
 * (`token_created`; `privilege_granted` too when the role is above viewer) in the same
 * transaction. Returns the token, which exists nowhere else: print it once.
 */
export function createToken(table: TokenTable, c: CreateToken): { token: string; row: TokenRow } {
  if (!NAME.test(c.name))
    throw tokenError(
      TokenErrorCode.INVALID,
      `token name "${c.name}" must be 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit`,
    );
  const role = checkRole(c.role);
  if (live(table.get(c.name), c.now))
    throw tokenError(
      TokenErrorCode.EXISTS,
      `a live token named ${c.name} exists; revoke it first or pick another name`,
    );
  const token = newToken();
  const row: TokenRow = {
    name: c.name,
    hash: hashToken(token),
    role,
    createdBy: c.actor,
    createdAt: c.now,
    expiresAt: c.ttlMs === null ? null : c.now + c.ttlMs,
    revokedAt: null,
    revokedBy: null,
  };
  const labels = {
    token: c.name,
    role,
    expires: row.expiresAt === null ? null : isoMicros(row.expiresAt),
  };
  const base = { roles: c.actorRole === null ? [] : [c.actorRole], sourceAddress: c.source };
  const events = [
    pending({ ...systemEvent('token_created', 'success', null, labels, c.actor), ...base }, c.now),
  ];
  if (roleRank(role) > 0) {
    const above = c.actorRole !== null && roleRank(role) > roleRank(c.actorRole);
    events.push(
      pending(
        {
          ...systemEvent(
            'privilege_granted',
            'success',
            above ? `grants ${role}, above the creator's own ${c.actorRole}` : `a new ${role} token`,
            { category: 'privilege', ...labels, above_creator: above },
            c.actor,
          ),
          ...base,
          diff: [{ path: `tokens["${c.name}"].role`, kind: 'added', after: role }],
        },
        c.now,
      ),
    );
  }
  table.put(row, events);
  return { token, row };
}

export function revokeToken(
  table: TokenTable,
  name: string,
  actor: string,
  actorRole: Role | null,
  source: string | null,
  now: number,
): void {
  const e = pending(
    {
      ...systemEvent('token_revoked', 'success', null, { token: name }, actor),
      roles: actorRole === null ? [] : [actorRole],
      sourceAddress: source,
    },
    now,
  );
  if (!table.revoke(name, actor, now, e))
    throw tokenError(TokenErrorCode.UNKNOWN, `no live token named ${name}`);
}

/** A role change is always a privilege event, with the before/after diff. */
export function changeRole(
  table: TokenTable,
  name: string,
  role: string,
  actor: string,
  actorRole: Role | null,
  source: string | null,
  now: number,
): { before: Role; after: Role } {
  const after = checkRole(role);
  const row = table.get(name);
  if (!live(row, now) || !isRole(row!.role))
    throw tokenError(TokenErrorCode.UNKNOWN, `no live token named ${name}`);
  const before = row!.role as Role;
  const raised = roleRank(after) > roleRank(before);
  const e = pending(
    {
      ...systemEvent(
        'privilege_changed',
        'success',
        before === after ? 'role unchanged' : raised ? 'role raised' : 'role lowered',
        { category: 'privilege', token: name, before, after },
        actor,
      ),
      roles: actorRole === null ? [] : [actorRole],
      sourceAddress: source,
      diff: [{ path: `tokens["${name}"].role`, kind: 'changed', before, after }],
    },
    now,
  );
  if (!table.setRole(name, after, e)) throw tokenError(TokenErrorCode.UNKNOWN, `no live token named ${name}`);
  return { before, after };
}

/** What listings show of a token: everything but its hash. */
export function tokenView(row: TokenRow, now: number): Record<string, unknown> {
  return {
    name: row.name,
    role: row.role,
    created_by: row.createdBy,
    created: isoMicros(row.createdAt),
    expires: row.expiresAt === null ? null : isoMicros(row.expiresAt),
    state:
      row.revokedAt !== null
        ? 'revoked'
        : row.expiresAt !== null && row.expiresAt <= now
          ? 'expired'
          : 'live',
    revoked_by: row.revokedBy,
  };
}
