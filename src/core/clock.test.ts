import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isoMicros } from './clock.js';

describe('isoMicros', () => {
  it('writes ISO 8601 UTC with six fraction digits, across second boundaries', () => {
    const base = Date.UTC(2026, 10, 25, 15, 16, 52);
    const cases: [number, string][] = [
      [base, '2026-11-25T15:16:52.000000Z'],
      [base + 0.001, '2026-11-25T15:16:52.000001Z'],
      [base + 0.0999, '2026-11-25T15:16:52.000100Z'], // rounded to the nearest microsecond
      [base + 999.9996, '2026-11-25T15:16:53.000000Z'],
      [base + 123.456, '2026-11-25T15:16:52.123456Z'],
      [base + 999.999, '2026-11-25T15:16:52.999999Z'],
      [base + 1000.5, '2026-11-25T15:16:53.000500Z'],
      [base - 0.5, '2026-11-25T15:16:51.999500Z'],
    ];
    for (const [ms, want] of cases) assert.equal(isoMicros(ms), want, `for ${ms}`);
  });

  it('stays within a microsecond of the time it writes, for many times', () => {
    for (let i = 0; i < 2000; i++) {
      const ms = 1_700_000_000_000 + Math.floor(Math.random() * 1e9) + Math.random();
      const iso = isoMicros(ms);
      assert.match(iso, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
      const back = Date.parse(`${iso.slice(0, 19)}Z`) + Number(iso.slice(20, 26)) / 1000;
      assert.ok(Math.abs(back - ms) <= 0.001, `${ms} → ${iso}`);
    }
  });
});
