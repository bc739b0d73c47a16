import type Database from 'better-sqlite3';
import { writeError } from './errors.js';

/** One admin API token as stored: never the token itself, only its SHA-256 (hex). */
export interface TokenRow {
  name: string;
  hash: string;
  role: string;
  createdBy: string;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms, or null for a token that does not expire. */
  expiresAt: number | null;
  revokedAt: number | null;
  revokedBy: string | null;
}

type Statement = Database.Statement<unknown[], unknown>;

const COLUMNS =
  'name, hash, role, created_by AS createdBy, created_at AS createdAt, expires_at AS expiresAt, ' +
  'revoked_at AS revokedAt, revoked_by AS revokedBy';

/**
 * The admin tokens and the admin events waiting to be chained (`pending_events`): the CLI
 * writes both while Tollgate may be running (`tollgate token create`), and the running process
 * chains the pending events through its audit pipeline, then deletes them. A row of
 * `pending_events` is deleted only after its event was committed, so a crash in between
 * chains it twice (same `event.id`) rather than never.
 */
export class TokenTable {
  readonly #db: Database.Database;
  readonly #file: string;
  readonly #all: Statement;
  readonly #get: Statement;
  readonly #put: Statement;
  readonly #revoke: Statement;
  readonly #setRole: Statement;
  readonly #queue: Statement;
  readonly #pending: Statement;
  readonly #done: Statement;

  constructor(db: Database.Database, file: string) {
    this.#db = db;
    this.#file = file;
    this.#all = db.prepare(`SELECT ${COLUMNS} FROM tokens ORDER BY created_at, name`);
    this.#get = db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE name = ?`);
    this.#put = db.prepare(
      'INSERT OR REPLACE INTO tokens(name, hash, role, created_by, created_at, expires_at, revoked_at, revoked_by) ' +
        'VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)',
    );
    this.#revoke = db.prepare(
      'UPDATE tokens SET revoked_at = ?, revoked_by = ? WHERE name = ? AND revoked_at IS NULL',
    );
    this.#setRole = db.prepare('UPDATE tokens SET role = ? WHERE name = ? AND revoked_at IS NULL');
    this.#queue = db.prepare('INSERT INTO pending_events(event) VALUES (?)');
    this.#pending = db.prepare('SELECT id, event FROM pending_events ORDER BY id LIMIT ?');
    this.#done = db.prepare('DELETE FROM pending_events WHERE id <= ?');
  }

  list(): TokenRow[] {
    return this.#all.all() as TokenRow[];
  }

  get(name: string): TokenRow | null {
    return (this.#get.get(name) as TokenRow | undefined) ?? null;
  }

  /** Adds a token, replacing a revoked or expired one of the same name (the caller checks). */
  put(t: TokenRow, events: readonly string[]): void {
    this.#tx(`token ${t.name}`, () => {
      this.#put.run(t.name, t.hash, t.role, t.createdBy, t.createdAt, t.expiresAt);
      for (const e of events) this.#queue.run(e);
    });
  }

  /** False when there is no live token of that name. */
  revoke(name: string, by: string, at: number, event: string): boolean {
    return this.#tx(`the revocation of token ${name}`, () => {
      if (this.#revoke.run(at, by, name).changes === 0) return false;
      this.#queue.run(event);
      return true;
    });
  }

  /** False when there is no live token of that name. */
  setRole(name: string, role: string, event: string): boolean {
    return this.#tx(`the role of token ${name}`, () => {
      if (this.#setRole.run(role, name).changes === 0) return false;
      this.#queue.run(event);
      return true;
    });
  }

  /** Queues an admin event (JSON of an AdminEvent with `id` and `at`) for the running process to chain. */
  queueEvent(event: string): void {
    this.#tx('a pending admin event', () => this.#queue.run(event));
  }

  pendingEvents(limit: number): { id: number; event: string }[] {
    return this.#pending.all(limit) as { id: number; event: string }[];
  }

  /** Forgets the pending events up to this id (they are committed in the chain). */
  pendingDone(id: number): void {
    this.#tx('pending admin events', () => this.#done.run(id));
  }

  #tx<T>(what: string, fn: () => T): T {
    try {
      return this.#db.transaction(fn)();
    } catch (err) {
      throw writeError(this.#file, what, err);
    }
  }
}
