import type { TopClient, TopClients } from '../metrics/index.js';
import type { RedisBuckets } from './redis-buckets.js';

/**
 * Fleet-wide heavy hitters. Each instance publishes, once a second, the top `PUBLISHED` keys of
 * its own sketches (client address and user, each window) to Redis as one snapshot that expires
 * after 5 s; `top()` merges the live snapshots. Nothing is added to the request path: the local
 * sketches (docs/top-clients.md) are read as they are.
 *
 * Merging: a key's `requests` is the sum over instances. An instance where the key is not among
 * its published keys may still have seen up to its smallest published count of it, which is added
 * to `error_bound` (and to `requests`, the upper bound, like the sketch's own merge).
 */
export const PUBLISHED = 100;

export type TopBy = 'client_ip' | 'user';

interface Snapshot {
  instance: string;
  /** by → window ms → rows */
  top: Record<TopBy, Record<string, TopClient[]>>;
}

export interface FleetTopClient extends TopClient {
  /** The instances whose published keys include it. */
  instances: number;
}

export class FleetTop {
  readonly #redis: RedisBuckets;
  readonly #instance: string;
  readonly #sources: Record<TopBy, TopClients>;
  #timer: NodeJS.Timeout | null = null;

  constructor(redis: RedisBuckets, instance: string, sources: Record<TopBy, TopClients>) {
    this.#redis = redis;
    this.#instance = instance;
    this.#sources = sources;
  }

  start(): void {
    this.#timer = setInterval(() => void this.publish(), 1000);
    this.#timer.unref();
  }

  /** Publishes now (also once a second); a failure is Redis being down, which RedisBuckets reports. */
  async publish(): Promise<void> {
    if (!this.#redis.up) return;
    const top = { client_ip: {}, user: {} } as Snapshot['top'];
    for (const by of ['client_ip', 'user'] as const) {
      const sketch = this.#sources[by];
      for (const w of sketch.windowsMs) top[by][String(w)] = sketch.top(w, PUBLISHED);
    }
    const doc: Snapshot = { instance: this.#instance, top };
    await this.#redis.publishTop(this.#instance, JSON.stringify(doc)).catch(() => {});
  }

  /** The fleet's `n` busiest keys over `windowMs`, merged from every live instance's snapshot. */
  async top(
    by: TopBy,
    windowMs: number,
    n: number,
  ): Promise<{ instances: string[]; items: FleetTopClient[] }> {
    const docs = (await this.#redis.readTops()).map((d) => JSON.parse(d) as Snapshot);
    const merged = new Map<string, FleetTopClient>();
    const floors: { rows: TopClient[]; floor: number; keys: Set<string> }[] = [];
    for (const d of docs) {
      const rows = d.top[by]?.[String(windowMs)] ?? [];
      // fewer rows than published: the instance listed every key it has
      const floor = rows.length < PUBLISHED ? 0 : (rows[rows.length - 1]?.requests ?? 0);
      floors.push({ rows, floor, keys: new Set(rows.map((r) => r.key)) });
      for (const r of rows) {
        const m = merged.get(r.key);
        if (m === undefined) merged.set(r.key, { ...r, instances: 1 });
        else {
          m.requests += r.requests;
          m.errors += r.errors;
          m.bytes += r.bytes;
          m.error_bound += r.error_bound;
          m.instances++;
        }
      }
    }
    for (const m of merged.values())
      for (const f of floors)
        if (f.floor > 0 && !f.keys.has(m.key)) {
          m.requests += f.floor;
          m.error_bound += f.floor;
        }
    const items = [...merged.values()].sort(
      (a, b) => b.requests - a.requests || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
    );
    if (items.length > n) items.length = n;
    return { instances: docs.map((d) => d.instance).sort(), items };
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}
