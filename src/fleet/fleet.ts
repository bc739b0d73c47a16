import { setTimeout as sleep } from 'node:timers/promises';
import type { FleetPlan, RuntimePlan } from '../config/index.js';
import { compileConfigText } from '../config/index.js';
import type { EventSink, Logger } from '../core/index.js';
import { ErrorCode, isTollgateError, systemEvent, TollgateError } from '../core/index.js';
import type { SharedBuckets } from '../identity/index.js';
import type { TopClients } from '../metrics/index.js';
import type { EtcdKv } from './etcd.js';
import { EtcdClient } from './etcd.js';
import type { FleetTopClient, TopBy } from './fleet-top.js';
import { FleetTop } from './fleet-top.js';
import { RedisBuckets } from './redis-buckets.js';
import type { SharedDocument } from './shared-config.js';
import { changedLocalKeys, composeText, SHARED_KEYS, sharedPart } from './shared-config.js';

/** What the fleet needs from the running instance (the app implements it). */
export interface FleetHost {
  plan(): RuntimePlan;
  /** Swaps in a plan like a reload; `actor` and `labels` go on its `config_reload` event. */
  apply(plan: RuntimePlan, actor: string, labels: Record<string, string | number | null>): Promise<void>;
  /** Where this instance answers, for the fleet listing. */
  describe(): { admin: string | null; listeners: string[]; pid: number; startedAt: number };
}

export interface FleetOptions {
  plan: FleetPlan;
  /** The instance's own config file: its text and path (relative paths start from its folder). */
  localText: string;
  localSource: string;
  host: FleetHost;
  events: EventSink;
  logger: Logger;
  /** This instance's heavy-hitter sketches, published to Redis for the fleet-wide view. */
  topClients?: Record<TopBy, TopClients>;
}

/** One instance as it announces itself in etcd (`<prefix>instances/<name>`, on its lease). */
export interface InstanceRecord {
  instance: string;
  pid: number;
  admin: string | null;
  listeners: string[];
  applied_revision: number;
  /** Why the newest fleet config is not applied here, or null. */
  config_error: string | null;
  redis: 'up' | 'down' | 'off';
  started_at: string;
  updated_at: string;
}

export interface FleetView {
  fleet: true;
  self: string;
  /** The fleet config's newest revision in etcd (null: none yet or etcd unreachable). */
  config_revision: number | null;
  etcd: 'up' | 'down' | 'off';
  items: (InstanceRecord & { health: 'ok' | 'degraded'; current: boolean })[];
  next: null;
}

/**
 * Fleet mode (docs/fleet.md): the shared part of the config lives in etcd under
 * `<prefix>config`; a change through any instance's admin API is written there with
 * compare-and-swap on the revision this instance last saw, and every instance watches the key
 * and applies each revision (validate, compile, swap). An instance that cannot apply one keeps
 * the last good plan and says so (`fleet_config_rejected`, and in its instance record). Each
 * instance keeps `<prefix>instances/<name>` alive on a lease; rate-limit buckets are in Redis.
 */
export class Fleet {
  readonly instance: string;
  /** Shared rate-limit buckets, when `fleet.redis` is set. */
  readonly buckets: RedisBuckets | null;
  readonly #top: FleetTop | null;
  readonly #opts: FleetOptions;
  readonly #etcd: EtcdClient | null;
  readonly #configKey: string;
  readonly #instancesPrefix: string;
  #localText: string;
  /** The fleet config revision this instance runs (0: none). */
  #applied = 0;
  /** The newest revision seen, applied or not. */
  #seen = 0;
  #configError: string | null = null;
  #etcdUp: boolean | null = null;
  #lease: string | null = null;
  #queue: Promise<void> = Promise.resolve();
  readonly #abort = new AbortController();
  #loops: Promise<void>[] = [];
  #closed = false;

  constructor(opts: FleetOptions) {
    this.#opts = opts;
    this.instance = opts.plan.instance;
    this.#localText = opts.localText;
    const etcd = opts.plan.etcd;
    this.#etcd = etcd === null ? null : new EtcdClient(etcd.endpoints);
    this.#configKey = `${etcd?.prefix ?? '/tollgate/'}config`;
    this.#instancesPrefix = `${etcd?.prefix ?? '/tollgate/'}instances/`;
    this.buckets =
      opts.plan.redis === null
        ? null
        : new RedisBuckets({
            url: opts.plan.redis.url,
            timeoutMs: opts.plan.redis.timeoutMs,
            prefix: `tollgate:${etcd?.prefix ?? '/tollgate/'}`,
            events: opts.events,
            logger: opts.logger,
            onChange: () => void this.#announce(),
          });
    this.#top =
      this.buckets === null || opts.topClients === undefined
        ? null
        : new FleetTop(this.buckets, this.instance, opts.topClients);
  }

  /**
   * `GET /api/v1/clients/top?scope=fleet`: the busiest keys of the whole fleet (every live
   * instance's published sketch, merged). TG_ERR_USAGE without `fleet.redis` or for a window the
   * sketches do not keep; TG_ERR_FLEET_REDIS when Redis cannot be read.
   */
  async top(
    by: TopBy,
    windowMs: number,
    n: number,
  ): Promise<{ instances: string[]; items: FleetTopClient[] }> {
    const top = this.#top;
    const sketch = this.#opts.topClients?.[by];
    if (top === null || sketch === undefined)
      throw new TollgateError(ErrorCode.USAGE, 'fleet-wide heavy hitters need fleet.redis', {
        source: 'usage',
      });
    if (!sketch.windowsMs.includes(windowMs))
      throw new TollgateError(
        ErrorCode.USAGE,
        `window ${windowMs} ms is not one of ${sketch.windowsMs.map((w) => `${w / 60_000}m`).join(', ')}`,
        { source: 'usage' },
      );
    try {
      return await top.top(by, windowMs, n);
    } catch (err) {
      throw new TollgateError(
        ErrorCode.FLEET_REDIS,
        `cannot read the fleet's heavy hitters from Redis: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  }

  get sharedBuckets(): SharedBuckets | null {
    return this.buckets;
  }

  /** For the metrics: whether etcd and Redis answer (null: not configured), and the applied revision. */
  state(): { etcd: boolean | null; redis: boolean | null; appliedRevision: number } {
    return {
      etcd: this.#etcd === null ? null : this.#etcdUp === true,
      redis: this.buckets === null ? null : this.buckets.up,
      appliedRevision: this.#applied,
    };
  }

  /** The fleet config revision this instance runs. */
  get appliedRevision(): number {
    return this.#applied;
  }

  /** True when config changes go through etcd (PUT /api/v1/config does not write the local file). */
  get sharesConfig(): boolean {
    return this.#etcd !== null;
  }

  /**
   * Joins the fleet: seeds etcd with this instance's shared keys if the fleet has no config yet,
   * otherwise compiles the fleet's config over the local file. Returns the plan to start with
   * (the local one when etcd is unreachable or the fleet's config does not compile here; both
   * are reported as events). Never throws for a dead dependency.
   */
  async start(local: RuntimePlan): Promise<RuntimePlan> {
    this.buckets?.start();
    this.#top?.start();
    if (this.#etcd === null) return local;
    let plan = local;
    try {
      let { kv } = await this.#etcd.get(this.#configKey);
      if (kv === null && !(await this.#seed(local.text))) kv = (await this.#etcd.get(this.#configKey)).kv;
      if (kv !== null) {
        this.#seen = kv.modRevision;
        const compiled = this.#compile(kv);
        if (compiled instanceof Error) this.#reject(kv.modRevision, compiled.message);
        else {
          plan = compiled.plan;
          this.#applied = kv.modRevision;
        }
      }
      this.#etcdState(true, null);
    } catch (err) {
      this.#etcdState(false, err);
    }
    this.#loops.push(this.#watchLoop(), this.#leaseLoop());
    return plan;
  }

  /**
   * `PUT /api/v1/config` in fleet mode: writes the shared part of `next` to etcd if nobody wrote
   * since the revision this instance saw and the plan it was checked against (`base`) still runs
   * (else TG_ERR_FLEET_CONFLICT), then applies it here.
   * Changing an instance-local key is TG_ERR_FLEET_LOCAL_KEY.
   */
  publish(next: RuntimePlan, actor: string, base?: RuntimePlan): Promise<void> {
    const etcd = this.#etcd;
    if (etcd === null) return this.#opts.host.apply(next, actor, {});
    return this.#serial(async () => {
      // another instance's revision was applied here after the change was checked against the old plan
      if (base !== undefined && this.#opts.host.plan() !== base)
        throw new TollgateError(
          ErrorCode.FLEET_CONFLICT,
          `the fleet config changed (revision ${this.#applied} was applied here) while this change was being checked; read it again and retry`,
          { source: 'admin', status: 409 },
        );
      const changed = changedLocalKeys(this.#opts.host.plan().text, next.text);
      if (changed.length > 0)
        throw new TollgateError(
          ErrorCode.FLEET_LOCAL_KEY,
          `${changed.join(', ')} ${changed.length === 1 ? 'belongs' : 'belong'} to each instance's own config file in fleet mode (only ${SHARED_KEYS.join(', ')} are shared); change the file and send SIGHUP`,
          { source: 'admin', status: 422 },
        );
      const rev = await etcd.putIf(this.#configKey, this.#document(next.text, actor), this.#seen);
      if (rev === null) {
        const now = (await etcd.get(this.#configKey)).kv?.modRevision ?? 0;
        throw new TollgateError(
          ErrorCode.FLEET_CONFLICT,
          `the fleet config changed in etcd (now revision ${now}, this instance saw ${this.#seen}); read it again and retry`,
          { source: 'admin', status: 409 },
        );
      }
      this.#seen = rev;
      try {
        await this.#opts.host.apply(next, actor, { fleet_revision: rev });
      } catch (err) {
        this.#reject(rev, err instanceof Error ? err.message : String(err));
        throw err;
      }
      this.#applied = rev;
      this.#configError = null;
      void this.#announce();
    });
  }

  /** SIGHUP in fleet mode: the file's local keys with the fleet's shared ones. Throws ConfigError. */
  async planFromFile(localText: string): Promise<RuntimePlan> {
    if (this.#etcd === null) return compileConfigText(localText, this.#opts.localSource);
    const { kv } = await this.#etcd.get(this.#configKey);
    const shared = kv === null ? sharedPart(localText) : (JSON.parse(kv.value) as SharedDocument).shared;
    const plan = compileConfigText(composeText(localText, shared), this.#opts.localSource);
    this.#localText = localText;
    return plan;
  }

  /** Writes this instance's shared keys as the fleet's first config; false if another instance was first. */
  async #seed(text: string): Promise<boolean> {
    const rev = await this.#etcd!.putIf(this.#configKey, this.#document(text, 'tollgate'), 0);
    if (rev === null) return false;
    this.#applied = this.#seen = rev;
    this.#opts.events.emit(
      systemEvent('fleet_config_seeded', 'success', null, {
        fleet_revision: rev,
        keys: SHARED_KEYS.join(','),
      }),
    );
    void this.#announce();
    return true;
  }

  #document(text: string, actor: string): string {
    const doc: SharedDocument = {
      shared: sharedPart(text),
      actor,
      instance: this.instance,
      at: new Date().toISOString(),
    };
    return JSON.stringify(doc);
  }

  #compile(kv: EtcdKv): { plan: RuntimePlan; doc: SharedDocument } | Error {
    try {
      const doc = JSON.parse(kv.value) as SharedDocument;
      if (doc === null || typeof doc !== 'object' || typeof doc.shared !== 'object')
        return new Error('the value in etcd is not a Tollgate fleet config document');
      const plan = compileConfigText(composeText(this.#localText, doc.shared), this.#opts.localSource);
      return { plan, doc };
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  #serialValue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn);
    this.#queue = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  #serial(fn: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** A revision from the watch: applied unless this instance already runs it (it wrote it). */
  #onRevision(kv: EtcdKv): Promise<void> {
    return this.#serial(async () => {
      if (kv.modRevision <= this.#applied) return;
      this.#seen = Math.max(this.#seen, kv.modRevision);
      const compiled = this.#compile(kv);
      if (compiled instanceof Error) return this.#reject(kv.modRevision, compiled.message);
      try {
        await this.#opts.host.apply(compiled.plan, 'tollgate', {
          fleet_revision: kv.modRevision,
          changed_by: compiled.doc.actor,
          origin: compiled.doc.instance,
        });
      } catch (err) {
        return this.#reject(kv.modRevision, err instanceof Error ? err.message : String(err));
      }
      this.#applied = kv.modRevision;
      this.#configError = null;
      this.#opts.logger.log('info', 'fleet: applied config revision', {
        revision: kv.modRevision,
        changed_by: compiled.doc.actor,
        origin: compiled.doc.instance,
      });
      await this.#announce();
    });
  }

  #reject(revision: number, why: string): void {
    const reason = `revision ${revision} of the fleet config cannot be applied on ${this.instance}: ${why}; ${
      this.#applied > 0 ? `revision ${this.#applied}` : 'the local config'
    } keeps serving`;
    this.#configError = reason;
    this.#opts.logger.log('error', reason, { code: ErrorCode.CONFIG_INVALID });
    this.#opts.events.emit(
      systemEvent('fleet_config_rejected', 'failure', reason, {
        fleet_revision: revision,
        applied_revision: this.#applied,
      }),
    );
    void this.#announce();
  }

  #etcdState(up: boolean, err: unknown): void {
    if (this.#etcdUp === up || this.#closed) return;
    const first = this.#etcdUp === null;
    this.#etcdUp = up;
    if (up) {
      if (!first) this.#opts.events.emit(systemEvent('fleet_etcd_up', 'success', null, {}));
      return;
    }
    const msg = isTollgateError(err) || err instanceof Error ? err.message : String(err);
    const reason = `${msg}; this instance keeps its running config (revision ${this.#applied}) and retries every second`;
    this.#opts.logger.log('error', reason, { code: ErrorCode.FLEET_ETCD });
    this.#opts.events.emit(systemEvent('fleet_etcd_down', 'failure', reason, {}));
  }

  /** Follows `<prefix>config` from the revision after the newest seen; reconnects every second. */
  async #watchLoop(): Promise<void> {
    const etcd = this.#etcd!;
    const signal = this.#abort.signal;
    while (!this.#closed) {
      try {
        let { kv, revision } = await etcd.get(this.#configKey);
        this.#etcdState(true, null);
        // etcd was down when this instance started and the fleet has no config yet: this one is the first
        if (
          kv === null &&
          this.#seen === 0 &&
          (await this.#serialValue(() => this.#seed(this.#opts.host.plan().text)))
        )
          ({ kv, revision } = await etcd.get(this.#configKey));
        if (kv !== null && kv.modRevision > this.#applied && kv.modRevision > this.#seen)
          await this.#onRevision(kv);
        await etcd.watch(
          this.#configKey,
          revision + 1,
          (e) => {
            if (e.type === 'PUT')
              this.#onRevision(e.kv).catch((err: unknown) =>
                this.#opts.logger.log('error', 'fleet: applying a config revision failed', {
                  revision: e.kv.modRevision,
                  error: String(err),
                }),
              );
          },
          signal,
        );
      } catch (err) {
        if (this.#closed) return;
        this.#etcdState(false, err);
      }
      if (this.#closed) return;
      await sleep(1000, undefined, { signal }).catch(() => {});
    }
  }

  /** Keeps this instance's record alive on a lease; re-grants after an outage. */
  async #leaseLoop(): Promise<void> {
    const ttl = this.#opts.plan.etcd!.leaseTtlS;
    const signal = this.#abort.signal;
    while (!this.#closed) {
      try {
        if (this.#lease !== null && !(await this.#etcd!.keepAlive(this.#lease))) this.#lease = null;
        await this.#announce();
      } catch {
        // reported by the watch loop
      }
      await sleep((ttl * 1000) / 3, undefined, { signal }).catch(() => {});
    }
  }

  #record(): InstanceRecord {
    const d = this.#opts.host.describe();
    return {
      instance: this.instance,
      pid: d.pid,
      admin: d.admin,
      listeners: d.listeners,
      applied_revision: this.#applied,
      config_error: this.#configError,
      redis: this.buckets === null ? 'off' : this.buckets.up ? 'up' : 'down',
      started_at: new Date(d.startedAt).toISOString(),
      updated_at: new Date().toISOString(),
    };
  }

  async #announce(): Promise<void> {
    const etcd = this.#etcd;
    if (etcd === null || this.#closed) return;
    try {
      this.#lease ??= await etcd.grant(this.#opts.plan.etcd!.leaseTtlS);
      await etcd.put(`${this.#instancesPrefix}${this.instance}`, JSON.stringify(this.#record()), this.#lease);
    } catch {
      // the lease loop tries again
    }
  }

  /** GET /api/v1/fleet: every instance with a live lease, its applied revision and health. */
  async view(): Promise<FleetView> {
    const etcd = this.#etcd;
    const self = { ...this.#record(), health: 'ok' as const, current: true };
    if (etcd === null)
      return {
        fleet: true,
        self: this.instance,
        config_revision: null,
        etcd: 'off',
        items: [{ ...self, health: this.buckets?.up === false ? 'degraded' : 'ok' }],
        next: null,
      };
    try {
      const [config, list] = await Promise.all([etcd.get(this.#configKey), etcd.list(this.#instancesPrefix)]);
      const latest = config.kv?.modRevision ?? null;
      const items = list
        .flatMap((kv) => {
          try {
            return [JSON.parse(kv.value) as InstanceRecord];
          } catch {
            return []; // not written by Tollgate
          }
        })
        .sort((a, b) => (a.instance < b.instance ? -1 : 1))
        .map((r) => {
          const current = latest === null || r.applied_revision === latest;
          const ok = current && r.config_error === null && r.redis !== 'down';
          return { ...r, current, health: ok ? ('ok' as const) : ('degraded' as const) };
        });
      return { fleet: true, self: this.instance, config_revision: latest, etcd: 'up', items, next: null };
    } catch (err) {
      this.#etcdState(false, err);
      throw err;
    }
  }

  /** Leaves the fleet: the lease is revoked (the instance disappears at once), Redis closed. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#top?.close();
    this.#abort.abort();
    await Promise.allSettled(this.#loops);
    if (this.#lease !== null) await this.#etcd?.revoke(this.#lease).catch(() => {});
    await this.buckets?.close();
  }
}
