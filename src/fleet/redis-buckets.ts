import { createHash } from 'node:crypto';
import { createClient } from 'redis';
import type { EventSink, Logger } from '../core/index.js';
import { ErrorCode, systemEvent, TollgateError } from '../core/index.js';
import type { Lease, SharedBuckets } from '../identity/index.js';

/**
 * The fleet's rate-limit buckets in Redis. One Lua script refills a bucket on Redis's own clock
 * (`TIME`, so instances need no synchronised clocks) and grants up to the tokens asked for, in
 * one atomic step; the bucket's key expires once it would be full again, so keys are bounded by
 * the clients active in the last `burst / rate` seconds.
 *
 * While Redis is unreachable (`up` false) limiters use their local buckets: each instance then
 * admits the full rate itself. The first failure emits `fleet_redis_down` (an admin event that
 * the `fleet_degraded` alert rule follows, and `GET /api/v1/fleet` shows), the reconnect
 * `fleet_redis_up`.
 */
const SCRIPT = `
local rate = tonumber(ARGV[1]) / 1000
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil or at == nil then tokens = burst; at = now end
if now > at then tokens = math.min(burst, tokens + (now - at) * rate) end
local grant = math.min(want, math.floor(tokens))
if grant < 0 then grant = 0 end
tokens = tokens - grant
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate) + 1000)
local wait = 0
if grant < want then wait = math.ceil((math.min(math.ceil(want / 2), burst) - tokens) / rate) end
return {grant, wait}
`;
const SHA = createHash('sha1').update(SCRIPT).digest('hex');

/**
 * Publishes one instance's heavy-hitter snapshot: the snapshot key expires after ARGV[3] ms and
 * the index (a sorted set by publish time) forgets instances silent for that long, in one step.
 */
const PUBLISH_TOP = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ttl)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
redis.call('PEXPIRE', KEYS[1], ttl)
return now
`;

/** How long an instance's heavy-hitter snapshot counts after it was published. */
export const TOP_SNAPSHOT_TTL_MS = 5000;

export interface RedisBucketsOptions {
  url: string;
  timeoutMs: number;
  /** Key prefix: every key of this fleet starts with it. */
  prefix: string;
  events: EventSink;
  logger: Logger;
  /** Called after each flip between up and down. */
  onChange?: () => void;
}

export class RedisBuckets implements SharedBuckets {
  readonly #client: ReturnType<typeof createClient>;
  readonly #opts: RedisBucketsOptions;
  #up = false;
  /** The state the last event reported (null: none yet). */
  #reported: boolean | null = null;
  #closed = false;
  #probe: NodeJS.Timeout | null = null;
  /** Calls answered and failed, for GET /api/v1/fleet. */
  leases = 0;
  failures = 0;

  constructor(opts: RedisBucketsOptions) {
    this.#opts = opts;
    this.#client = createClient({
      url: opts.url,
      disableOfflineQueue: true,
      socket: { connectTimeout: Math.max(500, opts.timeoutMs * 2), reconnectStrategy: () => 1000 },
    });
    this.#client.on('ready', () => this.#set(true, null));
    this.#client.on('error', (err: Error) => this.#set(false, err.message || String(err)));
    this.#client.on('end', () => this.#set(false, 'connection closed'));
  }

  get up(): boolean {
    return this.#up;
  }

  /** Connects in the background; the limiters stay local until Redis answers. Never throws. */
  start(): void {
    this.#client.connect().catch((err: unknown) => this.#set(false, String(err)));
    // an unreachable Redis at start is reported once the first attempt has failed
    setTimeout(() => {
      if (!this.#up && this.#reported === null) this.#set(false, `no answer from ${this.#where()}`);
    }, this.#opts.timeoutMs * 2).unref();
    // a call that timed out marks Redis down while the socket may stay open: ping it back up
    this.#probe = setInterval(() => {
      if (this.#up || !this.#client.isReady) return;
      this.#client.sendCommand(['PING'], { timeout: this.#opts.timeoutMs }).then(
        () => this.#set(true, null),
        () => {},
      );
    }, 1000);
    this.#probe.unref();
  }

  #where(): string {
    const u = new URL(this.#opts.url);
    return `redis://${u.host}`;
  }

  #set(up: boolean, reason: string | null): void {
    this.#up = up;
    if (this.#closed || this.#reported === up) return;
    this.#reported = up;
    this.#opts.onChange?.();
    if (up) {
      this.#opts.logger.log('info', 'fleet: Redis is up; rate limits are fleet-wide', {
        redis: this.#where(),
      });
      this.#opts.events.emit(systemEvent('fleet_redis_up', 'success', null, { redis: this.#where() }));
    } else {
      const err = new TollgateError(
        ErrorCode.FLEET_REDIS,
        `Redis at ${this.#where()} is unreachable (${reason ?? 'unknown'}); each instance enforces rate limits locally until it is back`,
      );
      this.#opts.logger.log('error', err.message, { code: err.code });
      this.#opts.events.emit(
        systemEvent('fleet_redis_down', 'failure', err.message, { redis: this.#where() }),
      );
    }
  }

  async lease(id: string, ratePerSecond: number, burst: number, want: number): Promise<Lease> {
    const key = `${this.#opts.prefix}rl:${id.length > 200 ? createHash('sha256').update(id).digest('hex') : id}`;
    const args = [String(ratePerSecond), String(burst), String(want)];
    const options = { timeout: this.#opts.timeoutMs };
    try {
      let r: unknown;
      try {
        r = await this.#client.sendCommand(['EVALSHA', SHA, '1', key, ...args], options);
      } catch (err) {
        if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
        r = await this.#client.sendCommand(['EVAL', SCRIPT, '1', key, ...args], options);
      }
      const [granted, waitMs] = r as [number, number];
      this.leases++;
      return { granted: Number(granted), waitMs: Number(waitMs) };
    } catch (err) {
      this.failures++;
      this.#set(false, err instanceof Error ? err.message : String(err));
      throw err;
    }
  }

  /** Publishes this instance's heavy hitters (a JSON document), replacing its previous snapshot. */
  async publishTop(instance: string, doc: string): Promise<void> {
    const p = this.#opts.prefix;
    await this.#client.sendCommand(
      [
        'EVAL',
        PUBLISH_TOP,
        '2',
        `${p}top:index`,
        `${p}top:${instance}`,
        instance,
        doc,
        String(TOP_SNAPSHOT_TTL_MS),
      ],
      { timeout: this.#opts.timeoutMs },
    );
  }

  /** Every live instance's heavy-hitter snapshot. */
  async readTops(): Promise<string[]> {
    const p = this.#opts.prefix;
    const options = { timeout: this.#opts.timeoutMs };
    const names = (await this.#client.sendCommand(
      ['ZRANGE', `${p}top:index`, '0', '-1'],
      options,
    )) as string[];
    if (names.length === 0) return [];
    const docs = (await this.#client.sendCommand(['MGET', ...names.map((n) => `${p}top:${n}`)], options)) as (
      | string
      | null
    )[];
    return docs.filter((d): d is string => d !== null);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#probe !== null) clearInterval(this.#probe);
    try {
      if (this.#client.isOpen) await this.#client.close();
      else this.#client.destroy();
    } catch {
      this.#client.destroy();
    }
  }
}
