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

/** Questions to the primary (a lease, durability) waiting for its answer, by id. */
class Pending<T> {
  #next = 0;
  readonly #waiting = new Map<number, (answer: T) => void>();

  ask(send: (id: number) => void): Promise<T> {
    const id = ++this.#next;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      send(id);
    });
  }

  answer(id: number, answer: T): void {
    this.#waiting.get(id)?.(answer);
    this.#waiting.delete(id);
  }
}

/** The rate limiters' shared buckets are the primary's: leases over IPC, never one per request. */
class PrimaryBuckets implements SharedBuckets {
  readonly up = true;
  readonly pending = new Pending<Lease>();
  readonly #send: Send;

  constructor(send: Send) {
    this.#send = send;
  }

  lease(key: string, rate: number, burst: number, want: number): Promise<Lease> {
    return this.pending.ask((id) => this.#send({ t: 'lease', id, key, rate, burst, want }));
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
  readonly #durable = new Pending<void>();
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
        this.#durable.answer(m.id, undefined);
        return;
      case 'reload':
        return this.#reload(m.id, m.text, m.file);
      case 'drain':
        return this.#drain(m.deadlineMs);
      case 'lease':
        this.#buckets.pending.answer(m.id, m);
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
      // nothing to serve with: say why and go (the primary fails the start, or logs a failed replacement)
      this.#send({ t: 'failed', error: err instanceof Error ? err.message : String(err) }, this.#exit);
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
    return this.#durable.ask((id) => this.#send({ t: 'durable', id }));
  }

  #stats(): WorkerStats {
    const proxy = this.#proxy!;
    return { listeners: proxy.listenerViews(), backends: proxy.backends.loads() };
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
