import type { AttemptOutcome, Clock, Termination } from '../core/index.js';
import type { BackendState } from '../health/index.js';
import type { ProxyContext } from './context.js';

/** The phases an upstream attempt reports to (implemented once, in pipeline.ts). */
export interface AttemptListener {
  connected(a: Attempt): void;
  headers(a: Attempt, status: number, raw: Buffer[], resume: () => void): boolean;
  data(a: Attempt, chunk: Buffer): boolean;
  complete(a: Attempt): void;
  failed(a: Attempt, err: Error): void;
}

/**
 * One try of a request against one backend. It is the undici dispatch handler for that try
 * (undici's legacy handler shape: onConnect/onHeaders/onData/onComplete/onError), forwarding
 * each callback to the pipeline unless the attempt was already settled (aborted for a retry or
 * because the client left), so late callbacks of an abandoned try are ignored.
 */
export class Attempt {
  readonly ctx: ProxyContext;
  readonly index: number;
  readonly backend: BackendState;
  readonly #listener: AttemptListener;
  readonly #clock: Clock;
  readonly startMs: number;
  readonly startMono: number;
  connectMs: number | null = null;
  headersMs: number | null = null;
  durationMs: number | null = null;
  statusCode: number | null = null;
  termination: Termination | null = null;
  error: string | null = null;
  connected = false;
  /** Passive health already saw this attempt's result. */
  observed = false;
  settled = false;
  abort: ((err?: Error) => void) | null = null;

  constructor(
    ctx: ProxyContext,
    index: number,
    backend: BackendState,
    listener: AttemptListener,
    clock: Clock,
  ) {
    this.ctx = ctx;
    this.index = index;
    this.backend = backend;
    this.#listener = listener;
    this.#clock = clock;
    this.startMs = clock.now();
    this.startMono = clock.monotonic();
  }

  elapsed(): number {
    return this.#clock.monotonic() - this.startMono;
  }

  /** Ends the attempt's bookkeeping once: duration, in-flight count. Returns false if already settled. */
  settle(termination: Termination, error: string | null): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.termination = termination;
    this.error = error;
    this.durationMs = this.elapsed();
    this.backend.inflight--;
    return true;
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.settled) {
      abort();
      return;
    }
    this.abort = abort;
    this.connected = true;
    this.connectMs = this.elapsed();
    this.#listener.connected(this);
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    if (this.settled) return false;
    return this.#listener.headers(this, status, raw, resume);
  }

  onData(chunk: Buffer): boolean {
    if (this.settled) return false;
    return this.#listener.data(this, chunk);
  }

  onComplete(): void {
    if (this.settled) return;
    this.#listener.complete(this);
  }

  onError(err: Error): void {
    if (this.settled) return;
    this.#listener.failed(this, err);
  }

  onBodySent(chunk: Buffer | string): void {
    this.ctx.requestBodySize += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
  }

  onUpgrade(): void {}

  toOutcome(): AttemptOutcome {
    return {
      backend: this.backend.name,
      address: this.backend.address,
      start: this.startMs,
      connectMs: this.connectMs,
      durationMs: this.durationMs,
      statusCode: this.statusCode,
      termination: this.termination ?? 'internal_error',
      error: this.error,
    };
  }
}
