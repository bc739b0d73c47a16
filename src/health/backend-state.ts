import type { Candidate } from '../balancer/index.js';
import type { Clock, EventSink } from '../core/index.js';
import { systemEvent } from '../core/index.js';

/**
 * Runtime state of one backend of one pool (DESIGN rule 7): health, drain, ejection, in-flight
 * and latency. It lives apart from the immutable plan and survives reloads; every flip of
 * `ready()` is emitted as an admin event.
 */
export class BackendState implements Candidate {
  readonly pool: string;
  readonly name: string;
  address: string;
  host: string;
  port: number;
  weight: number;
  /** Requests in flight to this backend (attempts dispatched and not finished). */
  inflight = 0;
  ewmaMs = 0;
  /** Active health checks say it answers (true until they say otherwise). */
  healthy = true;
  draining = false;
  /** Monotonic ms until which passive outlier detection keeps it out; 0 when not ejected. */
  ejectedUntil = 0;
  consecutiveFailures = 0;
  checkSuccesses = 0;
  checkFailures = 0;
  lastCheckError: string | null = null;
  readonly #clock: Clock;
  readonly #events: EventSink;

  constructor(
    pool: string,
    name: string,
    address: string,
    host: string,
    port: number,
    weight: number,
    clock: Clock,
    events: EventSink,
  ) {
    this.pool = pool;
    this.name = name;
    this.address = address;
    this.host = host;
    this.port = port;
    this.weight = weight;
    this.#clock = clock;
    this.#events = events;
  }

  /** May take new requests now. */
  ready(): boolean {
    return this.healthy && !this.draining && (this.ejectedUntil === 0 || this.#expireEjection());
  }

  #expireEjection(): boolean {
    if (this.#clock.monotonic() < this.ejectedUntil) return false;
    this.ejectedUntil = 0;
    this.consecutiveFailures = 0;
    this.#emit(
      'backend_ejection_ended',
      'success',
      `${this.#label()} is back in rotation after its ejection time`,
    );
    return true;
  }

  /** One attempt finished (passive health). `failed` is true for connect errors, resets, timeouts and 5xx. */
  observeAttempt(
    failed: boolean,
    latencyMs: number,
    outlier: { consecutiveFailures: number; ejectionTimeMs: number } | null,
  ): void {
    if (latencyMs > 0) this.ewmaMs = this.ewmaMs === 0 ? latencyMs : this.ewmaMs * 0.7 + latencyMs * 0.3;
    if (!failed) {
      this.consecutiveFailures = 0;
      return;
    }
    this.consecutiveFailures++;
    if (
      outlier !== null &&
      this.ejectedUntil === 0 &&
      this.consecutiveFailures >= outlier.consecutiveFailures
    ) {
      this.ejectedUntil = this.#clock.monotonic() + outlier.ejectionTimeMs;
      this.#emit(
        'backend_ejected',
        'failure',
        `${this.#label()} ejected for ${outlier.ejectionTimeMs} ms after ${this.consecutiveFailures} consecutive failures`,
      );
    }
  }

  /** One active health check result, with the pool's thresholds. */
  observeCheck(
    ok: boolean,
    error: string | null,
    healthyThreshold: number,
    unhealthyThreshold: number,
  ): void {
    this.lastCheckError = error;
    if (ok) {
      this.checkFailures = 0;
      this.checkSuccesses++;
      if (!this.healthy && this.checkSuccesses >= healthyThreshold) {
        this.healthy = true;
        this.#emit(
          'backend_healthy',
          'success',
          `${this.#label()} passed ${this.checkSuccesses} health checks in a row`,
        );
      }
    } else {
      this.checkSuccesses = 0;
      this.checkFailures++;
      if (this.healthy && this.checkFailures >= unhealthyThreshold) {
        this.healthy = false;
        this.#emit(
          'backend_unhealthy',
          'failure',
          `${this.#label()} failed ${this.checkFailures} health checks in a row: ${error}`,
        );
      }
    }
  }

  setDraining(draining: boolean, actor: string): boolean {
    if (this.draining === draining) return false;
    this.draining = draining;
    this.#events.emit(
      systemEvent(
        draining ? 'backend_drained' : 'backend_undrained',
        'success',
        null,
        { pool: this.pool, backend: this.name },
        actor,
      ),
    );
    return true;
  }

  #label(): string {
    return `backend ${this.name} (${this.address}) of pool ${this.pool}`;
  }

  #emit(action: string, outcome: 'success' | 'failure', reason: string): void {
    this.#events.emit(
      systemEvent(action, outcome, reason, { pool: this.pool, backend: this.name, address: this.address }),
    );
  }
}
