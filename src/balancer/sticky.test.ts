import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createStickyCodec } from './index.js';

const NAMES = ['api-1', 'api-2', 'api-3'];

test('sticky: decode(encode(i)) is i for every backend', () => {
  const codec = createStickyCodec('api', NAMES);
  NAMES.forEach((_, i) => {
    assert.equal(codec.decode(codec.encode(i)), i);
  });
});

test('sticky: values are 16 opaque hex digits that do not show the backend name', () => {
  const codec = createStickyCodec('api', NAMES);
  const values = NAMES.map((_, i) => codec.encode(i));
  for (const value of values) {
    assert.match(value, /^[0-9a-f]{16}$/);
    assert.ok(!value.includes('api'));
  }
  assert.equal(new Set(values).size, NAMES.length);
});

test('sticky: an unknown, empty or tampered value decodes to -1', () => {
  const codec = createStickyCodec('api', NAMES);
  const value = codec.encode(0);
  for (const bad of ['', 'api-1', '0', value.toUpperCase(), `${value.slice(0, 15)}0`, `${value}0`]) {
    if (bad === value) continue;
    assert.equal(codec.decode(bad), -1, bad);
  }
});

test('sticky: the same backend name gets different values in different pools', () => {
  const a = createStickyCodec('api', NAMES);
  const b = createStickyCodec('web', NAMES);
  NAMES.forEach((_, i) => {
    assert.notEqual(a.encode(i), b.encode(i));
    assert.equal(b.decode(a.encode(i)), -1);
  });
});

test('sticky: values are stable across codecs built from the same pool (restarts, reloads)', () => {
  assert.equal(createStickyCodec('api', NAMES).encode(1), createStickyCodec('api', ['x', 'api-2']).encode(1));
});

test('sticky: encode rejects an index outside the pool; duplicate backend names are refused', () => {
  const codec = createStickyCodec('api', NAMES);
  assert.throws(() => codec.encode(3), RangeError);
  assert.throws(() => codec.encode(-1), RangeError);
  assert.throws(() => createStickyCodec('api', ['a', 'a']), TypeError);
});
