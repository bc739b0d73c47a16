import type { Report } from './types.js';
import type { Block, ReportView, Section } from './view-blocks.js';
import { count, heading, name, range, table, text, time } from './view-blocks.js';
import { backends, clients, errors, traffic } from './view-traffic.js';

/**
 * The report as sections of plain text and tables (view-blocks.ts), the one layout both the
 * Markdown and the HTML renderer draw; this file has the admin and audit sections and the order.
 */
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
          ? `ok: ${count(v.records)} records, seq ${v.first_seq ?? '-'}..${v.last_seq ?? '-'}, ${v.checkpoints} signed checkpoints hold${v.heartbeat_gaps === 0 ? '' : `; ${v.heartbeat_gaps} heartbeat gap(s)`}`
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

function review(r: Report): Section {
  const v = r.review;
  if (v === null)
    return {
      title: 'Compliance review',
      blocks: [text('not run: pass -c FILE (the review checks the config)')],
    };
  return {
    title: 'Compliance review',
    blocks: [
      text(`${v.baseline.name}: ${count(v.passed)} passed, ${count(v.failed)} failed`),
      table(
        ['check', 'result', 'reason', 'serves'],
        v.checks.map((c) => [c.id, c.status.toUpperCase(), c.reason, c.requirement]),
        [],
        v.checks.map((c) => c.status === 'fail'),
      ),
    ],
  };
}

export function reportView(r: Report): ReportView {
  return {
    title: 'Tollgate report',
    summary: [
      `window ${time(r.window.since)} to ${time(r.window.until)}`,
      `store ${r.store}`,
      `generated ${time(r.generated_at)}`,
    ],
    sections: [
      traffic(r),
      errors(r),
      clients(r),
      backends(r),
      admin(r),
      auth(r),
      alerts(r),
      audit(r),
      review(r),
    ],
  };
}
