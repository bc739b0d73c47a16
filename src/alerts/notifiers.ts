import type { NotifierPlan } from '../config/index.js';
import type { AlertItem, Logger } from '../core/index.js';

/** An alert as notifiers and the API see it. */
export type AlertView = AlertItem;

const TRIES = 4;
const FIRST_BACKOFF_MS = 250;
const TIMEOUT_MS = 5000;

async function post(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  await res.arrayBuffer();
  if (res.status >= 300) throw new Error(`${url} answered ${res.status}`);
}

function slackText(a: AlertView): string {
  const head = a.status === 'resolved' ? 'RESOLVED' : 'FIRING';
  const samples = a.samples.length === 0 ? '' : `\nsamples: ${a.samples.map((s) => s.request_id).join(', ')}`;
  return `[${head}] ${a.rule}: ${a.summary}${a.owner === null ? '' : ` (owner ${a.owner})`}${samples}`;
}

function alertmanagerBody(a: AlertView): unknown[] {
  const labels: Record<string, string> = { alertname: a.rule, tollgate_rule: a.when, instance: a.instance };
  for (const k of ['route', 'pool', 'backend', 'client', 'owner'] as const) {
    const v = a[k];
    if (v !== null) labels[k] = v;
  }
  const alert: Record<string, unknown> = {
    labels,
    annotations: {
      summary: a.summary,
      value: a.value_text,
      sample_request_ids: a.samples.map((s) => s.request_id).join(' '),
    },
    startsAt: a.fired_at ?? a.started_at,
  };
  if (a.resolved_at !== null) alert.endsAt = a.resolved_at;
  return [alert];
}

/**
 * Sends an alert to one notifier, retrying with back-off (250 ms, 500 ms, 1 s) before it gives
 * up; resolves with null on delivery or the last error's message.
 */
export async function deliver(n: NotifierPlan, a: AlertView, logger: Logger): Promise<string | null> {
  const url = n.type === 'alertmanager' ? `${n.url.replace(/\/+$/, '')}/api/v2/alerts` : n.url;
  const body =
    n.type === 'alertmanager' ? alertmanagerBody(a) : n.format === 'slack' ? { text: slackText(a) } : a;
  let last = '';
  for (let i = 0; i < TRIES; i++) {
    try {
      await post(url, body);
      return null;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
      logger.log('warn', 'alert notification failed; retrying', {
        notifier: n.name,
        try: i + 1,
        error: last,
      });
      if (i < TRIES - 1) await new Promise((r) => setTimeout(r, FIRST_BACKOFF_MS * 2 ** i));
    }
  }
  return last;
}
