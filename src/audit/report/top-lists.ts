import type { RequestTotals, Store } from '../../store/index.js';
import { byCountThenName, isoOrNull, parse } from './figures.js';
import type { AuthStats, ClientStats, RequestPass } from './request-pass.js';
import { AUTH_TERMINATIONS } from './request-pass.js';
import type { Counter } from './top-k.js';
import type { AuthRow, ClientRow, UserRow } from './types.js';

/**
 * The top lists (clients, users, auth failure pairs) from the pass's sketches: the candidates
 * by sketch count (twice as many once a sketch overflowed), each made exact — from its own
 * counter when it never changed hands, else re-counted from the store — then sorted and cut.
 */
/** Exact figures for a sketch counter: its own when it never changed hands, else re-counted from the store. */
function exact(
  c: Counter<ClientStats>,
  recount: () => RequestTotals,
): RequestTotals & { lastSeq: number | null } {
  if (c.error === 0) {
    const s = c.stats;
    return { count: c.count, ...s, lastSeq: s.lastSeq };
  }
  return recount();
}

export function topClients(
  store: Store,
  req: RequestPass,
  since: number,
  until: number,
  n: number,
): ClientRow[] {
  const sketch = req.clients;
  const rows = sketch.top(sketch.overflowed ? 2 * n : n).map((c) => {
    const address = c.key === '-' ? null : c.key;
    return { address, t: exact(c, () => store.report.totals({ clientIp: address }, since, until)) };
  });
  rows.sort(
    byCountThenName(
      (r) => r.t.count,
      (r) => r.address,
    ),
  );
  const shown = rows.slice(0, n);
  const recs = store.report.records(shown.flatMap((r) => (r.t.lastSeq === null ? [] : [r.t.lastSeq])));
  return shown.map(({ address, t }) => ({
    address,
    requests: t.count,
    client_errors: t.clientErrors,
    server_errors: t.serverErrors,
    bytes_in: t.bytesIn,
    bytes_out: t.bytesOut,
    last_seen: t.lastTs === null ? null : isoOrNull(t.lastTs),
    user_agent: t.lastSeq === null ? null : (parse(recs.get(t.lastSeq))?.user_agent?.original ?? null),
  }));
}

export function topUsers(store: Store, req: RequestPass, since: number, until: number, n: number): UserRow[] {
  const sketch = req.users;
  const rows = sketch
    .top(sketch.overflowed ? 2 * n : n)
    .map((c) => ({ user: c.key, t: exact(c, () => store.report.totals({ user: c.key }, since, until)) }));
  rows.sort(
    byCountThenName(
      (r) => r.t.count,
      (r) => r.user,
    ),
  );
  return rows.slice(0, n).map(({ user, t }) => ({
    user,
    requests: t.count,
    client_errors: t.clientErrors,
    server_errors: t.serverErrors,
    bytes_in: t.bytesIn,
    bytes_out: t.bytesOut,
    last_seen: t.lastTs === null ? null : isoOrNull(t.lastTs),
  }));
}

export function authRows(store: Store, req: RequestPass, since: number, until: number, n: number): AuthRow[] {
  const sketch = req.auth;
  const rows = sketch.top(sketch.overflowed ? 2 * n : n).map((c: Counter<AuthStats>): AuthRow => {
    const [route, client] = JSON.parse(c.key) as [string | null, string | null];
    const by = { ...c.stats.byTermination };
    let first = c.stats.firstTs;
    let last = c.stats.lastTs;
    if (c.error > 0) {
      first = Number.POSITIVE_INFINITY;
      last = Number.NEGATIVE_INFINITY;
      for (const t of AUTH_TERMINATIONS) {
        const x = store.report.totals({ clientIp: client, route, terminations: [t] }, since, until);
        by[t] = x.count;
        if (x.firstTs !== null && x.firstTs < first) first = x.firstTs;
        if (x.lastTs !== null && x.lastTs > last) last = x.lastTs;
      }
    }
    return {
      route,
      client,
      total: by.auth_failed + by.forbidden + by.rate_limited,
      by_termination: by,
      first_seen: isoOrNull(first),
      last_seen: isoOrNull(last),
    };
  });
  return rows
    .sort(
      byCountThenName(
        (r) => r.total,
        (r) => `${r.route ?? ''} ${r.client ?? ''}`,
      ),
    )
    .slice(0, n);
}
