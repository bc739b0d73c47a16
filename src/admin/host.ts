import type { AlertEngine } from '../alerts/index.js';
import type { AuditHealth, CentralStore, ChainWatch } from '../audit/index.js';
import type { RuntimePlan } from '../config/index.js';
import type { Clock } from '../core/index.js';
import type { BackendState } from '../health/index.js';
import type { MetricsHistory, TopClients } from '../metrics/index.js';
import type { ReviewReport } from '../review/index.js';
import type { Store } from '../store/index.js';
import type { Elevations } from './elevation.js';
import type { CommittingSink, PendingEventPump } from './pending-events.js';
import type { RecordFollower } from './stream.js';

/** What the admin API reads and steers in the running process; the app implements it. */
export interface AdminHost {
  /** Which Tollgate process this is (`tollgate.instance`). */
  readonly instance: string;
  /** Wall-clock epoch ms of the start. */
  readonly startedAt: number;
  plan(): RuntimePlan;
  backend(pool: string, name: string): BackendState | undefined;
  inflight(): number;
  listeners(): { name: string; address: string; port: number; tls: boolean }[];
  /** `workers` > 1: the worker processes, their pids and what each served; null for one process. */
  workers(): { id: number; pid: number | null; requests: number; connections: number }[] | null;
  auditHealth(): AuditHealth;
  /** Seconds each sink has been behind the store. */
  auditLagSeconds(): Record<string, number>;
  /** The Prometheus exposition (SPEC §5). */
  metrics(): { contentType: string; text: string };
  alerts(): AlertEngine;
  /** The heavy-hitter sketch by client address or by user. */
  topClients(by: 'client_ip' | 'user'): TopClients;
  /** Request counters over time, for the dashboard's charts (`GET /api/v1/stats`). */
  history(): MetricsHistory;
  /**
   * Swaps in a compiled plan, like SIGHUP; rejects (and changes nothing) if the proxy refuses it.
   * `base` is the running plan the change was checked against (If-Match): in fleet mode a change
   * is refused (TG_ERR_FLEET_CONFLICT) if another revision was applied since.
   */
  applyPlan(plan: RuntimePlan, actor: string, base?: RuntimePlan): Promise<void>;
  /**
   * Fleet mode: the instances, their applied config revision and health (`GET /api/v1/fleet`);
   * null for a single instance. Config changes then go to the fleet, not to the local file.
   */
  readonly fleet: (() => Promise<unknown>) | null;
  /** Fleet mode with Redis: the fleet's heavy hitters (`GET /api/v1/clients/top?scope=fleet`); null otherwise. */
  readonly fleetTop:
    | ((
        by: 'client_ip' | 'user',
        windowMs: number,
        n: number,
      ) => Promise<{ instances: string[]; items: unknown[] }>)
    | null;
  /** `tollgate review` of the running process (`GET /api/v1/review`). */
  review(): Promise<ReviewReport>;
}

/** Everything a handler may use. */
export interface AdminContext {
  readonly host: AdminHost;
  /** A read-write connection of the main thread: queries, tokens, pending events. */
  readonly store: Store;
  readonly events: CommittingSink;
  readonly elevations: Elevations;
  readonly pump: PendingEventPump;
  readonly follower: RecordFollower;
  /** Re-verifies the chain a slice at a time for `GET /api/v1/audit/health`. */
  readonly chain: ChainWatch;
  /** The fleet's query store (the config's postgres sink), opened on first use; null without one. */
  central(): CentralStore | null;
  readonly clock: Clock;
  /** Set while a config change is applied: one at a time. */
  readonly configLock: { busy: boolean };
}
