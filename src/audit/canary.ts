import type { AdminEvent, Clock } from '../core/index.js';
import { formatDuration, systemEvent } from '../core/index.js';

/** What the canary's own request got back. */
export interface CanarySent {
  /** The `X-Request-Id` Tollgate answered with: the key of its record. */
  requestId: string | null;
  status: number | null;
  error: string | null;
}

/** One target of a canary: `store`, or a sink by its cursor name. */
export interface CanaryTarget {
  name: string;
  ok: boolean;
  /** From sending the request to the record being there (committed, or shipped by that sink). */
  ms: number | null;
  detail: string;
}

export interface CanaryResult {
  at: number;
  requestId: string | null;
  seq: number | null;
  ok: boolean;
  targets: CanaryTarget[];
}

export interface CanaryDeps {
  intervalMs: number;
  deadlineMs: number;
  clock: Clock;
  /** Sends the marked request through Tollgate's own listener. */
  send(): Promise<CanarySent>;
  /** The seq of the request's record once it is committed, else null. */
  seqOf(requestId: string): number | null;
  /** Each configured sink's cursor (the last seq it shipped or had confirmed), by cursor name. */
  cursors(): ReadonlyMap<string, number>;
  emit(e: AdminEvent): void;
  onResult(r: CanaryResult): void;
}

const POLL_MS = 50;

/**
 * The canary (audit.canary): every interval a marked request goes through Tollgate's own
 * listener to the built-in canary endpoint (never to a backend); its record must be committed to
 * the store and shipped by every sink within the deadline. Each run is an `audit_canary` event
 * naming every target; a miss also feeds the `audit_canary` alert rule, per target.
 */
export class CanaryRunner {
  readonly #d: CanaryDeps;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;

  constructor(deps: CanaryDeps) {
    this.#d = deps;
  }

  /** The first run after `firstMs` (the listener is up), then every interval. */
  start(firstMs = 1000): void {
    this.#schedule(Math.min(firstMs, this.#d.intervalMs));
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.runOnce().then(() => {
        this.#running = null;
        this.#schedule(this.#d.intervalMs);
      });
    }, ms);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    await this.#running;
  }

  /** One canary, from sending to the event. Never throws. */
  async runOnce(): Promise<CanaryResult> {
    const d = this.#d;
    const started = d.clock.monotonic();
    const at = d.clock.now();
    let sent: CanarySent;
    try {
      sent = await d.send();
    } catch (err) {
      sent = { requestId: null, status: null, error: err instanceof Error ? err.message : String(err) };
    }
    const targets = new Map<string, CanaryTarget>();
    const names = ['store', ...d.cursors().keys()];
    let seq: number | null = null;
    if (sent.requestId === null || sent.status !== 200) {
      const why = `the canary request failed: ${sent.error ?? `answered ${sent.status}`}`;
      for (const name of names) targets.set(name, { name, ok: false, ms: null, detail: why });
    } else {
      const deadline = started + d.deadlineMs;
      for (;;) {
        if (seq === null) {
          seq = d.seqOf(sent.requestId);
          if (seq !== null)
            targets.set('store', {
              name: 'store',
              ok: true,
              ms: d.clock.monotonic() - started,
              detail: 'committed',
            });
        }
        if (seq !== null) {
          for (const [name, cursor] of d.cursors()) {
            if (!targets.has(name) && cursor >= seq)
              targets.set(name, { name, ok: true, ms: d.clock.monotonic() - started, detail: 'shipped' });
          }
        }
        if (seq !== null && targets.size >= names.length) break;
        if (d.clock.monotonic() >= deadline || this.#stopped) break;
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      const within = formatDuration(d.deadlineMs);
      for (const name of names) {
        if (targets.has(name)) continue;
        targets.set(name, {
          name,
          ok: false,
          ms: null,
          detail:
            name === 'store'
              ? `the record of canary ${sent.requestId} was not committed within ${within}`
              : seq === null
                ? `not checked: the record was not committed within ${within}`
                : `sink ${name} did not ship canary ${sent.requestId} (seq ${seq}) within ${within}`,
        });
      }
    }
    const list = [...targets.values()];
    const result: CanaryResult = {
      at,
      requestId: sent.requestId,
      seq,
      ok: list.every((t) => t.ok),
      targets: list,
    };
    const labels: AdminEvent['labels'] = { request_id: sent.requestId, seq };
    for (const t of list) labels[`target.${t.name}`] = t.ok ? `ok ${formatDuration(t.ms ?? 0)}` : 'missed';
    const failed = list.filter((t) => !t.ok);
    d.emit(
      systemEvent(
        'audit_canary',
        result.ok ? 'success' : 'failure',
        result.ok ? null : failed.map((t) => `${t.name}: ${t.detail}`).join('; '),
        labels,
      ),
    );
    d.onResult(result);
    return result;
  }
}
