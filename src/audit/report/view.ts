import type { Durations, Report } from './types.js';

/**
 * The report as sections of plain text and tables, the one layout both the Markdown and the
 * HTML renderer draw. Every string here is plain text (values from the store included): the
 * renderers escape all of it, so nothing a client sent can become markup.
 */
export type Block =
  | { kind: 'text'; text: string }
  | { kind: 'heading'; text: string }
  | { kind: 'table'; head: string[]; right: boolean[]; rows: string[][]; marked: boolean[] };

export interface Section {
  title: string;
  blocks: Block[];
}

export interface ReportView {
  title: string;
  summary: string[];
  sections: Section[];
}

const MAX_CELL = 160;
/** Error groups drawn in Markdown and HTML (JSON has them all). */
export const MAX_ERROR_ROWS = 25;

export const count = (n: number): string => n.toLocaleString('en-US');

export function bytes(n: number): string {
  if (n < 1024) return `${count(n)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

export const ms = (v: number | null): string => (v === null ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(1));
const time = (iso: string | null): string =>
  iso === null ? '-' : `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`;
const name = (v: string | null, none = '-'): string => (v === null ? none : v);
const clip = (v: string): string => (v.length > MAX_CELL ? `${v.slice(0, MAX_CELL - 1)}…` : v);
const durations = (d: Durations): string =>
  `p50 ${ms(d.p50_ms)} ms, p99 ${ms(d.p99_ms)} ms, max ${ms(d.max_ms)} ms`;

function table(head: string[], rows: string[][], right: number[] = [], marked: boolean[] = []): Block {
  return {
    kind: 'table',
    head,
    right: head.map((_, i) => right.includes(i)),
    rows: rows.map((r) => r.map(clip)),
    marked: rows.map((_, i) => marked[i] ?? false),
  };
}

const text = (t: string): Block => ({ kind: 'text', text: t });
const heading = (t: string): Block => ({ kind: 'heading', text: t });
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

function traffic(r: Report): Section {
  const t = r.traffic;
  const c = t.status_classes;
  const blocks: Block[] = [
    text(
      `${count(t.requests)} requests, ${bytes(t.bytes_in)} in, ${bytes(t.bytes_out)} out; ${durations(t.duration)}.`,
    ),
    table(
      ['requests', '1xx', '2xx', '3xx', '4xx', '5xx', 'other'],
      [[t.requests, c['1xx'], c['2xx'], c['3xx'], c['4xx'], c['5xx'], c.other].map(count)],
      range(0, 7),
    ),
  ];
  const terms = Object.entries(t.terminations);
  if (terms.length > 0)
    blocks.push(text(`terminations: ${terms.map(([k, n]) => `${k} ${count(n)}`).join(', ')}`));
  blocks.push(heading('Routes'));
  if (r.routes.length === 0) blocks.push(text('no requests in the window'));
  else
    blocks.push(
      table(
        ['route', 'requests', '5xx', '5xx ratio', 'p50 ms', 'p99 ms', 'max ms', 'bytes in', 'bytes out'],
        r.routes.map((x) => [
          name(x.route, '(no route)'),
          count(x.requests),
          count(x.server_errors),
          `${(x.error_ratio * 100).toFixed(1)}%`,
          ms(x.p50_ms),
          ms(x.p99_ms),
          ms(x.max_ms),
          bytes(x.bytes_in),
          bytes(x.bytes_out),
        ]),
        range(1, 9),
      ),
    );
  return { title: 'Traffic', blocks };
}

function errors(r: Report): Section {
  const blocks: Block[] = [
    text(
      'Every request whose termination is not ok or whose status is 5xx, by route, backend and termination; each sample id resolves with: tollgate explain ID.',
    ),
  ];
  if (r.error_groups.length === 0) blocks.push(text('no errors in the window'));
  else
    blocks.push(
      table(
        [
          'route',
          'backend',
          'termination',
          'count',
          'statuses',
          'first seen',
          'last seen',
          'sample request ids',
          'latest',
        ],
        r.error_groups.slice(0, MAX_ERROR_ROWS).map((g) => [
          name(g.route, '(no route)'),
          name(g.backend),
          g.termination,
          count(g.count),
          Object.entries(g.statuses)
            .map(([s, n]) => `${s}×${count(n)}`)
            .join(' '),
          time(g.first_seen),
          time(g.last_seen),
          g.sample_request_ids.join(' '),
          `${g.latest.method ?? ''} ${g.latest.path ?? ''}: ${g.latest.message ?? `answered ${Object.keys(g.statuses).join('/')}`}`.trim(),
        ]),
        [3],
      ),
    );
  if (r.error_groups.length > MAX_ERROR_ROWS)
    blocks.push(
      text(
        `the ${MAX_ERROR_ROWS} largest of ${count(r.error_groups.length)} groups; --format json lists them all`,
      ),
    );
  return { title: 'Error groups', blocks };
}

function clients(r: Report): Section {
  const c = r.top_clients;
  const blocks: Block[] = [];
  if (c.by_address.length === 0) blocks.push(text('no clients in the window'));
  else
    blocks.push(
      table(
        ['client', 'requests', '4xx', '5xx', 'bytes in', 'bytes out', 'last seen', 'user agent (newest)'],
        c.by_address.map((x) => [
          name(x.address),
          count(x.requests),
          count(x.client_errors),
          count(x.server_errors),
          bytes(x.bytes_in),
          bytes(x.bytes_out),
          time(x.last_seen),
          name(x.user_agent),
        ]),
        range(1, 6),
      ),
    );
  blocks.push(heading('Top users'));
  if (c.by_user.length === 0) blocks.push(text('no identified users in the window'));
  else
    blocks.push(
      table(
        ['user', 'requests', '4xx', '5xx', 'bytes in', 'bytes out', 'last seen'],
        c.by_user.map((x) => [
          x.user,
          count(x.requests),
          count(x.client_errors),
          count(x.server_errors),
          bytes(x.bytes_in),
          bytes(x.bytes_out),
          time(x.last_seen),
        ]),
        range(1, 6),
      ),
    );
  if (c.overflowed)
    blocks.push(
      text(
        'More distinct clients than the sketch counts exactly: the rows shown were re-counted from the store.',
      ),
    );
  return { title: 'Top clients', blocks };
}

function backends(r: Report): Section {
  const { rule, backends: rows } = r.slow_backends;
  const blocks: Block[] = [
    text(
      `A backend is flagged SLOW when it has at least ${rule.min_attempts} attempts and its p99 attempt duration is above ${rule.min_p99_ms} ms and more than ${rule.ratio}× the median p99 of the other backends of its pool.`,
    ),
  ];
  if (rows.length === 0) blocks.push(text('no upstream attempts in the window'));
  else
    blocks.push(
      table(
        [
          'pool',
          'backend',
          'attempts',
          'p50 ms',
          'p99 ms',
          'max ms',
          "peers' median p99 ms",
          'flag',
          'verdict',
        ],
        rows.map((b) => [
          name(b.pool),
          b.backend,
          count(b.attempts),
          ms(b.p50_ms),
          ms(b.p99_ms),
          ms(b.max_ms),
          ms(b.peer_median_p99_ms),
          b.slow ? 'SLOW' : 'ok',
          b.verdict,
        ]),
        range(2, 7),
        rows.map((b) => b.slow),
      ),
    );
  return { title: 'Slow backends', blocks };
}

function admin(r: Report): Section {
  const a = r.admin;
  const blocks: Block[] = [text(`${count(a.events)} admin events in the window.`)];
  if (a.actions.length > 0)
    blocks.push(
      table(
        ['action', 'actor', 'success', 'failure', 'last seen'],
        a.actions.map((x) => [
          x.action,
          name(x.actor),
          count(x.success),
          count(x.failure),
          time(x.last_seen),
        ]),
        [2, 3],
      ),
    );
  blocks.push(heading('Config changes'));
  if (a.config_changes.length === 0) blocks.push(text('no config changes in the window'));
  else {
    blocks.push(
      table(
        ['time', 'actor', 'outcome', 'changes', 'what'],
        a.config_changes.map((c) => [
          time(c.time),
          name(c.actor),
          c.outcome,
          count(c.changes),
          c.outcome === 'success' ? c.paths.join(', ') || '(nothing changed)' : (c.reason ?? ''),
        ]),
        [3],
      ),
    );
    if (a.config_changes_total > a.config_changes.length)
      blocks.push(text(`the newest ${a.config_changes.length} of ${count(a.config_changes_total)}`));
  }
  return { title: 'Admin actions', blocks };
}

function auth(r: Report): Section {
  const a = r.auth_failures;
  const blocks: Block[] = [heading('Requests refused at admit (auth_failed, forbidden, rate_limited)')];
  if (a.requests.length === 0) blocks.push(text('none'));
  else
    blocks.push(
      table(
        ['route', 'client', 'auth_failed', 'forbidden', 'rate_limited', 'total', 'first seen', 'last seen'],
        a.requests.map((x) => [
          name(x.route, '(no route)'),
          name(x.client),
          count(x.by_termination.auth_failed),
          count(x.by_termination.forbidden),
          count(x.by_termination.rate_limited),
          count(x.total),
          time(x.first_seen),
          time(x.last_seen),
        ]),
        range(2, 6),
      ),
      text(`${count(a.requests_total)} in all`),
    );
  blocks.push(heading('Admin API refusals (401, 403, 429)'));
  if (a.admin_refusals.length === 0) blocks.push(text('none'));
  else
    blocks.push(
      table(
        ['source', '401', '403', '429', 'total', 'as', 'first seen', 'last seen'],
        a.admin_refusals.map((x) => [
          name(x.source),
          count(x.by_status['401']),
          count(x.by_status['403']),
          count(x.by_status['429']),
          count(x.total),
          x.actors.join(', '),
          time(x.first_seen),
          time(x.last_seen),
        ]),
        range(1, 5),
      ),
      text(`${count(a.admin_refusals_total)} in all`),
    );
  return { title: 'Auth failures', blocks };
}

function alerts(r: Report): Section {
  const a = r.alerts;
  if (a.total === 0) return { title: 'Alerts', blocks: [text('no alerts')] };
  return {
    title: 'Alerts',
    blocks: [
      text(
        Object.entries(a.counts)
          .map(([k, n]) => `${k} ${count(n)}`)
          .join(', '),
      ),
      table(
        ['time', 'action', 'rule', 'outcome', 'reason'],
        a.latest.map((e) => [time(e.time), e.action, name(e.rule ?? null), e.outcome, name(e.reason)]),
      ),
    ],
  };
}

function audit(r: Report): Section {
  const a = r.audit;
  const cp = a.last_checkpoint;
  const v = a.verify;
  const facts: [string, string][] = [
    [
      'records in the window',
      `${count(a.records_in_window)} (${count(a.requests_in_window)} requests, ${count(a.admin_events_in_window)} admin events)`,
    ],
    [
      'chain',
      a.last_seq === null ? 'empty' : `last seq ${a.last_seq}, oldest kept seq ${a.first_seq ?? '-'}`,
    ],
    ['retention anchor', a.anchor_seq === null ? 'none (nothing pruned)' : `seq ${a.anchor_seq}`],
    ['last signed checkpoint', cp === null ? 'none yet' : `seq ${cp.seq} at ${time(cp.time)} (${cp.reason})`],
    ['records after it', count(a.unsigned_records)],
    [
      'records lost',
      a.lost_events === 0
        ? 'none recorded'
        : `${count(a.lost_events)} audit_records_lost events${a.lost_records === null ? ' (the count is in tollgate_audit_records_lost_total)' : `, ${count(a.lost_records)} records`}`,
    ],
    [
      'verification',
      v === null
        ? 'not run (add --verify)'
        : v.ok
          ? `ok: ${count(v.records)} records, seq ${v.first_seq ?? '-'}..${v.last_seq ?? '-'}, ${v.checkpoints} signed checkpoints hold`
          : `FAILED: ${v.problem ?? 'unknown problem'}`,
    ],
  ];
  const blocks: Block[] = [table(['', ''], facts), heading('Pipeline events')];
  const p = a.pipeline_events;
  if (p.total === 0) blocks.push(text('no pipeline events in the window'));
  else
    blocks.push(
      text(
        Object.entries(p.counts)
          .map(([k, n]) => `${k} ${count(n)}`)
          .join(', '),
      ),
      table(
        ['time', 'action', 'outcome', 'reason'],
        p.latest.map((e) => [time(e.time), e.action, e.outcome, name(e.reason)]),
      ),
    );
  return { title: 'Audit pipeline', blocks };
}

export function reportView(r: Report): ReportView {
  return {
    title: 'Tollgate report',
    summary: [
      `window ${time(r.window.since)} to ${time(r.window.until)}`,
      `store ${r.store}`,
      `generated ${time(r.generated_at)}`,
    ],
    sections: [traffic(r), errors(r), clients(r), backends(r), admin(r), auth(r), alerts(r), audit(r)],
  };
}
