import { ErrorCode, TollgateError } from '../core/index.js';

/**
 * A small client of etcd's v3 API through its JSON gateway (`/v3/kv/range`, `/v3/kv/txn`,
 * `/v3/lease/*`, `/v3/watch`), which every etcd ≥ 3.4 serves on its client port: no gRPC stack
 * and no extra dependency (docs/adr/0006-fleet.md). Keys and values are base64 on the wire;
 * revisions are decimal strings there and numbers here. Each call tries the endpoints in order
 * and fails with TG_ERR_FLEET_ETCD naming the last one and why.
 */
export interface EtcdKv {
  key: string;
  value: string;
  modRevision: number;
  createRevision: number;
  lease: string | null;
}

export interface WatchEvent {
  type: 'PUT' | 'DELETE';
  kv: EtcdKv;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => (s === undefined ? '' : Buffer.from(s, 'base64').toString('utf8'));

/** The key right after every key that starts with `prefix` (etcd's range_end for a prefix). */
function prefixEnd(prefix: string): string {
  const buf = Buffer.from(prefix, 'utf8');
  for (let i = buf.length - 1; i >= 0; i--) {
    if (buf[i]! < 0xff) {
      buf[i]! += 1;
      return buf.subarray(0, i + 1).toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64');
}

interface RawKv {
  key: string;
  value?: string;
  mod_revision?: string;
  create_revision?: string;
  lease?: string;
}

function kvOf(raw: RawKv): EtcdKv {
  return {
    key: unb64(raw.key),
    value: unb64(raw.value),
    modRevision: Number(raw.mod_revision ?? 0),
    createRevision: Number(raw.create_revision ?? 0),
    lease: raw.lease === undefined || raw.lease === '0' ? null : raw.lease,
  };
}

export class EtcdClient {
  readonly endpoints: readonly string[];
  readonly #timeoutMs: number;
  #preferred = 0;

  constructor(endpoints: readonly string[], timeoutMs = 2000) {
    this.endpoints = endpoints.map((e) => e.replace(/\/+$/, ''));
    this.#timeoutMs = timeoutMs;
  }

  async #call(path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
    let last: unknown = null;
    for (let i = 0; i < this.endpoints.length; i++) {
      const n = (this.#preferred + i) % this.endpoints.length;
      const url = `${this.endpoints[n]}${path}`;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: signal ?? AbortSignal.timeout(this.#timeoutMs),
        });
        if (res.status >= 500 || res.status === 404) {
          last = new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
          continue;
        }
        if (res.status >= 400) {
          const text = (await res.text()).slice(0, 300);
          throw new TollgateError(ErrorCode.FLEET_ETCD, `etcd at ${url} refused the call: ${text}`, {
            source: 'internal',
          });
        }
        this.#preferred = n;
        return res;
      } catch (err) {
        if (err instanceof TollgateError) throw err;
        last = err;
      }
    }
    const why =
      last instanceof Error ? (last.cause instanceof Error ? last.cause.message : last.message) : '';
    throw new TollgateError(
      ErrorCode.FLEET_ETCD,
      `etcd is unreachable at ${this.endpoints.join(', ')} (${why || 'no answer'})`,
      { source: 'internal', retryable: true, cause: last },
    );
  }

  async #json<T>(path: string, body: unknown): Promise<T> {
    return (await (await this.#call(path, body)).json()) as T;
  }

  /** One key (null when absent) and the store's revision at the time of the read. */
  async get(key: string): Promise<{ kv: EtcdKv | null; revision: number }> {
    const r = await this.#json<{ header: { revision: string }; kvs?: RawKv[] }>('/v3/kv/range', {
      key: b64(key),
    });
    return { kv: r.kvs?.[0] === undefined ? null : kvOf(r.kvs[0]), revision: Number(r.header.revision) };
  }

  /** Every key under a prefix. */
  async list(prefix: string): Promise<EtcdKv[]> {
    const r = await this.#json<{ kvs?: RawKv[] }>('/v3/kv/range', {
      key: b64(prefix),
      range_end: prefixEnd(prefix),
    });
    return (r.kvs ?? []).map(kvOf);
  }

  /**
   * Compare-and-swap: writes `value` only if the key's mod revision is still `modRevision`
   * (0: only if the key does not exist). Returns the new revision, or null when another
   * writer got there first.
   */
  async putIf(key: string, value: string, modRevision: number): Promise<number | null> {
    const r = await this.#json<{ header: { revision: string }; succeeded?: boolean }>('/v3/kv/txn', {
      compare: [{ key: b64(key), target: 'MOD', mod_revision: String(modRevision), result: 'EQUAL' }],
      success: [{ request_put: { key: b64(key), value: b64(value) } }],
    });
    return r.succeeded === true ? Number(r.header.revision) : null;
  }

  async put(key: string, value: string, lease: string | null = null): Promise<number> {
    const body: Record<string, string> = { key: b64(key), value: b64(value) };
    if (lease !== null) body.lease = lease;
    const r = await this.#json<{ header: { revision: string } }>('/v3/kv/put', body);
    return Number(r.header.revision);
  }

  /** A lease of `ttlS` seconds; its id. */
  async grant(ttlS: number): Promise<string> {
    const r = await this.#json<{ ID: string }>('/v3/lease/grant', { TTL: String(ttlS) });
    return r.ID;
  }

  /** Renews a lease; false when it has expired (its keys are gone). */
  async keepAlive(lease: string): Promise<boolean> {
    const r = await this.#json<{ result?: { TTL?: string } }>('/v3/lease/keepalive', { ID: lease });
    return Number(r.result?.TTL ?? 0) > 0;
  }

  async revoke(lease: string): Promise<void> {
    await this.#json('/v3/lease/revoke', { ID: lease });
  }

  /**
   * Watches a key from `fromRevision` on; `onEvent` gets each change in order. Resolves when the
   * stream ends (etcd went away, or `signal` aborted it): the caller reconnects from the last
   * revision it saw + 1.
   */
  async watch(
    key: string,
    fromRevision: number,
    onEvent: (e: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const res = await this.#call(
      '/v3/watch',
      { create_request: { key: b64(key), start_revision: String(fromRevision) } },
      signal,
    );
    if (res.body === null) return;
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
        if (line === '') continue;
        const msg = JSON.parse(line) as {
          result?: { events?: { type?: string; kv: RawKv }[]; canceled?: boolean; compact_revision?: string };
          error?: { message?: string };
        };
        if (msg.error !== undefined)
          throw new TollgateError(ErrorCode.FLEET_ETCD, `etcd watch failed: ${msg.error.message ?? ''}`);
        if (msg.result?.canceled === true)
          throw new TollgateError(
            ErrorCode.FLEET_ETCD,
            `etcd cancelled the watch of ${key}${msg.result.compact_revision ? ` (compacted at ${msg.result.compact_revision})` : ''}`,
          );
        for (const e of msg.result?.events ?? [])
          onEvent({ type: e.type === 'DELETE' ? 'DELETE' : 'PUT', kv: kvOf(e.kv) });
      }
    }
  }
}
