import { Worker } from 'node:worker_threads';
import type { AuditPlan, RuntimePlan } from '../config/index.js';
import type {
  AdminEvent,
  AuditHealthView,
  Clock,
  EventSink,
  Logger,
  OutcomeObserver,
  RequestOutcome,
} from '../core/index.js';
import { systemEvent } from '../core/index.js';
import { buildAdminRecord } from './admin-record.js';
import { serializeRequestRecord } from './serialize.js';
import type { FromShipper, NetworkSinkConfig, ShipperConfig, ToShipper } from './shipper-protocol.js';
import { fileSinkName, networkSinkName } from './sinks/names.js';
import type { FromWriter, SinkConfig, ToWriter, WriterConfig } from './writer-protocol.js';

/**
 * Records queued (not yet committed) above `audit.max_queue` push new requests back (503
 * audit_unavailable). Past QUEUE_LIMIT_FACTOR × max_queue — or past max_queue under fail_open
 * while the store fails — a record truly cannot be kept and is counted as lost.
 */
export const QUEUE_LIMIT_FACTOR = 10;
/** Records are handed to the writer thread every HANDOVER_MS, or at once past HANDOVER_RECORDS (one message per batch, not per turn). */
const HANDOVER_MS = 5;
const HANDOVER_RECORDS = 512;

export type AuditHealth = AuditHealthView;

export interface AuditPipelineOptions {
  instance: string;
  logger: Logger;
  clock: Clock;
}

const NETWORK_SINKS = new Set(['syslog', 'postgres', 'otlp']);

function sinkConfigs(audit: AuditPlan): SinkConfig[] {
  return audit.sinks
    .filter((s) => !NETWORK_SINKS.has(s.type))
    .map((s) => ({
      type: s.type,
      path: s.options.path as string | undefined,
      rotateBytes: (s.options.rotateBytes as number | null | undefined) ?? null,
      keep: s.options.keep as number | undefined,
    }));
}

/**
 * The young generation of the writer and shipper threads. V8's default lets it grow to 48 MiB per
 * thread under a steady stream of records, though what they keep between collections is one
 * commit's rows; 8 MiB cut the process's peak RSS under load by ~8 MiB at no measurable CPU cost
 * (scripts/bench-cpu.sh, 4 interleaved rounds; 4 MiB saved ~2 MiB more).
 */
const resourceLimits = { maxYoungGenerationSizeMb: 8 };

/**
 * A worker thread of this module (`writer-thread`, `shipper-thread`): the compiled .js under
 * dist/, or under tsx (tests) the .ts source with tsx registered in the thread.
 */
function startThread(name: string, config: WriterConfig | ShipperConfig): Worker {
  if (!import.meta.url.endsWith('.ts'))
    return new Worker(new URL(`./${name}.js`, import.meta.url), { workerData: config, resourceLimits });
  const entry = new URL(`./${name}.ts`, import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(code, { eval: true, workerData: config, resourceLimits });
}

/**
 * The request thread's side of the audit path (DESIGN rule 4): every outcome and admin event
 * becomes a record line (redacted, serialized) that is batched per event-loop turn and handed
 * to the writer thread, which numbers, chains and commits it. Nothing is dropped silently: a
 * writer that cannot commit keeps the batches and the pipeline reports `failing` (the gate then
 * refuses traffic under fail_closed); past QUEUE_PUSHBACK queued records new requests are pushed
 * back; past QUEUE_LIMIT a record is counted in `lost`.
 */
export class AuditPipeline implements OutcomeObserver, EventSink {
  readonly #opts: AuditPipelineOptions;
  #audit: AuditPlan;
  readonly #worker: Worker;
  #lines: string[] = [];
  #meta: (string | number | null)[] = [];
  #scheduled = false;
  #timer: NodeJS.Timeout | null = null;
  #immediate = false;
  #batchId = 0;
  /** The writer acknowledges batches in order: every batch up to this id is committed. */
  #acked = 0;
  #waiters: { id: number; resolve: () => void }[] = [];
  #listeners: ((e: AdminEvent) => void)[] = [];
  /** Per sink: monotonic ms since which it has records not yet shipped. */
  readonly #behindSince = new Map<string, number>();
  /** The shipper thread (network sinks), once started; their lag in seconds as it reports it. */
  #shipper: Worker | null = null;
  readonly #shipperLag = new Map<string, number>();
  readonly #networkSinks: NetworkSinkConfig[];
  /** Every sink's cursor name (file sinks, then network sinks), as the writer and shipper name them. */
  readonly sinkNames: readonly string[];
  #stopped: Promise<void> | null = null;
  #lostReported = 0;
  readonly #ready: Promise<void>;
  readonly health: AuditHealth = {
    state: 'starting',
    reason: null,
    queued: 0,
    lost: 0,
    committed: 0,
    lastSeq: 0,
    lag: {},
    shipped: {},
    sinkErrors: {},
  };

  constructor(plan: RuntimePlan, opts: AuditPipelineOptions) {
    this.#opts = opts;
    this.#audit = plan.audit;
    this.#networkSinks = plan.audit.sinks
      .filter((s) => NETWORK_SINKS.has(s.type))
      .map((s) => ({ type: s.type as 'syslog' | 'postgres' | 'otlp', options: { ...s.options } }));
    const config: WriterConfig = {
      storePath: plan.audit.storePath,
      dataDir: plan.dataDir,
      sinks: sinkConfigs(plan.audit),
      networkSinks: this.#networkSinks.map((s) => networkSinkName(s.type, s.options)),
      checkpointIntervalMs: plan.audit.chain.enabled ? plan.audit.chain.checkpointIntervalMs : 0,
      retentionMs: plan.audit.retentionMs,
      retryMs: 1000,
      heartbeatMs: plan.audit.heartbeatMs,
      instance: opts.instance,
    };
    this.sinkNames = [
      ...config.sinks.map((s) => fileSinkName(s.type as 'jsonl' | 'combined' | 'stdout', s.path ?? null)),
      ...config.networkSinks,
    ];
    this.#worker = startThread('writer-thread', config);
    this.#ready = new Promise((resolve, reject) => {
      this.#worker.once('error', reject);
      this.#worker.on('message', (m: FromWriter) => {
        if (m.type === 'ready') resolve();
        this.#onMessage(m);
      });
    });
    this.#worker.on('error', (err) => {
      this.health.state = 'failing';
      this.health.reason = `writer thread crashed: ${err.message}`;
      opts.logger.log('error', 'audit writer thread crashed', { error: err.stack });
    });
  }

  /** Resolves once the writer thread has opened the store. */
  async start(): Promise<void> {
    await this.#ready;
    if (this.#networkSinks.length > 0) this.#startShipper();
    this.health.state = 'ok';
    this.emit(
      systemEvent('audit_pipeline_started', 'success', null, {
        store: this.#audit.storePath,
        heartbeat_ms: this.#audit.heartbeatMs,
      }),
    );
  }

  /**
   * Per sink: seconds it has been behind the store, 0 when caught up. Network sinks report the
   * age of their oldest record not yet delivered; file sinks, how long they have been behind.
   */
  lagSeconds(): Record<string, number> {
    const now = this.#opts.clock.monotonic();
    const out: Record<string, number> = {};
    for (const sink of Object.keys(this.health.lag)) {
      const shipped = this.#shipperLag.get(sink);
      if (shipped !== undefined) {
        out[sink] = shipped;
        continue;
      }
      const since = this.#behindSince.get(sink);
      out[sink] = since === undefined ? 0 : (now - since) / 1000;
    }
    return out;
  }

  #startShipper(): void {
    const h = this.health;
    const worker = startThread('shipper-thread', {
      storePath: this.#audit.storePath,
      instance: this.#opts.instance,
      sinks: this.#networkSinks,
      pollMs: 100,
      batch: 1000,
      backoffMs: 250,
      maxBackoffMs: 10_000,
    });
    worker.on('message', (m: FromShipper) => {
      if (m.type === 'lag') {
        h.lag[m.sink] = m.lag;
        h.shipped[m.sink] = m.shipped;
        this.#shipperLag.set(m.sink, m.lagSeconds);
      } else if (m.type === 'sink') this.#sinkState(m.sink, m.error);
    });
    worker.on('error', (err) => {
      h.sinkErrors.shipper = `shipper thread crashed: ${err.message}`;
      this.#opts.logger.log('error', 'audit shipper thread crashed', { error: err.stack });
    });
    this.#shipper = worker;
  }

  /** Subscribe to every admin event (the admin stream, tests). */
  subscribe(fn: (e: AdminEvent) => void): void {
    this.#listeners.push(fn);
  }

  /** Redaction and sinks of a new plan. */
  reload(plan: RuntimePlan): void {
    this.#audit = plan.audit;
  }

  /** Why new requests must be refused now (fail_closed, or pushback), or null. */
  gate(): string | null {
    const h = this.health;
    if (h.state === 'failing') return this.#audit.onFailure === 'fail_closed' ? h.reason : null;
    if (h.queued >= this.#audit.maxQueue)
      return `the audit queue holds ${h.queued} records not yet committed (pushback)`;
    return null;
  }

  onOutcome(o: RequestOutcome): void {
    this.#push(
      'request',
      Math.round(o.endMs),
      serializeRequestRecord(o, this.#audit, this.#opts.instance),
      o.requestId,
      o.clientAddress,
      o.statusCode,
      o.route,
      o.backendName,
      o.termination,
      o.userName,
      null,
    );
  }

  emit(e: AdminEvent): void {
    const now = e.at ?? this.#opts.clock.now();
    const line = JSON.stringify(buildAdminRecord(e, this.#opts.instance, now));
    this.#push('admin', Math.round(now), line, null, null, null, null, null, null, e.actor, e.action);
    this.#opts.logger.log(e.outcome === 'failure' ? 'warn' : 'info', e.action, {
      reason: e.reason,
      actor: e.actor,
      ...e.labels,
    });
    for (const fn of this.#listeners) fn(e);
  }

  #push(
    kind: string,
    ts: number,
    line: string,
    requestId: string | null,
    clientIp: string | null,
    status: number | null,
    route: string | null,
    backend: string | null,
    termination: string | null,
    user: string | null,
    action: string | null,
  ): void {
    const h = this.health;
    // fail_open keeps serving while the store fails: records past the pushback mark cannot be kept
    const max = this.#audit.maxQueue;
    // admin events (rare, and they say what happened to the trail) are kept up to the hard limit
    const limit =
      h.state === 'failing' && this.#audit.onFailure === 'fail_open' && kind === 'request'
        ? max
        : max * QUEUE_LIMIT_FACTOR;
    if (h.queued >= limit || h.state === 'stopped') {
      if (h.lost++ === this.#lostReported) this.#reportLoss();
      return;
    }
    this.#lines.push(line);
    this.#meta.push(kind, ts, requestId, clientIp, status, route, backend, termination, user, action);
    this.health.queued++;
    if (this.#lines.length >= HANDOVER_RECORDS) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      this.#timer = setTimeout(flushSoon, HANDOVER_MS, this);
    }
  }

  /** The first loss of a failing period is an admin event (later ones are counted in health.lost). */
  #reportLoss(): void {
    this.#lostReported = Number.POSITIVE_INFINITY;
    this.#opts.logger.log(
      'error',
      'audit records lost: the queue is full while the store cannot be written',
      { on_failure: this.#audit.onFailure },
    );
    setImmediate(() =>
      this.emit(
        systemEvent(
          'audit_records_lost',
          'failure',
          `records could not be kept (on_failure: ${this.#audit.onFailure}); see tollgate_audit_records_lost_total`,
          {},
        ),
      ),
    );
  }

  /** @internal Sends what is pending to the writer thread. */
  flush(): void {
    this.#scheduled = false;
    this.#immediate = false;
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#lines.length === 0) return;
    const id = ++this.#batchId;
    const lines = this.#lines;
    const meta = this.#meta;
    this.#lines = [];
    this.#meta = [];
    // someone waits for this batch (durability: strict): the writer commits it without the group window
    const urgent = this.#waiters.some((w) => w.id === id);
    const m: ToWriter = { type: 'batch', id, lines: lines.join('\n'), meta, urgent };
    this.#worker.postMessage(m);
  }

  /** Resolves when everything handed over so far is committed. */
  committed(): Promise<void> {
    if (this.#scheduled) {
      // what is pending goes out at the end of this turn (not after HANDOVER_MS), marked urgent:
      // every strict request of the turn shares one commit
      const next = this.#batchId + 1;
      if (!this.#immediate) {
        this.#immediate = true;
        setImmediate(flushSoon, this);
      }
      return new Promise((resolve) => this.#waiters.push({ id: next, resolve }));
    }
    const id = this.#batchId;
    if (id <= this.#acked) return Promise.resolve();
    this.#worker.postMessage({ type: 'commit' } satisfies ToWriter); // already sent: commit it now
    return new Promise((resolve) => this.#waiters.push({ id, resolve }));
  }

  /** A sink's error as its thread (writer for file sinks, shipper for network sinks) reports it; null: it works again. */
  #sinkState(sink: string, error: string | null): void {
    const errors = this.health.sinkErrors;
    if (error === null) {
      delete errors[sink];
      return;
    }
    errors[sink] = error;
    this.#opts.logger.log('warn', 'audit sink failing; it will catch up from its cursor', { sink, error });
  }

  #onMessage(m: FromWriter): void {
    const h = this.health;
    switch (m.type) {
      case 'ack': {
        this.#acked = m.id;
        h.queued -= m.count;
        h.committed += m.count;
        h.lastSeq = m.lastSeq;
        // the writer commits batches in order: every batch up to this id is durable
        if (this.#waiters.length > 0) {
          this.#waiters = this.#waiters.filter((w) => {
            if (w.id <= m.id) w.resolve();
            return w.id > m.id;
          });
        }
        break;
      }
      case 'failure':
        h.state = 'failing';
        h.reason = `the audit store cannot be written: ${m.reason}`;
        this.#opts.logger.log(
          'error',
          'audit store cannot be written; records are kept in memory and retried',
          { reason: m.reason, on_failure: this.#audit.onFailure },
        );
        this.emit(
          systemEvent('audit_pipeline_failed', 'failure', m.reason, { on_failure: this.#audit.onFailure }),
        );
        break;
      case 'recovered':
        h.state = 'ok';
        h.reason = null;
        this.#lostReported = h.lost;
        this.emit(
          systemEvent(
            'audit_pipeline_recovered',
            'success',
            `the store takes records again after: ${m.reason}`,
            {},
          ),
        );
        break;
      case 'sink':
        this.#sinkState(m.sink, m.error);
        break;
      case 'lag': {
        Object.assign(h.lag, m.lags);
        const now = this.#opts.clock.monotonic();
        for (const [sink, n] of Object.entries(m.lags)) {
          if (n === 0) this.#behindSince.delete(sink);
          else if (!this.#behindSince.has(sink)) this.#behindSince.set(sink, now);
        }
        break;
      }
      case 'pruned':
        this.#opts.logger.log('info', 'retention pruned old records', { count: m.count });
        break;
      case 'stopped':
      case 'ready':
        break;
    }
  }

  /** Commits what is queued, writes a final checkpoint, stops the writer. Idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.emit(systemEvent('audit_pipeline_stopped', 'success', null, {}));
      this.flush();
      const done = new Promise<void>((resolve) => {
        this.#worker.on('message', (m: FromWriter) => {
          if (m.type === 'stopped') {
            if (m.unwritten > 0) this.health.lost += m.unwritten;
            resolve();
          }
        });
        this.#worker.once('exit', () => resolve());
      });
      this.#worker.postMessage({ type: 'stop' } satisfies ToWriter);
      await done;
      const shipper = this.#shipper;
      if (shipper !== null) {
        // it confirms what it sent and exits; the rest ships from the cursor after the next start,
        // so a receiver that is down (a send stuck in a connect timeout) holds the stop for 3 s at most
        const gone = new Promise<void>((resolve) => {
          shipper.on('message', (m: FromShipper) => m.type === 'stopped' && resolve());
          shipper.once('exit', () => resolve());
        });
        shipper.postMessage({ type: 'stop' } satisfies ToShipper);
        await Promise.race([gone, new Promise((r) => setTimeout(r, 3000).unref())]);
        await shipper.terminate();
      }
      this.health.state = 'stopped';
      await this.#worker.terminate();
    })();
    return this.#stopped;
  }
}

function flushSoon(p: AuditPipeline): void {
  p.flush();
}
