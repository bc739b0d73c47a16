import type { ListenerPlan, RuntimePlan } from '../config/index.js';
import type { Clock, EventSink, Logger, OutcomeObserver } from '../core/index.js';
import { BackendRegistry } from '../health/index.js';
import { ListenerRuntime } from './listener.js';
import { PlanRuntime } from './plan-runtime.js';
import type { ProxyServices } from './services.js';
import { Upstreams } from './upstreams.js';

export interface ProxyOptions {
  clock: Clock;
  observer: OutcomeObserver;
  logger: Logger;
  events: EventSink;
  auditGate?: (() => string | null) | null;
}

function listenerKey(p: ListenerPlan): string {
  return `${p.host}|${p.port}|${p.tls === null ? 'http' : 'https'}`;
}

/**
 * The data plane: listeners, the current plan, backend state and upstream pools.
 * `reload(plan)` swaps the plan atomically (new requests use it, requests in flight keep theirs)
 * while backend state survives; `drain` stops accepting and lets in-flight requests finish.
 */
export class Proxy {
  readonly backends: BackendRegistry;
  readonly #upstreams = new Upstreams();
  readonly #services: ProxyServices;
  #runtime: PlanRuntime | null = null;
  #listeners = new Map<string, ListenerRuntime>();
  #closed = false;

  constructor(options: ProxyOptions) {
    this.backends = new BackendRegistry(options.clock, options.events);
    this.#services = {
      clock: options.clock,
      observer: options.observer,
      logger: options.logger,
      auditGate: options.auditGate ?? null,
      current: () => this.#runtime!,
    };
  }

  get plan(): RuntimePlan {
    return this.#runtime!.plan;
  }

  /** Opens the listeners of the first plan. */
  async start(plan: RuntimePlan): Promise<void> {
    this.#install(plan);
    try {
      for (const lp of plan.listeners) {
        const l = new ListenerRuntime(lp, this.#services);
        await l.listen();
        this.#listeners.set(listenerKey(lp), l);
      }
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  #install(plan: RuntimePlan): void {
    this.backends.sync(plan);
    const runtime = new PlanRuntime(plan, this.backends, this.#upstreams);
    this.#runtime = runtime;
    const used = new Set<import('undici').Pool>();
    for (const p of runtime.pools.values()) for (const u of p.upstreams) used.add(u);
    this.#upstreams.retain(used);
  }

  /** Swaps in a compiled plan. Listeners that stay keep their sockets; new ones open, removed ones drain. */
  async reload(plan: RuntimePlan): Promise<void> {
    const next = new Map<string, ListenerRuntime>();
    const opened: ListenerRuntime[] = [];
    try {
      for (const lp of plan.listeners) {
        const key = listenerKey(lp);
        const existing = this.#listeners.get(key);
        if (existing !== undefined) {
          next.set(key, existing);
        } else {
          const l = new ListenerRuntime(lp, this.#services);
          await l.listen();
          opened.push(l);
          next.set(key, l);
        }
      }
    } catch (err) {
      for (const l of opened) await l.stopAccepting();
      throw err;
    }
    this.#install(plan);
    for (const lp of plan.listeners) next.get(listenerKey(lp))!.update(lp);
    for (const [key, l] of this.#listeners) if (!next.has(key)) void l.stopAccepting();
    this.#listeners = next;
  }

  listeners(): ListenerRuntime[] {
    return [...this.#listeners.values()];
  }

  /** Port a listener is bound to, by name. */
  port(name: string): number {
    for (const l of this.#listeners.values()) if (l.plan.name === name) return l.port();
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
    for (const l of this.#listeners.values()) l.destroyAll();
    await Promise.all([...this.#listeners.values()].map((l) => l.stopAccepting()));
    this.backends.close();
    await this.#upstreams.close();
  }
}
