/**
 * MurmurHash3 (x86, 32-bit) of a string's UTF-16LE bytes, computed straight from its code units
 * (two units per 4-byte block) so hashing allocates nothing. Fast, well mixed, not cryptographic:
 * for placing keys and virtual nodes on the consistent-hash ring, never for secrets.
 *
 * Equal to the reference MurmurHash3_x86_32(Buffer.from(text, 'utf16le'), seed).
 */
export function hash32(text: string, seed = 0): number {
  const length = text.length;
  const pairs = length & ~1;
  let h = seed >>> 0;
  let k = 0;
  for (let i = 0; i < pairs; i += 2) {
    k = text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (pairs !== length) {
    k = Math.imul(text.charCodeAt(pairs), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
  }
  h ^= length * 2;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
