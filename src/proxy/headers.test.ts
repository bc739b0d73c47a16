import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ForwardFacts } from './headers.js';
import { cookieValue, downstreamResponseHeaders, upstreamRequestHeaders } from './headers.js';

/**
 * Property tests of header handling (issue 9.4): for any header list a client or backend can
 * send, the rewrite never throws, never lets a hop-by-hop header or one named in Connection
 * through, never lets an untrusted peer choose X-Forwarded-*, Forwarded, X-Request-Id or
 * traceparent, keeps every other header in order, and writes a Forwarded element that reads back
 * to the facts it was made from.
 */
const HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
];
const SET_BY_TOLLGATE = [
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'forwarded',
  'x-request-id',
  'traceparent',
  'expect',
];

const tokenChar = fc.constantFrom(
  ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~",
);
const token = fc.string({ unit: tokenChar, minLength: 1, maxLength: 20 });
/** Header names: mostly ones that matter here, in any letter case, sometimes anything. */
const headerName = fc.oneof(
  fc
    .constantFrom(...HOP, ...SET_BY_TOLLGATE, 'host', 'x-a', 'x-b', 'cookie')
    .chain((n) =>
      fc
        .array(fc.boolean(), { minLength: n.length, maxLength: n.length })
        .map((up) => [...n].map((c, i) => (up[i] ? c.toUpperCase() : c)).join('')),
    ),
  token,
);
/** Field values as node hands them over (latin1 text without CR, LF, NUL). */
const fieldValue = fc.string({ unit: 'binary', maxLength: 40 }).map((s) =>
  [...s]
    .map((c) => String.fromCharCode(c.charCodeAt(0) & 0xff))
    .join('')
    .replace(/[\r\n\0]/g, ' '),
);
const connectionValue = fc
  .array(fc.oneof(fc.constantFrom('close', 'keep-alive', 'x-a', 'X-B', 'cookie', ' ', ''), token))
  .map((a) => a.join(', '));
const rawHeaders = fc
  .array(fc.oneof(fc.tuple(headerName, fieldValue), fc.tuple(fc.constant('Connection'), connectionValue)), {
    maxLength: 20,
  })
  .map((pairs) => pairs.flat());

const hex32 = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 });

const facts: fc.Arbitrary<ForwardFacts> = fc.record({
  peerAddress: fc.oneof(fc.ipV4(), fc.ipV6()),
  trusted: fc.boolean(),
  proto: fc.constantFrom('http' as const, 'https' as const),
  host: fc.option(fc.string({ unit: fc.constantFrom(...'abc.:[]1"\\ é-'), maxLength: 20 }), {
    nil: undefined,
  }),
  requestId: hex32,
  traceparent: fc.constant('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'),
  upgrade: fc.constant(null),
});

function pairs(flat: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

function connectionNames(raw: [string, string][]): Set<string> {
  const names = new Set<string>();
  // the last Connection header is the one node's parser and undici act on
  const conn = raw.filter(([n]) => n.toLowerCase() === 'connection').at(-1)?.[1];
  for (const t of conn?.split(',') ?? []) {
    const n = t.trim().toLowerCase();
    if (n !== '' && n !== 'close' && n !== 'keep-alive') names.add(n);
  }
  return names;
}

/** The parameters of the last element of a Forwarded value (RFC 7239 §4: token or quoted-string). */
function lastForwardedElement(value: string): Map<string, string> {
  const params = new Map<string, string>();
  let i = 0;
  let element = new Map<string, string>();
  while (i < value.length) {
    const eq = value.indexOf('=', i);
    if (eq === -1) break;
    const name = value.slice(i, eq).trim().toLowerCase();
    let v = '';
    let j = eq + 1;
    if (value[j] === '"') {
      j++;
      while (j < value.length && value[j] !== '"') {
        if (value[j] === '\\') j++;
        v += value[j] ?? '';
        j++;
      }
      j++;
    } else {
      while (j < value.length && value[j] !== ';' && value[j] !== ',') v += value[j++];
    }
    element.set(name, v);
    while (j < value.length && value[j] === ' ') j++;
    if (value[j] === ',') element = new Map();
    i = j + 1;
  }
  for (const [k, v] of element) params.set(k, v);
  return params;
}

describe('headers: property tests', () => {
  it('upstream: no hop-by-hop or Connection-named header, Tollgate sets its own, every other header kept in order', () => {
    fc.assert(
      fc.property(rawHeaders, facts, (raw, f) => {
        const out = pairs(upstreamRequestHeaders(raw, f));
        const input = pairs(raw);
        const named = connectionNames(input);
        const lower = out.map(([n]) => n.toLowerCase());
        for (const n of lower) {
          assert.ok(!HOP.includes(n), `hop-by-hop ${n} forwarded`);
          assert.ok(!named.has(n) || SET_BY_TOLLGATE.includes(n), `${n}, named in Connection, forwarded`);
        }
        for (const n of ['x-request-id', 'traceparent', 'x-forwarded-for', 'x-forwarded-proto', 'forwarded'])
          assert.equal(lower.filter((x) => x === n).length, 1, `one ${n}`);
        assert.equal(lower.includes('expect'), false);
        const get = (n: string) => out.find(([x]) => x.toLowerCase() === n)![1];
        assert.equal(get('x-request-id'), f.requestId);
        assert.equal(get('traceparent'), f.traceparent);
        if (!f.trusted) {
          assert.equal(
            get('x-forwarded-for'),
            f.peerAddress,
            'an untrusted peer cannot choose X-Forwarded-For',
          );
          assert.equal(get('x-forwarded-proto'), f.proto);
        } else assert.ok(get('x-forwarded-for').endsWith(f.peerAddress));
        const kept = input.filter(([n]) => {
          const l = n.toLowerCase();
          return !HOP.includes(l) && !SET_BY_TOLLGATE.includes(l) && !named.has(l);
        });
        assert.deepEqual(
          out.filter(([n]) => !SET_BY_TOLLGATE.includes(n.toLowerCase())),
          kept,
          'every other header, in order',
        );
      }),
      { numRuns: 3000 },
    );
  });

  it('upstream: the Forwarded element Tollgate appends reads back to the peer, proto and Host', () => {
    fc.assert(
      fc.property(facts, (f) => {
        const out = pairs(upstreamRequestHeaders([], { ...f, trusted: false }));
        const forwarded = out.find(([n]) => n === 'forwarded')![1];
        const el = lastForwardedElement(forwarded);
        const peer = f.peerAddress.includes(':') ? `[${f.peerAddress}]` : f.peerAddress;
        assert.equal(el.get('for'), peer);
        assert.equal(el.get('proto'), f.proto);
        assert.equal(el.get('host'), f.host, `Forwarded: ${forwarded}`);
      }),
      { numRuns: 2000 },
    );
  });

  it('downstream: no hop-by-hop header, no Connection-named header, exactly one x-request-id (ours)', () => {
    fc.assert(
      fc.property(rawHeaders, hex32, (raw, id) => {
        const out = pairs(
          downstreamResponseHeaders(
            raw.map((s) => Buffer.from(s, 'latin1')),
            id,
            null,
          ),
        );
        const named = connectionNames(pairs(raw));
        for (const [n] of out) {
          const l = n.toLowerCase();
          assert.ok(!HOP.includes(l) && (!named.has(l) || l === 'x-request-id'), `${n} passed to the client`);
        }
        const ids = out.filter(([n]) => n.toLowerCase() === 'x-request-id');
        assert.deepEqual(ids, [['x-request-id', id]]);
      }),
      { numRuns: 2000 },
    );
  });

  it('cookieValue finds a cookie among others, whatever its neighbours', () => {
    const cookieChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_.!');
    const name = fc.string({ unit: cookieChar, minLength: 1, maxLength: 10 });
    const val = fc.string({ unit: cookieChar, maxLength: 20 });
    fc.assert(
      fc.property(fc.array(fc.tuple(name, val), { maxLength: 5 }), name, val, (others, n, v) => {
        const before = others.filter(([o]) => o !== n);
        const header = [...before, [n, v] as const].map(([a, b]) => `${a}=${b}`).join('; ');
        assert.equal(cookieValue(header, n), v);
      }),
    );
  });
});
