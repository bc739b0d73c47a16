import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { EventSink, Logger, OutcomeObserver } from '../core/index.js';
import { ErrorCode, systemEvent, TollgateError } from '../core/index.js';
import type { BackendRegistry } from '../health/index.js';
import type { ListenerView } from '../proxy/index.js';
import { LeaseBuckets } from './lease-buckets.js';
import type { ToPrimary, ToWorker, WorkerStats } from './protocol.js';

/** What the primary feeds and asks: the app's observers, its event trail, gate and durability. */
export interface ClusterHost {
  /** Every worker's outcomes go here, as if the primary had served them. */
  observer: OutcomeObserver;
  events: EventSink;
  gate(): string | null;
  durable(): Promise<void>;
  /** The primary's backend state: it runs the active checks; in-flight and ejections are the workers' sums. */
  backends: BackendRegistry;
  logger: Logger;
}

/** One worker as `GET /api/v1/status` shows it. */
export interface WorkerView {
  id: number;
  pid: number | null;
  requests: number;
  connections: number;
}

interface Slot {
  id: number;
  worker: Worker;
  /** It listens (its `ready` came); until then it is starting. */
  ready: boolean;
  stats: WorkerStats | null;
  requests: number;
  drained: ((cut: number) => void) | null;
}

/** How often the primary re-checks the audit gate for its workers (they refuse at receive when it closes). */
const GATE_MS = 50;
/** Backend health and drain are sent to the workers on every change and at least this often. */
const BACKENDS_MS = 1000;
const RELOAD_TIMEOUT_MS = 30_000;
/** A worker that dies is replaced after this pause (it does not spin when it dies at once). */
const RESPAWN_MS = 1000;

/** The compiled worker entry (dist/), or under tsx (tests) its .ts source: forks inherit `--import tsx`. */
function workerEntry(): string {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return fileURLToPath(new URL(`./worker-main.${ext}`, import.meta.url));
}

/**
 * `workers` > 1: forks the worker processes, sends each the plan, and is their single door to
 * the primary's app. Outcomes from every worker reach one observer (one audit sequencer, one set
 * of metrics, heavy hitters and alerts); their counters are summed; reload and drain go to all
 * of them; a worker that dies is recorded and replaced.
 */
export class ClusterPrimary {
  readonly #host: ClusterHost;
  readonly #count: number;
  readonly #slots = new Map<number, Slot>();
  #text = '';
  #file = '';
  #canaryToken: string | null = null;
  #gate: string | null = null;
  #timers: NodeJS.Timeout[] = [];
  #reloadId = 0;
  readonly #reloads = new Map<number, { waiting: Set<number>; errors: string[]; done: () => void }>();
  #stopping = false;
  /** Every worker's rate limiters lease from these: a route's limit holds for the instance. */
  readonly #buckets = new LeaseBuckets();

  constructor(host: ClusterHost, count: number) {
    this.#host = host;
    this.#count = count;
  }

  /** Forks the workers and resolves once every one of them listens; rejects with the first failure. */
  async start(text: string, file: string, canaryToken: string | null): Promise<void> {
    this.#text = text;
    this.#file = file;
    this.#canaryToken = canaryToken;
    // a 4 MiB young generation semi-space (node's default is 16): under load a worker's peak RSS
    // fell from 138–151 to 119–131 MB with no measurable change in the rate (scripts/soak.ts --workers 2)
    cluster.setupPrimary({
      exec: workerEntry(),
      args: [],
      serialization: 'advanced',
      execArgv: [...process.execArgv, '--max-semi-space-size=4'],
    });
    const ready: Promise<void>[] = [];
    for (let id = 1; id <= this.#count; id++) ready.push(this.#fork(id));
    try {
      await Promise.all(ready);
    } catch (err) {
      await this.kill();
      throw err;
    }
    this.#timers.push(setInterval(() => this.#checkGate(), GATE_MS));
    this.#timers.push(setInterval(() => this.sendBackends(), BACKENDS_MS));
    for (const t of this.#timers) t.unref();
  }

  #fork(id: number): Promise<void> {
    const worker = cluster.fork({ TOLLGATE_WORKER: String(id) });
    const slot: Slot = { id, worker, ready: false, stats: null, requests: 0, drained: null };
    this.#slots.set(id, slot);
    return new Promise((resolve, reject) => {
      worker.on('message', (m: ToPrimary) => {
        if (m.t === 'hello')
          this.#send(slot, {
            t: 'init',
            worker: id,
            text: this.#text,
            file: this.#file,
            canaryToken: this.#canaryToken,
          });
        else if (m.t === 'ready') {
          slot.ready = true;
          slot.stats = m.stats;
          this.#send(slot, { t: 'gate', reason: this.#gate });
          this.#send(slot, { t: 'backends', list: this.#host.backends.health() });
          resolve();
        } else if (m.t === 'failed') {
          reject(new TollgateError(ErrorCode.WORKER, `worker ${id}: ${m.error}`, { source: 'internal' }));
        } else this.#onMessage(slot, m);
      });
      worker.on('exit', (code, signal) => {
        if (!slot.ready) {
          this.#slots.delete(id);
          slot.drained?.(0);
          reject(
            new TollgateError(
              ErrorCode.WORKER,
              `worker ${id} exited before it listened (${signal ?? code})`,
              {
                source: 'internal',
              },
            ),
          );
          return;
        }
        this.#exited(slot, code, signal);
      });
    });
  }

  #onMessage(slot: Slot, m: ToPrimary): void {
    switch (m.t) {
      case 'outcomes': {
        const observer = this.#host.observer;
        const list = m.list;
        let served = 0;
        for (let i = 0; i < list.length; i++) {
          const o = list[i]!;
          observer.onOutcome(o);
          if (!o.canary) served++;
        }
        slot.requests += served;
        this.#checkGate();
        return;
      }
      case 'event':
        this.#host.events.emit(m.event);
        return;
      case 'durable':
        this.#host.durable().then(() => this.#send(slot, { t: 'durable', id: m.id }));
        return;
      case 'stats':
        slot.stats = m.stats;
        this.#absorb();
        return;
      case 'reloaded': {
        const r = this.#reloads.get(m.id);
        if (r === undefined) return;
        if (m.error !== null) r.errors.push(`worker ${slot.id}: ${m.error}`);
        r.waiting.delete(slot.id);
        if (r.waiting.size === 0) r.done();
        return;
      }
      case 'drained':
        slot.drained?.(m.cut);
        return;
      case 'lease': {
        const l = this.#buckets.lease(m.key, m.rate, m.burst, m.want, performance.now());
        this.#send(slot, { t: 'lease', id: m.id, granted: l.granted, waitMs: l.waitMs });
        return;
      }
      case 'hello':
      case 'ready':
      case 'failed':
        return;
    }
  }

  #exited(slot: Slot, code: number | null, signal: string | null): void {
    this.#slots.delete(slot.id);
    slot.drained?.(0);
    for (const r of this.#reloads.values()) {
      r.waiting.delete(slot.id);
      if (r.waiting.size === 0) r.done();
    }
    if (this.#stopping) return;
    const how = signal === null ? `with code ${code}` : `on ${signal}`;
    this.#host.events.emit(
      systemEvent(
        'worker_exited',
        'failure',
        `worker ${slot.id} (pid ${slot.worker.process.pid}) exited ${how}; it is replaced`,
        {
          worker: slot.id,
        },
      ),
    );
    const t = setTimeout(() => {
      if (this.#stopping) return;
      this.#fork(slot.id).then(
        () => {
          if (!this.#stopping)
            this.#host.events.emit(systemEvent('worker_started', 'success', null, { worker: slot.id }));
        },
        (err: Error) => {
          if (!this.#stopping)
            this.#host.logger.log('error', 'a replacement worker failed to start', { error: err.message });
        },
      );
    }, RESPAWN_MS);
    t.unref();
  }

  #send(slot: Slot, m: ToWorker): void {
    if (slot.worker.isConnected()) slot.worker.send(m);
  }

  #broadcast(m: ToWorker): void {
    for (const slot of this.#slots.values()) this.#send(slot, m);
  }

  #checkGate(): void {
    const reason = this.#host.gate();
    if (reason === this.#gate) return;
    this.#gate = reason;
    this.#broadcast({ t: 'gate', reason });
  }

  /** Health and drain of every backend, to every worker (after an admin drain, a health flip, each second). */
  sendBackends(): void {
    this.#broadcast({ t: 'backends', list: this.#host.backends.health() });
  }

  /** The workers' counters summed into the primary's backend state (it serves nothing itself). */
  #absorb(): void {
    this.#host.backends.absorb([...this.#slots.values()].map((s) => s.stats?.backends ?? []));
  }

  /** The listeners as the workers report them, connections summed. */
  listeners(): ListenerView[] {
    const byName = new Map<string, ListenerView>();
    for (const slot of this.#slots.values()) {
      for (const l of slot.stats?.listeners ?? []) {
        const v = byName.get(l.name);
        if (v === undefined) byName.set(l.name, { ...l });
        else {
          v.connections += l.connections;
          v.refused += l.refused;
        }
      }
    }
    return [...byName.values()];
  }

  /** The workers that listen (a replacement still starting is not listed yet). */
  workers(): WorkerView[] {
    return [...this.#slots.values()]
      .filter((s) => s.ready)
      .map((s) => ({
        id: s.id,
        pid: s.worker.process.pid ?? null,
        requests: s.requests,
        connections: (s.stats?.listeners ?? []).reduce((n, l) => n + l.connections, 0),
      }));
  }

  /** Every worker compiles and applies the new text; rejects with the workers' errors if any refused it. */
  async reload(text: string, file: string): Promise<void> {
    this.#text = text;
    this.#file = file;
    const id = ++this.#reloadId;
    const waiting = new Set(this.#slots.keys());
    const errors: string[] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        errors.push(`workers ${[...waiting].join(', ')} did not answer within ${RELOAD_TIMEOUT_MS} ms`);
        resolve();
      }, RELOAD_TIMEOUT_MS);
      this.#reloads.set(id, {
        waiting,
        errors,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      if (waiting.size === 0) this.#reloads.get(id)!.done();
      this.#broadcast({ t: 'reload', id, text, file });
    });
    this.#reloads.delete(id);
    this.sendBackends();
    if (errors.length > 0)
      throw new TollgateError(ErrorCode.WORKER, `reload failed in ${errors.join('; ')}`, {
        source: 'internal',
      });
  }

  /** Drains every worker (stop accepting, finish in-flight up to the deadline) and waits for them to exit. */
  async drain(deadlineMs: number): Promise<{ cut: number }> {
    this.#stopping = true;
    for (const t of this.#timers) clearInterval(t);
    const slots = [...this.#slots.values()];
    const cuts = await Promise.all(
      slots.map(
        (slot) =>
          new Promise<number>((resolve) => {
            slot.drained = resolve;
            // a replacement still starting serves nothing yet: it is stopped, not drained
            if (slot.ready) this.#send(slot, { t: 'drain', deadlineMs });
            else slot.worker.process.kill('SIGKILL');
          }),
      ),
    );
    await Promise.all(slots.map((s) => exited(s.worker)));
    return { cut: cuts.reduce((a, b) => a + b, 0) };
  }

  /** Stops every worker at once (a failed start). */
  async kill(): Promise<void> {
    this.#stopping = true;
    for (const t of this.#timers) clearInterval(t);
    const slots = [...this.#slots.values()];
    for (const s of slots) s.worker.process.kill('SIGKILL');
    await Promise.all(slots.map((s) => exited(s.worker)));
  }
}

function exited(w: Worker): Promise<void> {
  if (w.process.exitCode !== null || w.process.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => w.process.once('exit', () => resolve()));
}
