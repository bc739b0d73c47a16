import type { ListenerPlan, RuntimePlan } from '../config/index.js';
import type { Clock, EventSink, Logger, OutcomeObserver } from '../core/index.js';
import { BackendRegistry } from '../health/index.js';
import type { SharedBuckets } from '../identity/index.js';
import { RateLimits } from '../identity/index.js';
import { ListenerRuntime } from './listener.js';
import { PlanRuntime, type SharedRuntime } from './plan-runtime.js';
import type { ProxyServices } from './services.js';
import { Upstreams } from './upstreams.js';

export interface DataPlaneOptions {
  clock: Clock;
  observer: OutcomeObserver;
  logger: Logger;
  events: EventSink;
  auditGate?: (() => string | null) | null;
  /** Resolves once every record handed over so far is durable; used under durability: strict. */
  durable?: () => Promise<void>;
  /** Fleet mode: rate-limit buckets shared by every instance (the app plugs in the fleet's Redis). */
  sharedBuckets?: SharedBuckets | null;
  /** The secret of canary requests (audit.canary); null or absent: no request is a canary. */
  canaryToken?: Buffer | null;
  /**
   * False in the primary of a cluster (`workers` > 1): it keeps the plan and the backends' state
   * (active checks, drain) for the admin API and the metrics, and opens no listener.
   */
  serve?: boolean;
  /** False in a cluster worker: health comes from the primary (`backends.mirror`). */
  activeChecks?: boolean;
}

/** One listener as the admin API, the metrics and the logs show it. */
export interface ListenerView {
  name: string;
  proto: 'http' | 'https';
  host: string;
  port: number;
  connections: number;
  refused: number;
}

/** A listener of the new plan reuses a running one on the same address (port 0 matches the port it was given). */
function sameSocket(l: ListenerRuntime, p: ListenerPlan): boolean {
  if (l.plan.host !== p.host || (l.plan.tls === null) !== (p.tls === null)) return false;
  return p.port === 0 ? l.plan.name === p.name : l.port() === p.port;
}

/**
 * The data plane: listeners, the current plan, backend state and upstream pools.
 * `reload(plan)` swaps the plan atomically (new requests use it, requests in flight keep theirs)
 * while backend state survives; `drain` stops accepting and lets in-flight requests finish.
 */
export class DataPlane {
  readonly backends: BackendRegistry;
  /** Rate-limit buckets per route; they survive reloads that keep the route's limit. */
  readonly rateLimits: RateLimits;
  readonly #upstreams = new Upstreams();
  readonly #shared: SharedRuntime;
  readonly #services: ProxyServices;
  #runtime: PlanRuntime | null = null;
  #listeners: ListenerRuntime[] = [];
  #closed = false;
  readonly #serve: boolean;

  constructor(options: DataPlaneOptions) {
    this.#serve = options.serve ?? true;
    this.backends = new BackendRegistry(options.clock, options.events, options.activeChecks ?? true);
    this.rateLimits = new RateLimits(options.clock, { sharedBuckets: options.sharedBuckets ?? null });
    this.#shared = {
      clock: options.clock,
      backends: this.backends,
      upstreams: this.#upstreams,
      rateLimits: this.rateLimits,
    };
    this.#services = {
      clock: options.clock,
      observer: options.observer,
      logger: options.logger,
      auditGate: options.auditGate ?? null,
      durable: options.durable ?? (() => Promise.resolve()),
      canaryToken: options.canaryToken ?? null,
      current: () => this.#runtime!,
    };
  }

  get plan(): RuntimePlan {
    return this.#runtime!.plan;
  }

  /** Opens the listeners of the first plan. */
  async start(plan: RuntimePlan): Promise<void> {
    this.#install(plan);
    if (!this.#serve) return;
    try {
      for (const lp of plan.listeners) {
        const l = new ListenerRuntime(lp, this.#services);
        await l.listen();
        this.#listeners.push(l);
      }
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  #install(plan: RuntimePlan): void {
    this.backends.sync(plan);
    this.rateLimits.sync(plan.routes);
    const runtime = new PlanRuntime(plan, this.#shared);
    this.#runtime = runtime;
    const used = new Set<import('undici').Pool>();
    for (const p of runtime.pools.values()) for (const u of p.upstreams) used.add(u);
    this.#upstreams.retain(used);
  }

  /** Swaps in a compiled plan. Listeners that stay keep their sockets; new ones open, removed ones drain. */
  async reload(plan: RuntimePlan): Promise<void> {
    if (!this.#serve) return this.#install(plan);
    const next: ListenerRuntime[] = [];
    const opened: ListenerRuntime[] = [];
    try {
      for (const lp of plan.listeners) {
        const existing = this.#listeners.find((l) => !next.includes(l) && sameSocket(l, lp));
        if (existing !== undefined) {
          next.push(existing);
        } else {
          const l = new ListenerRuntime(lp, this.#services);
          await l.listen();
          opened.push(l);
          next.push(l);
        }
      }
    } catch (err) {
      for (const l of opened) await l.stopAccepting();
      throw err;
    }
    this.#install(plan);
    for (let i = 0; i < plan.listeners.length; i++) next[i]!.update(plan.listeners[i]!);
    for (const l of this.#listeners) if (!next.includes(l)) void l.stopAccepting();
    this.#listeners = next;
  }

  listeners(): ListenerRuntime[] {
    return [...this.#listeners];
  }

  listenerViews(): ListenerView[] {
    return this.#listeners.map((l) => ({
      name: l.plan.name,
      proto: l.proto,
      host: l.plan.host,
      port: l.port(),
      connections: l.connections,
      refused: l.refusedConnections,
    }));
  }

  /** Port a listener is bound to, by name. */
  port(name: string): number {
    for (const l of this.#listeners) if (l.plan.name === name) return l.port();
    throw new Error(`no listener named ${name}`);
  }

  /** Requests in flight across all pools of the current plan. */
  inflight(): number {
    let n = 0;
    for (const s of this.backends.all()) n += s.inflight;
    return n;
  }

  /** Stop accepting, wait for in-flight requests up to the deadline, then cut what is left. */
  async drain(deadlineMs: number): Promise<{ cut: number }> {
    const all = this.listeners();
    const stopped = Promise.all(all.map((l) => l.stopAccepting()));
    const deadline = new Promise<'deadline'>((r) => setTimeout(() => r('deadline'), deadlineMs).unref());
    const result = await Promise.race([stopped.then(() => 'done' as const), deadline]);
    let cut = 0;
    if (result === 'deadline') {
      for (const l of all) {
        cut += l.connections;
        l.destroyAll();
      }
    }
    return { cut };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const l of this.#listeners) l.destroyAll();
    await Promise.all(this.#listeners.map((l) => l.stopAccepting()));
    this.backends.close();
    await this.#upstreams.close();
  }
}
