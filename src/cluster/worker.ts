import type { RuntimePlan } from '../config/index.js';
import { compileConfigText } from '../config/index.js';
import type { AdminEvent, Logger, OutcomeObserver, RequestOutcome } from '../core/index.js';
import { systemClock } from '../core/index.js';
import type { Lease, SharedBuckets } from '../identity/index.js';
import { DataPlane } from '../proxy/index.js';
import type { ToPrimary, ToWorker, WorkerStats } from './protocol.js';
import { HANDOVER_MS, HANDOVER_OUTCOMES, STATS_MS } from './protocol.js';

type Send = (m: ToPrimary, done?: () => void) => void;

/** The worker's `complete` hand-off: outcomes go to the primary in batches, in completion order. */
class OutcomeForwarder implements OutcomeObserver {
  #list: RequestOutcome[] = [];
  #timer: NodeJS.Timeout | null = null;
  readonly #send: Send;

  constructor(send: Send) {
    this.#send = send;
  }

  onOutcome(o: RequestOutcome): void {
    this.#list.push(o);
    if (this.#list.length >= HANDOVER_OUTCOMES) this.flush();
    else if (this.#timer === null) this.#timer = setTimeout(flushSoon, HANDOVER_MS, this);
  }

  flush(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#list.length === 0) return;
    const list = this.#list;
    this.#list = [];
    this.#send({ t: 'outcomes', list });
  }
}

function flushSoon(f: OutcomeForwarder): void {
  f.flush();
}

/** The rate limiters' shared buckets are the primary's: leases over IPC, never one per request. */
class PrimaryBuckets implements SharedBuckets {
  readonly up = true;
  #next = 0;
  readonly #pending = new Map<number, (l: Lease) => void>();
  readonly #send: Send;

  constructor(send: Send) {
    this.#send = send;
  }

  lease(key: string, rate: number, burst: number, want: number): Promise<Lease> {
    const id = ++this.#next;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#send({ t: 'lease', id, key, rate, burst, want });
    });
  }

  answered(id: number, lease: Lease): void {
    this.#pending.get(id)?.(lease);
    this.#pending.delete(id);
  }
}

/**
 * One cluster worker: serves the listeners (node:cluster shares their sockets) with its own data
 * plane. Everything it learns goes to the primary: outcomes, admin events, counters. It takes
 * from the primary the plan (its text, compiled here), backend health and drain, the audit gate,
 * reloads and the drain. Signals are the primary's business: a worker ignores them and exits
 * when the primary says so, or when the primary is gone.
 */
export class ClusterWorker {
  readonly #logger: Logger;
  readonly #send: Send;
  readonly #forwarder: OutcomeForwarder;
  readonly #buckets: PrimaryBuckets;
  #proxy: DataPlane | null = null;
  #gate: string | null = null;
  #worker = 0;
  #durableId = 0;
  readonly #durable = new Map<number, () => void>();
  #statsTimer: NodeJS.Timeout | null = null;
  readonly #exit: () => void;

  constructor(logger: Logger, send: Send, exit: () => void) {
    this.#logger = logger;
    this.#send = send;
    this.#exit = exit;
    this.#forwarder = new OutcomeForwarder(send);
    this.#buckets = new PrimaryBuckets(send);
  }

  /** Handles one message from the primary. */
  async onMessage(m: ToWorker): Promise<void> {
    switch (m.t) {
      case 'init':
        return this.#init(m);
      case 'gate':
        this.#gate = m.reason;
        return;
      case 'backends':
        this.#proxy?.backends.mirror(m.list);
        return;
      case 'durable':
        this.#durable.get(m.id)?.();
        this.#durable.delete(m.id);
        return;
      case 'reload':
        return this.#reload(m.id, m.text, m.file);
      case 'drain':
        return this.#drain(m.deadlineMs);
      case 'lease':
        this.#buckets.answered(m.id, m);
        return;
    }
  }

  async #init(m: Extract<ToWorker, { t: 'init' }>): Promise<void> {
    this.#worker = m.worker;
    let plan: RuntimePlan;
    try {
      plan = compileConfigText(m.text, m.file);
      const proxy = new DataPlane({
        clock: systemClock,
        observer: this.#forwarder,
        logger: this.#logger,
        events: { emit: (e) => this.#event(e) },
        auditGate: () => this.#gate,
        durable: () => this.#whenDurable(),
        canaryToken: m.canaryToken === null ? null : Buffer.from(m.canaryToken),
        activeChecks: false,
        sharedBuckets: this.#buckets,
      });
      this.#proxy = proxy;
      await proxy.start(plan);
    } catch (err) {
      this.#send({ t: 'failed', error: err instanceof Error ? err.message : String(err) });
      return;
    }
    this.#send({ t: 'ready', stats: this.#stats() });
    this.#statsTimer = setInterval(() => this.#send({ t: 'stats', stats: this.#stats() }), STATS_MS);
    this.#statsTimer.unref();
  }

  #event(e: AdminEvent): void {
    this.#send({ t: 'event', event: { ...e, labels: { ...e.labels, worker: this.#worker } } });
  }

  /** durability: strict — what was handed over so far goes now, then the primary says when it is committed. */
  #whenDurable(): Promise<void> {
    this.#forwarder.flush();
    const id = ++this.#durableId;
    return new Promise((resolve) => {
      this.#durable.set(id, resolve);
      this.#send({ t: 'durable', id });
    });
  }

  #stats(): WorkerStats {
    const proxy = this.#proxy!;
    const backends: WorkerStats['backends'] = [];
    for (const s of proxy.backends.all())
      backends.push({
        pool: s.pool,
        name: s.name,
        inflight: s.inflight,
        ejected: s.ejectedUntil !== 0,
        ewmaMs: s.ewmaMs,
        failures: s.consecutiveFailures,
      });
    return { listeners: proxy.listenerViews(), backends };
  }

  async #reload(id: number, text: string, file: string): Promise<void> {
    let error: string | null = null;
    try {
      await this.#proxy!.reload(compileConfigText(text, file));
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    this.#send({ t: 'reloaded', id, error });
    this.#send({ t: 'stats', stats: this.#stats() });
  }

  async #drain(deadlineMs: number): Promise<void> {
    if (this.#statsTimer !== null) clearInterval(this.#statsTimer);
    const proxy = this.#proxy;
    let cut = 0;
    if (proxy !== null) {
      cut = (await proxy.drain(deadlineMs)).cut;
      await proxy.close();
    }
    this.#forwarder.flush();
    this.#send({ t: 'drained', cut }, this.#exit);
  }

  /** The primary is gone (crashed or killed): nothing can be recorded any more, so stop serving. */
  async abandon(): Promise<void> {
    this.#logger.log('error', 'the primary is gone: this worker stops serving', { worker: this.#worker });
    await this.#proxy?.close();
  }
}
