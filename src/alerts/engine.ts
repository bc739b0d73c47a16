import { createHash } from 'node:crypto';
import type { NotifierPlan, RulePlan, RuntimePlan } from '../config/index.js';
import type { AdminEvent, Clock, EventSink, Logger } from '../core/index.js';
import { formatDuration, isoMicros, systemEvent } from '../core/index.js';
import type { AlertSources, Observation } from './evaluate.js';
import { evaluate, MIN_SAMPLES } from './evaluate.js';
import type { AlertView } from './notifiers.js';
import { deliver } from './notifiers.js';
import { Signals } from './signals.js';
import { RollingCounter } from './windows.js';

export type Deliver = (n: NotifierPlan, a: AlertView, logger: Logger) => Promise<string | null>;

export interface AlertEngineOptions {
  plan: () => RuntimePlan;
  sources: AlertSources;
  events: EventSink;
  clock: Clock;
  logger: Logger;
  instance: string;
  /** Where `samples[].url` points: the admin API's base URL, or null. */
  adminUrl: () => string | null;
  /** How often rules are evaluated. */
  intervalMs?: number;
  deliver?: Deliver;
}

interface Instance {
  readonly id: string;
  rule: RulePlan;
  readonly key: string;
  state: 'pending' | 'firing' | 'resolved';
  /** Wall-clock ms. */
  readonly since: number;
  /** Monotonic ms the condition became true. */
  readonly sinceMono: number;
  firedAt: number | null;
  resolvedAt: number | null;
  obs: Observation;
  silencedUntil: number | null;
  /** Monotonic ms of the last firing notification (alertmanager is re-sent every minute). */
  lastSent: number;
}

/** Alertmanager forgets an alert not re-sent within its resolve_timeout (5 m by default). */
const RESEND_MS = 60_000;
const HISTORY = 50;
/** Slow-backend flag: p99 over the last minute above this many times the pool's median p99 … */
const SLOW_FACTOR = 2;
/** … and above this many ms. */
const SLOW_FLOOR_MS = 50;
const SLOW_WINDOW_MS = 60_000;

export function alertId(rule: string, key: string): string {
  return createHash('sha256').update(`${rule}\0${key}`).digest('hex').slice(0, 16);
}

/**
 * Alert rules over live signals (issue 5, "Deliver" 3–5): each evaluation finds, per rule, the
 * instances (route, backend, client, sink, …) above the threshold; an instance goes pending →
 * firing after `for` → resolved when it no longer holds, then cannot fire again for `cooldown`.
 * Every transition is an admin event in the chain (`alert_pending`, `alert_firing`,
 * `alert_resolved`, `alert_cleared`, `alert_silenced`), firing and resolution go to the
 * notifiers (each once: de-duplicated by instance), unless silenced. Also flags slow backends
 * (`backend_slow` / `backend_slow_ended`): p99 over the last minute above twice the median p99 of
 * the pool's other backends and above 50 ms.
 */
export class AlertEngine {
  readonly signals: Signals;
  readonly #opts: AlertEngineOptions;
  readonly #deliver: Deliver;
  readonly #instances = new Map<string, Instance>();
  readonly #history: Instance[] = [];
  readonly #cooldown = new Map<string, number>();
  readonly #losses = new RollingCounter();
  #lastLost = 0;
  readonly #slow = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  readonly #sending = new Set<Promise<unknown>>();

  constructor(opts: AlertEngineOptions) {
    this.#opts = opts;
    this.signals = new Signals(opts.clock);
    this.#deliver = opts.deliver ?? deliver;
  }

  start(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => this.tick(), this.#opts.intervalMs ?? 1000);
    this.#timer.unref();
  }

  /** Stops evaluating and waits for notifications in flight. Idempotent. */
  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await Promise.allSettled([...this.#sending]);
  }

  onAdminEvent(e: AdminEvent): void {
    this.signals.onAdminEvent(e);
  }

  /** One evaluation of every rule (the timer calls it; tests may too). */
  tick(): void {
    const plan = this.#opts.plan();
    const mono = this.#opts.clock.monotonic();
    const lost = this.#opts.sources.audit().lost;
    if (lost > this.#lastLost) this.#losses.add(mono, lost - this.#lastLost);
    this.#lastLost = lost;
    const seen = new Set<string>();
    for (const rule of plan.alerts.rules) {
      const lostDelta = this.#losses.sum(mono, rule.windowMs);
      try {
        for (const obs of evaluate(rule, plan, this.signals, this.#opts.sources, mono, lostDelta)) {
          const id = alertId(rule.name, obs.key);
          seen.add(id);
          this.#holds(rule, id, obs, mono);
        }
      } catch (err) {
        // one broken rule must not silence the others; its instances stay as they are
        this.#opts.logger.log('error', 'alert rule evaluation failed', {
          rule: rule.name,
          error: String(err),
        });
        for (const i of this.#instances.values()) if (i.rule.name === rule.name) seen.add(i.id);
      }
    }
    for (const inst of [...this.#instances.values()]) {
      if (seen.has(inst.id)) continue;
      const rule = plan.alerts.rules.find((r) => r.name === inst.rule.name);
      if (inst.state === 'pending') {
        this.#instances.delete(inst.id);
        this.#event('alert_cleared', inst, 'the condition no longer holds before its for-duration');
      } else this.#resolve(inst, rule ?? inst.rule, rule === undefined ? 'the rule was removed' : null);
    }
    this.#slowBackends(plan, mono);
  }

  #holds(rule: RulePlan, id: string, obs: Observation, mono: number): void {
    let inst = this.#instances.get(id);
    if (inst === undefined) {
      const until = this.#cooldown.get(id);
      if (until !== undefined && mono < until) return;
      this.#cooldown.delete(id);
      inst = {
        id,
        rule,
        key: obs.key,
        state: 'pending',
        since: this.#opts.clock.now(),
        sinceMono: mono,
        firedAt: null,
        resolvedAt: null,
        obs,
        silencedUntil: null,
        lastSent: 0,
      };
      this.#instances.set(id, inst);
      if (rule.forMs > 0) this.#event('alert_pending', inst, obs.summary);
    }
    inst.rule = rule;
    inst.obs = obs;
    if (inst.state === 'pending' && mono - inst.sinceMono >= rule.forMs) {
      inst.state = 'firing';
      inst.firedAt = this.#opts.clock.now();
      this.#event('alert_firing', inst, obs.summary);
      this.#notify(inst, mono);
    } else if (inst.state === 'firing' && mono - inst.lastSent >= RESEND_MS) this.#notify(inst, mono, true);
  }

  #resolve(inst: Instance, rule: RulePlan, reason: string | null): void {
    this.#instances.delete(inst.id);
    inst.state = 'resolved';
    inst.resolvedAt = this.#opts.clock.now();
    this.#cooldown.set(inst.id, this.#opts.clock.monotonic() + rule.cooldownMs);
    this.#history.push(inst);
    if (this.#history.length > HISTORY) this.#history.shift();
    this.#event(
      'alert_resolved',
      inst,
      reason ??
        `resolved: ${inst.obs.summary.replace(/ is above .*$/, '')} no longer above ${rule.aboveText ?? 'its threshold'}`,
    );
    this.#notify(inst, this.#opts.clock.monotonic());
  }

  /** Silences one alert instance: it keeps its states and events, but notifies no one until then. */
  silence(id: string, forMs: number, actor: string, reason: string): AlertView | null {
    const inst = this.#instances.get(id);
    if (inst === undefined) return null;
    inst.silencedUntil = this.#opts.clock.now() + forMs;
    this.#opts.events.emit({
      ...systemEvent(
        'alert_silenced',
        'success',
        reason,
        { ...this.#labels(inst), for: formatDuration(forMs) },
        actor,
      ),
    });
    return this.view(inst);
  }

  /** Pending and firing alerts, then the most recent resolved ones (newest first). */
  list(): AlertView[] {
    const active = [...this.#instances.values()].map((i) => this.view(i));
    const resolved = [...this.#history].reverse().map((i) => this.view(i));
    return [...active, ...resolved];
  }

  /** Firing instances per rule name, for `tollgate_alerts_firing`. */
  firingByRule(): [string, number][] {
    const counts = new Map<string, number>();
    for (const r of this.#opts.plan().alerts.rules) counts.set(r.name, 0);
    for (const i of this.#instances.values())
      if (i.state === 'firing') counts.set(i.rule.name, (counts.get(i.rule.name) ?? 0) + 1);
    return [...counts];
  }

  /** Backends flagged slow now, as `pool/backend`. */
  slowBackends(): ReadonlySet<string> {
    return this.#slow;
  }

  view(i: Instance): AlertView {
    const plan = this.#opts.plan();
    const o = i.obs;
    const admin = this.#opts.adminUrl();
    const errors = [...new Set(o.samples.map((s) => s.error).filter((e): e is string => e !== null))].slice(
      -3,
    );
    return {
      schema: 'tollgate.alert/1',
      id: i.id,
      status: i.state,
      rule: i.rule.name,
      when: i.rule.when,
      key: i.key,
      summary: o.summary,
      value: o.value,
      value_text: o.valueText,
      threshold: i.rule.aboveText,
      window: formatDuration(i.rule.windowMs),
      for: formatDuration(i.rule.forMs),
      route: o.route,
      pool: o.pool,
      backend: o.backend,
      client: o.client,
      owner: ownerOf(plan, o),
      started_at: isoMicros(i.since),
      fired_at: i.firedAt === null ? null : isoMicros(i.firedAt),
      resolved_at: i.resolvedAt === null ? null : isoMicros(i.resolvedAt),
      silenced_until: i.silencedUntil === null ? null : isoMicros(i.silencedUntil),
      top_clients: this.#opts.sources.clients?.top(sketchWindow(i.rule.windowMs), 5) ?? [],
      samples: o.samples.map((s) => ({
        request_id: s.requestId,
        status: s.status,
        termination: s.termination,
        backend: s.backend,
        duration_ms: Math.round(s.durationMs * 1000) / 1000,
        client: s.client,
        error: s.error,
        explain: `tollgate explain ${s.requestId}`,
        url: admin === null ? null : `${admin}/api/v1/requests/${s.requestId}`,
      })),
      errors,
      instance: this.#opts.instance,
    };
  }

  #labels(i: Instance): AdminEvent['labels'] {
    return {
      alert: i.id,
      rule: i.rule.name,
      when: i.rule.when,
      key: i.key,
      value: i.obs.valueText,
      threshold: i.rule.aboveText,
      owner: ownerOf(this.#opts.plan(), i.obs),
      samples: i.obs.samples.map((s) => s.requestId).join(' ') || null,
    };
  }

  #event(action: string, i: Instance, reason: string): void {
    this.#opts.events.emit(
      systemEvent(action, action === 'alert_firing' ? 'failure' : 'success', reason, this.#labels(i)),
    );
  }

  #notify(i: Instance, mono: number, resend = false): void {
    const now = this.#opts.clock.now();
    if (i.silencedUntil !== null && now < i.silencedUntil) return;
    i.lastSent = mono;
    const plan = this.#opts.plan();
    const view = this.view(i);
    const owner = view.owner;
    let targets = plan.alerts.notifiers.filter(
      (n) => i.rule.notify.includes(n.name) || (owner !== null && n.owner === owner),
    );
    if (targets.length === 0 && i.rule.notify.length === 0) targets = [...plan.alerts.notifiers];
    for (const n of targets) {
      if (resend && n.type !== 'alertmanager') continue;
      const p = this.#deliver(n, view, this.#opts.logger).then((error) => {
        if (error !== null)
          this.#opts.events.emit(
            systemEvent('alert_notify_failed', 'failure', `${n.name}: ${error}`, {
              ...this.#labels(i),
              notifier: n.name,
            }),
          );
      });
      this.#sending.add(p);
      void p.finally(() => this.#sending.delete(p));
    }
  }

  #slowBackends(plan: RuntimePlan, mono: number): void {
    const now = new Set<string>();
    for (const pool of plan.pools.values()) {
      const p99s: { key: string; backend: string; p99: number }[] = [];
      for (const b of pool.backends) {
        const key = `${pool.name}/${b.name}`;
        const sig = this.signals.backends.get(pool.name)?.get(b.name);
        if (sig === undefined) continue;
        const q = sig.latency.quantile(mono, SLOW_WINDOW_MS, 0.99);
        if (q.count >= MIN_SAMPLES) p99s.push({ key, backend: b.name, p99: q.value });
      }
      if (p99s.length < 2) continue;
      for (const x of p99s) {
        const peers = p99s
          .filter((y) => y !== x)
          .map((y) => y.p99)
          .sort((a, b) => a - b);
        const median = peers[Math.floor((peers.length - 1) / 2)]!;
        if (x.p99 > SLOW_FLOOR_MS && x.p99 > SLOW_FACTOR * median) {
          now.add(x.key);
          if (!this.#slow.has(x.key))
            this.#opts.events.emit(
              systemEvent(
                'backend_slow',
                'failure',
                `backend ${x.backend} in pool ${pool.name}: p99 ${formatDuration(x.p99)} over the last minute, over ${SLOW_FACTOR}× its peers' median ${formatDuration(median)}`,
                { pool: pool.name, backend: x.backend, p99_ms: x.p99, peers_median_ms: median },
              ),
            );
        }
      }
    }
    for (const key of this.#slow)
      if (!now.has(key)) {
        const [pool, backend] = key.split('/');
        this.#opts.events.emit(
          systemEvent(
            'backend_slow_ended',
            'success',
            `backend ${backend} in pool ${pool} is back in line with its peers`,
            {
              pool: pool ?? null,
              backend: backend ?? null,
            },
          ),
        );
      }
    this.#slow.clear();
    for (const k of now) this.#slow.add(k);
  }
}

/** The heavy-hitter window (1m, 5m or 15m) that covers a rule's window, for the alert's top clients. */
function sketchWindow(ms: number): number {
  return ms <= 60_000 ? 60_000 : ms <= 300_000 ? 300_000 : 900_000;
}

function ownerOf(plan: RuntimePlan, o: Observation): string | null {
  if (o.route !== null) return plan.routes.find((r) => r.name === o.route)?.owner ?? null;
  if (o.pool !== null) return plan.routes.find((r) => r.pool === o.pool && r.owner !== null)?.owner ?? null;
  return null;
}
