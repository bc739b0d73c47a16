import type { Clock } from '../core/index.js';

/** At most this many source addresses are tracked; the oldest entry goes first past it. */
const MAX_TRACKED = 10_000;

interface Entry {
  /** Monotonic ms of the failures still inside the window, oldest first. */
  failures: number[];
  /** Monotonic ms until which the address is refused; 0 when it is not. */
  lockedUntil: number;
}

/**
 * Lockout per source address (SPEC §6): after `failures` bad tokens within `window`, that address
 * gets 429 for `window`, even with a valid token. Memory is bounded: at most MAX_TRACKED
 * addresses, each with at most `failures` timestamps.
 */
export class Lockout {
  readonly #failures: number;
  readonly #windowMs: number;
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry>();

  constructor(failures: number, windowMs: number, clock: Clock) {
    this.#failures = failures;
    this.#windowMs = windowMs;
    this.#clock = clock;
  }

  /** Milliseconds the address stays locked out, or 0. */
  lockedFor(address: string): number {
    const e = this.#entries.get(address);
    if (e === undefined || e.lockedUntil === 0) return 0;
    const left = e.lockedUntil - this.#clock.monotonic();
    if (left > 0) return left;
    this.#entries.delete(address);
    return 0;
  }

  /** Counts a bad token; true when this one locked the address out. */
  fail(address: string): boolean {
    const now = this.#clock.monotonic();
    let e = this.#entries.get(address);
    if (e === undefined) {
      if (this.#entries.size >= MAX_TRACKED) {
        const oldest = this.#entries.keys().next().value;
        if (oldest !== undefined) this.#entries.delete(oldest);
      }
      e = { failures: [], lockedUntil: 0 };
      this.#entries.set(address, e);
    }
    const since = now - this.#windowMs;
    while (e.failures.length > 0 && e.failures[0]! <= since) e.failures.shift();
    e.failures.push(now);
    if (e.failures.length > this.#failures) e.failures.shift();
    if (e.lockedUntil === 0 && e.failures.length >= this.#failures) {
      e.lockedUntil = now + this.#windowMs;
      return true;
    }
    return false;
  }
}
