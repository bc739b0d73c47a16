import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineBuffer } from './line-buffer.js';

/** A deterministic pseudo-random source (no flaky seeds). */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

const PIECES = ['a', 'é', '€', '😀', '"', '\\', '\n', '\u0001', 'plain ascii text '];

describe('LineBuffer', () => {
  it('holds exactly the UTF-8 of what was added, across growth (multi-byte and surrogate pairs too)', () => {
    const next = rng(7);
    const out = new LineBuffer();
    for (let round = 0; round < 4; round++) {
      out.clear();
      const parts: string[] = [];
      // up to ~1.2 MB: several times the initial 256 KiB, so the buffer grows mid-batch
      const n = 1000 + Math.floor(next() * 40_000);
      for (let i = 0; i < n; i++) {
        let s = '';
        const len = 1 + Math.floor(next() * 12);
        for (let k = 0; k < len; k++) s += PIECES[Math.floor(next() * PIECES.length)];
        parts.push(s);
        out.add(s);
      }
      assert.ok(out.bytes().equals(Buffer.from(parts.join(''))), `round ${round}: ${n} parts`);
    }
  });

  it('starts empty after clear, also after a batch that grew it; addLine ends the line', () => {
    const out = new LineBuffer();
    out.add('x'.repeat(2 * 1024 * 1024));
    assert.equal(out.bytes().length, 2 * 1024 * 1024);
    out.clear();
    assert.equal(out.bytes().length, 0);
    out.addLine('{"a":1}');
    assert.equal(out.bytes().toString(), '{"a":1}\n');
  });
});
