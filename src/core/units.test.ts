import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  formatDurationSetting,
  formatSizeSetting,
  parseDuration,
  parsePercent,
  parseRate,
  parseSize,
} from './units.js';

/**
 * Property tests (issue 9.4): the unit parsers never throw anything but a RangeError, never
 * return a value that is not a finite number ≥ 0 (an Infinity timeout would become node's 1 ms),
 * and the config-style formatters round-trip with them.
 */
const PARSERS = { parseDuration, parseSize, parseRate, parsePercent } as const;

/** Strings that look like units: digits (sometimes very many), a dot, a unit, spaces, junk. */
const unitish = fc
  .tuple(
    fc.constantFrom('', ' ', '\t', '-', '+', '0x'),
    fc.oneof(fc.stringMatching(/^\d{1,400}$/), fc.nat().map(String), fc.double().map(String)),
    fc.constantFrom('', '.', '.5', '.000001', 'e5', 'e400'),
    fc.constantFrom('', 'ms', 's', 'm', 'h', 'd', 'b', 'kb', 'MB', 'gb', '/s', '/m', '/h', '%', 'x', ' s'),
    fc.constantFrom('', ' ', '\n', '\u0000', 'ms'),
  )
  .map((parts) => parts.join(''));

const anyText = fc.oneof(unitish, fc.string(), fc.string({ unit: 'binary' }));

describe('units: property tests', () => {
  for (const [name, parse] of Object.entries(PARSERS)) {
    it(`${name} returns a finite number ≥ 0 or throws a RangeError, for any text`, () => {
      fc.assert(
        fc.property(anyText, (text) => {
          let v: number;
          try {
            v = parse(text);
          } catch (err) {
            assert.ok(err instanceof RangeError, `threw ${String(err)} for ${JSON.stringify(text)}`);
            assert.ok(err.message.includes(JSON.stringify(text).slice(1, 20)) || err.message.length > 10);
            return;
          }
          assert.ok(Number.isFinite(v) && v >= 0, `${name}(${JSON.stringify(text)}) = ${v}`);
        }),
        { numRuns: 2000 },
      );
    });
  }

  it('formatDurationSetting(ms) parses back to ms, for any whole number of milliseconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 365 * 86_400_000 }), (ms) => {
        assert.equal(parseDuration(formatDurationSetting(ms)), ms);
      }),
      { numRuns: 2000 },
    );
  });

  it('formatDurationSetting(parseDuration(x)) == x for every canonical duration', () => {
    const canonical = fc
      .tuple(fc.integer({ min: 1, max: 100_000 }), fc.constantFrom('ms', 's', 'm', 'h', 'd'))
      .filter(([n, u]) => {
        // canonical: the largest unit that divides the value exactly
        const next: Record<string, number> = { ms: 1000, s: 60, m: 60, h: 24, d: Number.POSITIVE_INFINITY };
        return n % next[u]! !== 0;
      })
      .map(([n, u]) => `${n}${u}`);
    fc.assert(
      fc.property(canonical, (text) => {
        assert.equal(formatDurationSetting(parseDuration(text)), text);
      }),
    );
    assert.equal(formatDurationSetting(0), '0ms');
  });

  it('formatSizeSetting(bytes) parses back to bytes, and is the canonical text of a canonical size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (bytes) => {
        assert.equal(parseSize(formatSizeSetting(bytes)), bytes);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc
          .tuple(fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom('b', 'kb', 'mb', 'gb'))
          .filter(([n, u]) => u === 'gb' || n % 1024 !== 0)
          .map(([n, u]) => `${n}${u}`),
        (text) => {
          assert.equal(formatSizeSetting(parseSize(text)), text);
        },
      ),
    );
  });
});
