import type { Report } from './types.js';
import type { Block, Section } from './view-blocks.js';
import {
  bytes,
  count,
  durations,
  heading,
  MAX_ERROR_ROWS,
  ms,
  name,
  range,
  table,
  text,
  time,
} from './view-blocks.js';

/** The request-side sections of the view: traffic and routes, error groups, top clients, slow backends. */
export function traffic(r: Report): Section {
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

export function errors(r: Report): Section {
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

export function clients(r: Report): Section {
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

export function backends(r: Report): Section {
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
