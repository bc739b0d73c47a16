/** Time, injected everywhere so tests can drive it. */
export interface Clock {
  /** Wall-clock milliseconds since the epoch, with sub-millisecond precision. */
  now(): number;
  /** Monotonic milliseconds (for durations and timers). */
  monotonic(): number;
}

const origin = performance.timeOrigin;

export const systemClock: Clock = {
  now: () => origin + performance.now(),
  monotonic: () => performance.now(),
};

/** A clock that only moves when told to. */
export class FakeClock implements Clock {
  #wall: number;
  #mono = 0;
  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#wall = startMs;
  }
  now(): number {
    return this.#wall + this.#mono;
  }
  monotonic(): number {
    return this.#mono;
  }
  advance(ms: number): void {
    this.#mono += ms;
  }
}

/** ISO 8601 UTC with microseconds: 2026-11-25T15:16:52.123456Z. The date-and-second prefix is cached. */
let cachedSecond = Number.NaN;
let cachedPrefix = '';

export function isoMicros(epochMs: number): string {
  const us = Math.round(epochMs * 1000); // whole microseconds since the epoch (exact below 2^53)
  const second = Math.floor(us / 1_000_000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20); // 2026-11-25T15:16:52.
  }
  const micros = us - second * 1_000_000;
  return `${cachedPrefix}${micros < 100_000 ? (micros < 10_000 ? (micros < 1000 ? (micros < 100 ? (micros < 10 ? '00000' : '0000') : '000') : '00') : '0') : ''}${micros}Z`;
}
