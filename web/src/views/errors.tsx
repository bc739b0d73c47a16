import { useState } from 'preact/hooks';
import type { ErrorGroupsView, TopClientsAnswer } from '../../../src/core/api-types.js';
import { api } from '../api.js';
import { fmtAgo, fmtBytes, fmtCount, fmtPct, fmtRate, fmtTime } from '../format.js';
import { useNow, usePoll } from '../hooks.js';
import { requestHref } from '../route.js';
import { Card, Empty, PollState, Segmented } from '../ui.js';

type Since = '15m' | '1h' | '6h' | '24h';
const SINCE: readonly (readonly [Since, string])[] = [
  ['15m', '15 min'],
  ['1h', '1 hour'],
  ['6h', '6 hours'],
  ['24h', '24 hours'],
];
type Window = '1m' | '5m' | '15m';
const WINDOWS: readonly (readonly [Window, string])[] = [
  ['1m', '1 min'],
  ['5m', '5 min'],
  ['15m', '15 min'],
];
const WINDOW_S: Record<Window, number> = { '1m': 60, '5m': 300, '15m': 900 };
type By = 'client_ip' | 'user';

export function ErrorsView() {
  return (
    <>
      <div class="view-head">
        <h1 tabIndex={-1}>Errors and clients</h1>
      </div>
      <ErrorGroups />
      <TopClients />
    </>
  );
}

function ErrorGroups() {
  const [since, setSince] = useState<Since>('1h');
  const groups = usePoll(() => api<ErrorGroupsView>(`errors?since=${since}`), 5000, [since]);
  const now = useNow(5000);
  const d = groups.data;
  return (
    <Card
      title="Failed requests, grouped"
      id="errors-title"
      actions={<Segmented label="Errors since" value={since} options={SINCE} onChange={setSince} />}
    >
      <p class="muted small">
        A request failed when it ended in any termination but <code>ok</code>, or a backend answered 5xx.
        Grouped by route, backend and termination; the newest three of each are linked.
      </p>
      <PollState of={groups} what="the error groups" loading="errors" />
      {d !== null && d.items.length === 0 && (
        <Empty>No failed requests in the last {SINCE.find(([v]) => v === since)?.[1]}.</Empty>
      )}
      {d !== null && d.items.length > 0 && (
        <>
          <p class="small">{fmtCount(d.total)} failed requests.</p>
          <div class="scroll">
            <table class="errors">
              <thead>
                <tr>
                  <th scope="col" class="num">
                    Count
                  </th>
                  <th scope="col">Route</th>
                  <th scope="col">Backend</th>
                  <th scope="col">Termination</th>
                  <th scope="col">Status</th>
                  <th scope="col">Last</th>
                  <th scope="col">Samples</th>
                </tr>
              </thead>
              <tbody>
                {d.items.map((g) => (
                  <tr key={`${g.route}|${g.backend}|${g.termination}`}>
                    <td class="num">
                      <strong>{fmtCount(g.count)}</strong>
                    </td>
                    <td>{g.route ?? <span class="muted">no route</span>}</td>
                    <td>{g.backend ?? <span class="muted">none</span>}</td>
                    <td>
                      {g.termination === 'ok' ? (
                        <span class="muted">ok (backend 5xx)</span>
                      ) : (
                        <span class="term-bad">{g.termination}</span>
                      )}
                    </td>
                    <td>{g.statuses.join(', ')}</td>
                    <td class="small" title={g.last}>
                      {fmtAgo(g.last, now)}
                    </td>
                    <td class="samples">
                      {g.samples.map((s) => (
                        <div key={s.request_id}>
                          <a href={requestHref(s.request_id)} class="mono small">
                            {fmtTime(s.at)} {s.status}
                          </a>
                          {s.message !== null && <span class="small muted"> {s.message}</span>}
                        </div>
                      ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Card>
  );
}

function TopClients() {
  const [win, setWin] = useState<Window>('1m');
  const [by, setBy] = useState<By>('client_ip');
  const top = usePoll(() => api<TopClientsAnswer>(`clients/top?window=${win}&by=${by}&limit=20`), 5000, [
    win,
    by,
  ]);
  const secs = WINDOW_S[win];
  return (
    <Card
      title="Top clients"
      id="clients-title"
      actions={
        <>
          <Segmented
            label="Group by"
            value={by}
            options={[
              ['client_ip', 'by address'],
              ['user', 'by user'],
            ]}
            onChange={setBy}
          />
          <Segmented label="Window" value={win} options={WINDOWS} onChange={setWin} />
        </>
      }
    >
      <PollState of={top} what="the top clients" loading="top clients" />
      {top.data !== null && top.data.items.length === 0 && (
        <Empty>
          No {by === 'user' ? 'identified users' : 'clients'} in the last{' '}
          {WINDOWS.find(([v]) => v === win)?.[1]}.
        </Empty>
      )}
      {top.data !== null && top.data.items.length > 0 && (
        <div class="scroll">
          <table class="clients">
            <thead>
              <tr>
                <th scope="col">{by === 'user' ? 'User' : 'Client address'}</th>
                <th scope="col" class="num">
                  Requests
                </th>
                <th scope="col" class="num">
                  Rate
                </th>
                <th scope="col" class="num">
                  Errors
                </th>
                <th scope="col" class="num">
                  Bytes
                </th>
              </tr>
            </thead>
            <tbody>
              {top.data.items.map((c) => (
                <tr key={c.key}>
                  <td class="mono">
                    <a href={`#/live?${by}=${encodeURIComponent(c.key)}`}>{c.key}</a>
                  </td>
                  <td
                    class="num"
                    title={c.error_bound > 0 ? `may be over by up to ${c.error_bound}` : 'exact'}
                  >
                    {fmtCount(c.requests)}
                    {c.error_bound > 0 && <span class="muted small"> ±{c.error_bound}</span>}
                  </td>
                  <td class="num">{fmtRate(c.requests / secs)}</td>
                  <td class="num">
                    {fmtCount(c.errors)}{' '}
                    <span class="muted small">{fmtPct(c.requests > 0 ? c.errors / c.requests : null)}</span>
                  </td>
                  <td class="num">{fmtBytes(c.bytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
