import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hash32 } from './index.js';
import { mulberry32 } from './test-helpers.js';

/** Byte-wise reference MurmurHash3_x86_32, written from the published algorithm. */
function murmur3Reference(bytes: Uint8Array, seed: number): number {
  let h = seed >>> 0;
  const blocks = bytes.length - (bytes.length % 4);
  const mixK = (k: number): number => {
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    return Math.imul(k, 0x1b873593);
  };
  for (let i = 0; i < blocks; i += 4) {
    h ^= mixK(bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const rest = bytes.length - blocks;
  if (rest >= 3) k ^= bytes[blocks + 2]! << 16;
  if (rest >= 2) k ^= bytes[blocks + 1]! << 8;
  if (rest >= 1) h ^= mixK(k ^ bytes[blocks]!);
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

test('the reference MurmurHash3 matches the published test vectors', () => {
  const utf8 = (s: string) => Buffer.from(s, 'utf8');
  assert.equal(murmur3Reference(utf8(''), 0), 0);
  assert.equal(murmur3Reference(utf8(''), 1), 0x514e28b7);
  assert.equal(murmur3Reference(utf8('hello'), 0), 0x248bfa47);
  assert.equal(murmur3Reference(utf8('The quick brown fox jumps over the lazy dog'), 0), 0x2e4ff723);
});

test('hash32 is MurmurHash3_x86_32 of the string’s UTF-16LE bytes, for any length, seed and text', () => {
  const random = mulberry32(2024);
  const alphabet = ['a', 'Z', '0', '.', ':', 'é', 'ß', '中', '😀', '\u0000', '\uffff'];
  for (let i = 0; i < 2_000; i++) {
    let text = '';
    const length = Math.floor(random() * 20);
    for (let c = 0; c < length; c++) text += alphabet[Math.floor(random() * alphabet.length)];
    const seed = i % 3 === 0 ? 0 : Math.floor(random() * 2 ** 32);
    assert.equal(
      hash32(text, seed),
      murmur3Reference(Buffer.from(text, 'utf16le'), seed),
      JSON.stringify(text),
    );
  }
});

test('hash32 returns an unsigned 32-bit integer', () => {
  for (const text of ['', 'x', '10.0.0.1', 'a-much-longer-session-identifier']) {
    const h = hash32(text);
    assert.ok(Number.isInteger(h) && h >= 0 && h < 2 ** 32);
  }
});
