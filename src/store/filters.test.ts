import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ErrorCode, isTollgateError } from '../core/index.js';
import type { FilterText, QueryFilters, Store, StoredRow } from './index.js';
import { flagName, openStore, paramName, parseFilters, rowMatcher } from './index.js';

/**
 * Property tests of the query filters (issue 9.4): any filter text either parses or is refused
 * with TG_ERR_USAGE naming the flag (never another exception), and what the store's indexes
 * find for parsed filters is exactly what the stream's predicate (`rowMatcher`) accepts among
 * the same rows — two implementations of one grammar checked against each other on a real store.
 */
const T0 = Date.UTC(2026, 0, 1);
const NOW = T0 + 40 * 3_600_000;
const IPS = ['10.0.0.1', '10.0.0.2', '10.1.2.3', '192.168.1.5', '2001:db8::1', '2001:db8:1::9', '::1'];
const NAMES = ['api', 'web', 'alice', 'bob', 'ok', 'no_route', 'r1', 'r2'];

/** A small seeded generator (mulberry32): the same rows on every run. */
function seeded(seed: number): (n: number) => number {
  let a = seed;
  return (n) => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4_294_967_296) * n);
  };
}

function row(seq: number, rand: (n: number) => number): StoredRow {
  const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)]!;
  const isAdmin = rand(10) === 0;
  return {
    seq,
    kind: isAdmin ? 'admin' : 'request',
    ts: T0 + seq * 600_000 + rand(600_000),
    rec: `{"seq":${seq}}`,
    hash: seq.toString(16).padStart(64, '0'),
    requestId: isAdmin ? null : `r${1 + rand(3)}`,
    clientIp: isAdmin ? null : pick(IPS),
    status: isAdmin ? null : pick([200, 201, 404, 429, 502, 503]),
    route: isAdmin ? null : pick(['api', 'web', null]),
    backend: isAdmin ? null : pick(['api-1', 'api-2', null]),
    termination: isAdmin ? null : pick(['ok', 'no_route', 'upstream_reset']),
    userName: pick(['alice', 'bob', null]),
    action: isAdmin ? 'token_created' : null,
  };
}

/** Filter values: mostly plausible (so queries find rows), sometimes anything at all. */
const value = (plausible: fc.Arbitrary<string>) =>
  fc.option(fc.oneof({ weight: 4, arbitrary: plausible }, { weight: 1, arbitrary: fc.string() }), {
    nil: undefined,
  });

const filterText: fc.Arbitrary<FilterText> = fc.record({
  since: value(
    fc.oneof(
      fc.constantFrom('1h', '30m', '2d', '99999999999999999999d', '0s', '1.5h'),
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    ),
  ),
  until: value(
    fc.oneof(
      fc.constantFrom('5h', '1d', '1ms'),
      fc.integer({ min: T0, max: NOW }).map((t) => new Date(t).toISOString()),
    ),
  ),
  status: value(fc.constantFrom('200', '404', '5xx', '2XX', '4xx', '999', '1xx', 'abc', '50x')),
  clientIp: value(
    fc.constantFrom(
      ...IPS,
      '10.0.0.0/8',
      '10.0.0.0/31',
      '2001:db8::/32',
      '192.168.0.0/16',
      '::/0',
      '1.2.3.4/33',
      '10.0.0',
    ),
  ),
  user: value(fc.constantFrom(...NAMES)),
  route: value(fc.constantFrom(...NAMES)),
  backend: value(fc.constantFrom('api-1', 'api-2', 'x')),
  termination: value(fc.constantFrom('ok', 'no_route', 'upstream_reset')),
  requestId: value(fc.constantFrom('r1', 'r2', 'r3', 'r4')),
});

function parseOrUsage(t: FilterText): QueryFilters | null {
  try {
    return parseFilters(t, NOW, flagName);
  } catch (err) {
    assert.ok(isTollgateError(err), `threw a non-TollgateError: ${String(err)} for ${JSON.stringify(t)}`);
    assert.equal(err.code, ErrorCode.USAGE);
    assert.match(err.message, /^--[a-z-]+: /, 'the message names the flag');
    return null;
  }
}

describe('query filters: property tests', () => {
  let dir: string;
  let store: Store;
  let rows: StoredRow[];

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-filters-'));
    store = openStore(path.join(dir, 'audit.db'));
    const random = seeded(42);
    rows = Array.from({ length: 300 }, (_, i) => row(i + 1, random));
    store.insertBatch(rows.slice(0, 150));
    store.insertBatch(rows.slice(150));
  });
  after(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('any filter text parses or is refused with TG_ERR_USAGE naming the flag or parameter', () => {
    fc.assert(
      fc.property(filterText, fc.constantFrom(flagName, paramName), (t, name) => {
        try {
          parseFilters(t, NOW, name);
        } catch (err) {
          assert.ok(isTollgateError(err), `threw ${String(err)} for ${JSON.stringify(t)}`);
          assert.equal(err.code, ErrorCode.USAGE);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('the store finds exactly the rows the stream predicate accepts, newest first', () => {
    fc.assert(
      fc.property(filterText, (t) => {
        const f = parseOrUsage(t);
        if (f === null) return;
        const expected = rows
          .filter(rowMatcher(f))
          .map((r) => r.seq)
          .reverse();
        const found = store.query(f, 1000).map((r) => r.seq);
        assert.deepEqual(found, expected, `filters ${JSON.stringify(t)}`);
      }),
      { numRuns: 400 },
    );
  });
});
