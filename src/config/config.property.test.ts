import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { formatDurationSetting, formatSizeSetting, isTollgateError } from '../core/index.js';
import { ConfigError, checkConfigText, compileConfigText } from './index.js';

/**
 * Property tests of the config loader (issue 9.4): no text crashes it — every input gives a plan
 * or problems with 1-based positions — and values written in the config come out unchanged in
 * the compiled plan (the round trip a reload relies on).
 */
const FILE = '<inline>';

const BASE = {
  listeners: [{ name: 'public', address: '127.0.0.1:0' }],
  routes: [{ name: 'r', pool: 'p', match: { path_prefix: '/' } }],
  pools: [{ name: 'p', backends: [{ name: 'b1', address: '127.0.0.1:9001' }] }],
};

function assertProblems(text: string): void {
  let problems: ReturnType<typeof checkConfigText>;
  try {
    problems = checkConfigText(text, FILE);
  } catch (err) {
    assert.fail(`checkConfigText threw ${String(err)} for ${JSON.stringify(text.slice(0, 200))}`);
  }
  for (const p of problems) {
    assert.ok(Number.isInteger(p.line) && p.line >= 1, `line ${p.line}`);
    assert.ok(Number.isInteger(p.col) && p.col >= 1, `col ${p.col}`);
    assert.equal(p.file, FILE);
    assert.ok(p.message.length > 0);
  }
}

/** A JSON value put somewhere in the base config (a path of keys and indexes). */
const mutation = fc.record({
  path: fc.array(
    fc.oneof(
      fc.constantFrom(
        'listeners',
        'routes',
        'pools',
        'backends',
        'limits',
        'match',
        'audit',
        'timeouts',
        'retries',
        'headers_timeout',
        'weight',
        'address',
        'name',
        'on',
        'sinks',
        'admin',
        'alerts',
        'rules',
      ),
      fc.nat({ max: 2 }),
      fc.string({ maxLength: 8 }),
    ),
    { minLength: 1, maxLength: 4 },
  ),
  value: fc.jsonValue({ maxDepth: 3 }),
});

function mutate(base: unknown, path: (string | number)[], value: unknown): unknown {
  const copy = structuredClone(base) as Record<string | number, unknown>;
  let node: Record<string | number, unknown> = copy;
  for (const [i, key] of path.entries()) {
    if (i === path.length - 1) node[key] = value;
    else {
      const next = node[key];
      if (next === null || typeof next !== 'object') node[key] = typeof path[i + 1] === 'number' ? [] : {};
      node = node[key] as Record<string | number, unknown>;
    }
  }
  return copy;
}

describe('config loader: property tests', () => {
  it('any text gives problems with 1-based positions, never an exception', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: 'binary' }),
          fc.jsonValue().map((v) => stringify(v)),
          fc
            .array(
              fc.constantFrom(
                'a:',
                ' - ',
                '[',
                '{',
                '}',
                ']',
                ':',
                '\n',
                '  ',
                '&x',
                '*x',
                '!!binary',
                '#',
                '"',
                "'",
                '|',
                '>',
                '---',
                '...',
                'listeners',
                '1e999',
                '~',
              ),
            )
            .map((a) => a.join('')),
        ),
        (text) => assertProblems(text),
      ),
      { numRuns: 1500 },
    );
  });

  it('a valid config with any one value replaced compiles or is refused with a ConfigError, never another exception', () => {
    fc.assert(
      fc.property(mutation, ({ path, value }) => {
        const text = stringify(mutate(BASE, path, value));
        try {
          compileConfigText(text, FILE);
        } catch (err) {
          assert.ok(err instanceof ConfigError, `threw ${String(err)} for\n${text}`);
          assert.ok(isTollgateError(err));
          assert.ok(err.problems.length > 0);
        }
        assertProblems(text);
      }),
      { numRuns: 1500 },
    );
  });

  it('durations and sizes written in the config come out unchanged in the plan', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 * 86_400_000 }),
        fc.integer({ min: 1, max: 7 * 86_400_000 }),
        fc.integer({ min: 1024, max: 1024 ** 3 }),
        (headersMs, sendMs, bytes) => {
          const config = mutate(BASE, ['listeners', 0, 'limits'], {
            headers_timeout: formatDurationSetting(headersMs),
            send_timeout: formatDurationSetting(sendMs),
            max_header_bytes: formatSizeSetting(bytes),
          });
          const limits = compileConfigText(stringify(config), FILE).listeners[0]!.limits;
          assert.equal(limits.headersTimeoutMs, headersMs);
          assert.equal(limits.sendTimeoutMs, sendMs);
          assert.equal(limits.maxHeaderBytes, bytes);
        },
      ),
      { numRuns: 300 },
    );
  });
});
