import { createHash } from 'node:crypto';

/** Maps a pool's backends to and from sticky-cookie values. */
export interface StickyCodec {
  /** The cookie value for backend `index`; a RangeError for an index outside the pool. */
  encode(index: number): string;
  /** The backend index a cookie value names, or -1 for a value this pool never issued. */
  decode(value: string): number;
}

/** Hex digits kept from the SHA-256 digest: 64 bits, far from colliding within one pool. */
const TOKEN_LENGTH = 16;

/**
 * A sticky codec for one pool. Each backend's cookie value is the first 16 hex digits of
 * SHA-256("tollgate.sticky/1" NUL pool NUL backend), computed once here: the value is opaque (it
 * shows neither the backend's name nor its address), stable across restarts and reloads while
 * the pool and backend names stay the same, different for the same backend name in another pool,
 * and decoding is one Map lookup. The token is not a secret: it pins a client, it authorizes
 * nothing. Throws a TypeError when two backends share a name (their tokens would collide).
 */
export function createStickyCodec(poolName: string, backendNames: readonly string[]): StickyCodec {
  const tokens: string[] = [];
  const indexes = new Map<string, number>();
  for (const name of backendNames) {
    const token = createHash('sha256')
      .update(`tollgate.sticky/1\0${poolName}\0${name}`)
      .digest('hex')
      .slice(0, TOKEN_LENGTH);
    if (indexes.has(token)) {
      throw new TypeError(
        `pool "${poolName}": backend name "${name}" appears twice; sticky cookies need unique names`,
      );
    }
    indexes.set(token, tokens.length);
    tokens.push(token);
  }
  return new HashedStickyCodec(tokens, indexes);
}

class HashedStickyCodec implements StickyCodec {
  readonly #tokens: readonly string[];
  readonly #indexes: ReadonlyMap<string, number>;

  constructor(tokens: readonly string[], indexes: ReadonlyMap<string, number>) {
    this.#tokens = tokens;
    this.#indexes = indexes;
  }

  encode(index: number): string {
    const token = this.#tokens[index];
    if (token === undefined)
      throw new RangeError(`no backend at index ${index} (pool has ${this.#tokens.length})`);
    return token;
  }

  decode(value: string): number {
    return this.#indexes.get(value) ?? -1;
  }
}
