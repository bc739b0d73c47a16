import type { Clock, EventSink } from '../core/index.js';
import { formatDuration, isoMicros, systemEvent } from '../core/index.js';
import type { Role } from './roles.js';

/** One time-bound grant of a higher role to a token (`POST /api/v1/elevate`). */
export interface Elevation {
  readonly token: string;
  readonly from: Role;
  readonly role: Role;
  readonly reason: string;
  /** Wall-clock epoch ms. */
  readonly grantedAt: number;
  readonly expiresAt: number;
}

/** Arms a timer; returns its cancel. Injected so tests can drive expiry. */
export type Schedule = (fn: () => void, ms: number) => () => void;

const realSchedule: Schedule = (fn, ms) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
};

/**
 * Just-in-time elevation: an operator asks for admin for a bounded time with a written reason.
 * The grant, each use of it and its expiry are admin events (`elevation_granted`,
 * `elevation_used`, `elevation_expired`, all labelled `category: privilege`). A grant ends by
 * itself at its deadline (a timer), and is checked against the clock on every use too, so a late
 * timer never extends it. Grants live in memory: a restart ends them all, which is recorded.
 */
export class Elevations {
  readonly #events: EventSink;
  readonly #clock: Clock;
  readonly #schedule: Schedule;
  readonly #grants = new Map<string, { grant: Elevation; cancel: () => void }>();

  constructor(events: EventSink, clock: Clock, schedule: Schedule = realSchedule) {
    this.#events = events;
    this.#clock = clock;
    this.#schedule = schedule;
  }

  grant(token: string, from: Role, role: Role, forMs: number, reason: string, source: string): Elevation {
    this.#end(token, null);
    const now = this.#clock.now();
    const grant: Elevation = { token, from, role, reason, grantedAt: now, expiresAt: now + forMs };
    const cancel = this.#schedule(() => this.#end(token, 'expired'), forMs);
    this.#grants.set(token, { grant, cancel });
    this.#events.emit({
      ...systemEvent(
        'elevation_granted',
        'success',
        reason,
        {
          category: 'privilege',
          token,
          from,
          role,
          for: formatDuration(forMs),
          expires: isoMicros(grant.expiresAt),
        },
        token,
      ),
      roles: [from],
      sourceAddress: source,
      diff: [{ path: 'role', kind: 'changed', before: from, after: role }],
    });
    return grant;
  }

  /** The token's live grant, or null (an overdue one is ended and recorded here). */
  active(token: string): Elevation | null {
    const g = this.#grants.get(token);
    if (g === undefined) return null;
    if (this.#clock.now() < g.grant.expiresAt) return g.grant;
    this.#end(token, 'expired');
    return null;
  }

  /** Records that a call needed the elevated role. */
  used(g: Elevation, source: string, method: string, path: string): void {
    this.#events.emit({
      ...systemEvent(
        'elevation_used',
        'success',
        g.reason,
        {
          category: 'privilege',
          token: g.token,
          from: g.from,
          role: g.role,
          expires: isoMicros(g.expiresAt),
        },
        g.token,
      ),
      roles: [g.from, g.role],
      sourceAddress: source,
      method,
      path,
    });
  }

  list(): Elevation[] {
    const out: Elevation[] = [];
    for (const token of [...this.#grants.keys()]) {
      const g = this.active(token);
      if (g !== null) out.push(g);
    }
    return out;
  }

  /** Ends a grant early (its token was revoked); null `why` replaces it silently with a new grant. */
  revoke(token: string, why: string): void {
    this.#end(token, why);
  }

  /** Ends every grant (shutdown); each is recorded. Idempotent. */
  close(): void {
    for (const token of [...this.#grants.keys()]) this.#end(token, 'shutdown');
  }

  #end(token: string, why: string | null): void {
    const g = this.#grants.get(token);
    if (g === undefined) return;
    this.#grants.delete(token);
    g.cancel();
    if (why === null) return;
    this.#events.emit({
      ...systemEvent('elevation_expired', 'success', why, {
        category: 'privilege',
        token,
        from: g.grant.from,
        role: g.grant.role,
        granted: isoMicros(g.grant.grantedAt),
      }),
      diff: [{ path: 'role', kind: 'changed', before: g.grant.role, after: g.grant.from }],
    });
  }
}
