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

/** ISO 8601 UTC with microseconds: 2026-11-25T15:16:52.123456Z. */
export function isoMicros(epochMs: number): string {
  const whole = Math.floor(epochMs);
  const micros = Math.floor((epochMs - whole) * 1000);
  const base = new Date(whole).toISOString(); // 2026-11-25T15:16:52.123Z
  return `${base.slice(0, 23)}${String(micros).padStart(3, '0')}Z`;
}
