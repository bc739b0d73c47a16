import type { Clock, Logger, OutcomeObserver } from '../core/index.js';
import type { PlanRuntime } from './plan-runtime.js';

/** What every listener and request shares: time, the observer at `complete`, the current plan. */
export interface ProxyServices {
  readonly clock: Clock;
  readonly observer: OutcomeObserver;
  readonly logger: Logger;
  /** The plan new requests start on. */
  current(): PlanRuntime;
  /**
   * The audit gate (fail_closed): when it returns a reason, requests are refused with
   * `audit_unavailable` at receive. Null when nothing can close the gate.
   */
  readonly auditGate: (() => string | null) | null;
  /** Resolves when every record handed over so far is committed (durability: strict). */
  durable(): Promise<void>;
  /** The secret a canary request carries in `x-tollgate-canary`; null when canaries are off. */
  readonly canaryToken: Buffer | null;
}
