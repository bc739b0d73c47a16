import { useEffect, useRef, useState } from 'preact/hooks';
import type { Page, RequestRecordView } from '../../../src/core/api-types.js';
// the contract's list itself (core/termination has no imports, so the bundle takes just this)
import { TERMINATIONS } from '../../../src/core/termination.js';
import { api } from '../api.js';
import { fmtMs, fmtTime, statusClass } from '../format.js';
import { go, requestHref } from '../route.js';
import type { StreamState } from '../sse.js';
import { openStream } from '../sse.js';
import { Empty, Failed } from '../ui.js';

/** The query filters of `tollgate query`, as the API spells them. */
export const FILTERS = [
  ['status', 'Status', '5xx, 404, 2xx'],
  ['route', 'Route', ''],
  ['backend', 'Backend', ''],
  ['termination', 'Termination', ''],
  ['client_ip', 'Client IP', 'IP or CIDR'],
  ['user', 'User', ''],
] as const;

const KEEP = 500;

export interface Row {
  seq: number;
  r: RequestRecordView;
}

export function filterQuery(q: URLSearchParams): string {
  const out = new URLSearchParams();
  for (const [k] of FILTERS) {
    const v = q.get(k);
    if (v !== null && v.trim() !== '') out.set(k, v.trim());
  }
  return out.toString();
}

export function LiveView({ query }: { query: URLSearchParams }) {
  const filters = filterQuery(query);
  const [rows, setRows] = useState<Row[]>([]);
  const [state, setState] = useState<StreamState>({ kind: 'connecting' });
  const [error, setError] = useState<Error | null>(null);
  const [paused, setPaused] = useState(false);
  const pausedRef = useRef(false);
  const held = useRef<Row[]>([]);
  const [heldCount, setHeldCount] = useState(0);
  pausedRef.current = paused;

  useEffect(() => {
    let close: (() => void) | null = null;
    let live = true;
    setRows([]);
    setError(null);
    held.current = [];
    setHeldCount(0);
    const add = (row: Row) => {
      if (pausedRef.current) {
        held.current.push(row);
        setHeldCount(held.current.length);
        return;
      }
      setRows((old) => [row, ...old].slice(0, KEEP));
    };
    (async () => {
      let last: string | null = null;
      try {
        // the newest matches first, so the page is not empty; the stream resumes right after them
        const page = await api<Page<RequestRecordView>>(
          `requests?limit=50${filters === '' ? '' : `&${filters}`}`,
        );
        if (!live) return;
        setRows(page.items.map((r) => ({ seq: r.tollgate.chain.seq ?? 0, r })));
        const top = page.items[0]?.tollgate.chain.seq;
        if (top !== undefined && top !== null) last = String(top);
      } catch (err) {
        if (!live) return;
        setError(err as Error);
        if ((err as { status?: number }).status === 400) {
          setState({ kind: 'failed', reason: (err as Error).message });
          return;
        }
      }
      close = openStream(filters, last, {
        onEvent(event, data) {
          if (event !== 'request') return;
          try {
            const r = JSON.parse(data) as RequestRecordView;
            add({ seq: r.tollgate.chain.seq ?? 0, r });
          } catch {
            // not a record: ignore
          }
        },
        onState: (s) => {
          if (live) setState(s);
        },
      });
    })();
    return () => {
      live = false;
      close?.();
    };
  }, [filters]);

  const resume = () => {
    const h = held.current;
    held.current = [];
    setHeldCount(0);
    setPaused(false);
    setRows((old) => [...h.reverse(), ...old].slice(0, KEEP));
  };

  return (
    <>
      <div class="view-head">
        <h1 tabIndex={-1}>Live requests</h1>
        <StreamBadge state={state} />
      </div>
      <FilterForm query={query} />
      {error !== null && state.kind !== 'failed' && <Failed error={error} what="the latest requests" />}
      {state.kind === 'failed' && (
        <div class="state failed" role="alert">
          <strong>The live stream stopped.</strong> {state.reason}
        </div>
      )}
      <div class="toolbar">
        <span class="muted small">
          Newest first; the last {KEEP} are kept. Select a request to see its whole story.
        </span>
        {paused ? (
          <button type="button" onClick={resume}>
            Resume{heldCount > 0 ? ` (${heldCount} new)` : ''}
          </button>
        ) : (
          <button type="button" onClick={() => setPaused(true)}>
            Pause
          </button>
        )}
      </div>
      {rows.length === 0 ? (
        <Empty>
          {filters === ''
            ? 'No requests yet. Send one through a listener and it appears here as soon as it is recorded.'
            : 'No requests match these filters yet; new ones appear here as they are recorded.'}
        </Empty>
      ) : (
        <RequestTable rows={rows} />
      )}
    </>
  );
}

function StreamBadge({ state }: { state: StreamState }) {
  const text =
    state.kind === 'live'
      ? 'live'
      : state.kind === 'connecting'
        ? 'connecting…'
        : state.kind === 'retrying'
          ? `reconnecting in ${Math.round(state.inMs / 1000)} s`
          : 'stopped';
  return (
    <span
      class={`badge ${state.kind === 'live' ? 'good' : state.kind === 'failed' ? 'bad' : 'warn'}`}
      role="status"
      data-stream={state.kind}
      title={state.kind === 'retrying' ? state.reason : undefined}
    >
      {state.kind === 'live' && <span class="dot" aria-hidden="true" />} {text}
    </span>
  );
}

export function FilterForm({ query, base = '#/live' }: { query: URLSearchParams; base?: string }) {
  const submit = (e: Event) => {
    e.preventDefault();
    const data = new FormData(e.target as HTMLFormElement);
    const q = new URLSearchParams();
    for (const [k] of FILTERS) {
      const v = String(data.get(k) ?? '').trim();
      if (v !== '') q.set(k, v);
    }
    const s = q.toString();
    go(`${base}${s === '' ? '' : `?${s}`}`);
  };
  const any = FILTERS.some(([k]) => (query.get(k) ?? '') !== '');
  return (
    <form class="filters" onSubmit={submit} aria-label="Filters">
      {FILTERS.map(([k, label, hint]) =>
        k === 'termination' ? (
          <label key={k}>
            <span>{label}</span>
            <select name={k} value={query.get(k) ?? ''}>
              <option value="">any</option>
              {TERMINATIONS.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </label>
        ) : (
          <label key={k}>
            <span>{label}</span>
            <input name={k} value={query.get(k) ?? ''} placeholder={hint} autocomplete="off" />
          </label>
        ),
      )}
      <div class="filter-buttons">
        <button type="submit" class="primary">
          Apply
        </button>
        {any && (
          <a class="button" href={base}>
            Clear
          </a>
        )}
      </div>
    </form>
  );
}

/**
 * `self`: the fleet view shows every instance's records with an Instance column; only this
 * instance's own link to their story (the others' are in their own stores).
 */
export function RequestTable({ rows, self }: { rows: Row[]; self?: string }) {
  const fleet = self !== undefined;
  return (
    <div class="scroll">
      <table class="requests">
        <thead>
          <tr>
            <th scope="col">Time</th>
            {fleet && <th scope="col">Instance</th>}
            <th scope="col">Request</th>
            <th scope="col" class="num">
              Status
            </th>
            <th scope="col">Termination</th>
            <th scope="col">Backend</th>
            <th scope="col" class="num">
              Duration
            </th>
            <th scope="col">Client</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(({ seq, r }) => {
            const id = r.http.request.id;
            const href = requestHref(id);
            const status = r.http.response.status_code;
            const linked = !fleet || r.tollgate.instance === self;
            const what = (
              <>
                <span class="method">{r.http.request.method}</span> {r.url.path}
                {r.url.query !== null && <span class="muted">?{r.url.query}</span>}
              </>
            );
            return (
              <tr
                key={`${r.tollgate.instance}-${seq}-${id}`}
                class={linked ? 'clickable' : undefined}
                data-request-id={id}
                data-instance={r.tollgate.instance}
                onClick={linked ? () => go(href) : undefined}
              >
                <td class="mono small">{fmtTime(r.event.end, true)}</td>
                {fleet && <td class="small">{r.tollgate.instance}</td>}
                <td class="path">
                  {linked ? (
                    <a href={href} onClick={(e) => e.stopPropagation()}>
                      {what}
                    </a>
                  ) : (
                    what
                  )}
                  {r.tollgate.route !== null && <span class="muted small"> {r.tollgate.route}</span>}
                </td>
                <td class="num">
                  <span class={`status ${statusClass(status)}`}>{status}</span>
                </td>
                <td>
                  <span class={r.tollgate.termination === 'ok' ? 'muted' : 'term-bad'}>
                    {r.tollgate.termination}
                  </span>
                </td>
                <td>{r.tollgate.backend.name ?? <span class="muted">–</span>}</td>
                <td class="num">{fmtMs(r.event.duration / 1e6)}</td>
                <td class="mono small">
                  {r.client.address}
                  {r.user.name !== null && <span class="muted"> {r.user.name}</span>}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
