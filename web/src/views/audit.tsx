import { useState } from 'preact/hooks';
import type {
  AdminRecordView,
  AuditHealthAnswer,
  DiffEntry,
  Page,
  ReviewAnswer,
} from '../../../src/core/api-types.js';
import { api, enc } from '../api.js';
import { fmtAgo, fmtCount, fmtDateTime, fmtTime, fmtValue } from '../format.js';
import { useNow, usePoll } from '../hooks.js';
import { go } from '../route.js';
import { Badge, Card, Empty, PollState } from '../ui.js';

/** What the events table shows; each is one `GET /api/v1/events` query. */
const KINDS = [
  ['changes', 'Changes and refusals', 'reads=false'],
  ['all', 'Everything (with reads)', ''],
  ['config', 'Config changes', 'action=config_reload'],
  [
    'privilege',
    'Privileges and tokens',
    'action=privilege_granted,privilege_changed,elevation_granted,elevation_used,elevation_expired,token_created,token_revoked',
  ],
  [
    'backends',
    'Backend state',
    'action=backend_drained,backend_undrained,backend_unhealthy,backend_healthy,backend_ejected,backend_ejection_ended,backend_slow,backend_slow_ended',
  ],
  [
    'alerts',
    'Alerts',
    'action=alert_pending,alert_firing,alert_resolved,alert_cleared,alert_silenced,alert_notify_failed',
  ],
  ['access', 'Admin API calls', 'action=admin_request'],
  [
    'auditor',
    'Canaries, verification, pipeline',
    'action=audit_canary,audit_verified,audit_pipeline_started,audit_pipeline_stopped,audit_pipeline_failed,audit_pipeline_recovered,audit_records_lost',
  ],
] as const;
type Kind = (typeof KINDS)[number][0];

export function AuditView({ query }: { query: URLSearchParams }) {
  const kind = (KINDS.find(([k]) => k === query.get('show'))?.[0] ?? 'changes') as Kind;
  const actor = query.get('actor') ?? '';
  return (
    <>
      <div class="view-head">
        <h1 tabIndex={-1}>Audit trail</h1>
      </div>
      <Pipeline />
      <Review />
      <Events kind={kind} actor={actor} />
    </>
  );
}

/** `tollgate review` of the running process: each check of the baseline, pass or fail, and why. */
function Review() {
  const r = usePoll(() => api<ReviewAnswer>('review'), 60_000, []);
  const d = r.data;
  return (
    <Card title="Compliance review" id="review-title">
      <PollState of={r} what="the compliance review" />
      {d !== null && (
        <>
          <p class="small" data-review-failed={d.failed}>
            <Badge kind={d.failed === 0 ? 'good' : 'bad'}>
              {d.failed === 0 ? 'all checks pass' : `${d.failed} failed`}
            </Badge>{' '}
            {d.passed} of {d.checks.length} checks pass against {d.baseline.name}{' '}
            <span class="muted">(baseline {d.baseline.file})</span>
          </p>
          <div class="scroll">
            <table class="review">
              <thead>
                <tr>
                  <th scope="col">Check</th>
                  <th scope="col">Result</th>
                  <th scope="col">Why</th>
                  <th scope="col">Serves</th>
                </tr>
              </thead>
              <tbody>
                {d.checks.map((c) => (
                  <tr key={c.id} data-check={c.id} data-status={c.status}>
                    <td>
                      <code>{c.id}</code>
                    </td>
                    <td>
                      <Badge kind={c.status === 'pass' ? 'good' : c.status === 'fail' ? 'bad' : 'warn'}>
                        {c.status}
                      </Badge>
                    </td>
                    <td class="small">{c.reason}</td>
                    <td class="small muted">{c.requirement}</td>
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

function Pipeline() {
  const h = usePoll(() => api<AuditHealthAnswer>('audit/health'), 5000, []);
  const now = useNow(5000);
  const d = h.data;
  return (
    <Card title="Audit pipeline" id="pipeline-title">
      <PollState of={h} what="the audit pipeline's health" loading="the pipeline's health" />
      {d !== null && (
        <div class="pipeline">
          <dl class="facts inline">
            <div>
              <dt>State</dt>
              <dd>
                <Badge kind={d.state === 'ok' ? 'good' : 'bad'} title={d.reason ?? undefined}>
                  {d.state}
                </Badge>
                {d.reason !== null && <span class="small"> {d.reason}</span>}
              </dd>
            </div>
            <div>
              <dt>Records lost</dt>
              <dd data-lost={d.lost}>
                <Badge kind={d.lost === 0 ? 'good' : 'bad'}>{fmtCount(d.lost)}</Badge>
              </dd>
            </div>
            <div>
              <dt>Committed since start</dt>
              <dd>{fmtCount(d.committed)}</dd>
            </div>
            <div>
              <dt>Queued</dt>
              <dd>{fmtCount(d.queued)}</dd>
            </div>
            <div>
              <dt>Last seq</dt>
              <dd>{d.lastSeq}</dd>
            </div>
            <div>
              <dt>Chain</dt>
              <dd data-chain={d.chain.ok ? 'ok' : 'broken'}>
                {!d.chain.enabled ? (
                  <span class="muted">no chain key (chain off)</span>
                ) : !d.chain.ok ? (
                  <>
                    <Badge kind="bad">broken</Badge> {d.chain.problem} — run <code>tollgate verify</code>
                  </>
                ) : d.chain.verified_seq === null ? (
                  <span class="muted">
                    first pass under way
                    {d.chain.checking_seq === null ? '' : ` (at seq ${d.chain.checking_seq})`}
                  </span>
                ) : (
                  <>
                    <Badge kind="good">verified</Badge> up to seq {d.chain.verified_seq},{' '}
                    {fmtAgo(d.chain.verified_at!, now)}
                    {d.chain.checking_seq !== null && (
                      <span class="small"> · the next pass is at seq {d.chain.checking_seq}</span>
                    )}
                    {d.chain.last_checkpoint !== null && (
                      <span class="small muted">
                        {' '}
                        ({d.chain.checkpoints_checked} signed checkpoint
                        {d.chain.checkpoints_checked === 1 ? '' : 's'}, last at seq{' '}
                        {d.chain.last_checkpoint.seq})
                      </span>
                    )}
                  </>
                )}
              </dd>
            </div>
          </dl>
          <h3>Sinks</h3>
          {Object.keys(d.lag).length === 0 && Object.keys(d.lag_seconds).length <= 1 ? (
            <p class="small muted">Only the embedded store (no extra sinks are configured).</p>
          ) : null}
          <div class="scroll">
            <table class="sinks">
              <thead>
                <tr>
                  <th scope="col">Sink</th>
                  <th scope="col" class="num">
                    Behind (records)
                  </th>
                  <th scope="col" class="num">
                    Lag
                  </th>
                  <th scope="col">Last error</th>
                </tr>
              </thead>
              <tbody>
                {[...new Set(['store', ...Object.keys(d.lag), ...Object.keys(d.lag_seconds)])].map((s) => (
                  <tr key={s}>
                    <td>{s}</td>
                    <td class="num">{s === 'store' ? d.queued : (d.lag[s] ?? 0)}</td>
                    <td class="num">{(d.lag_seconds[s] ?? 0).toFixed(1)} s</td>
                    <td class="small">{d.sinkErrors[s] ?? '–'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
    </Card>
  );
}

function Events({ kind, actor }: { kind: Kind; actor: string }) {
  const [pages, setPages] = useState<AdminRecordView[][]>([]);
  const [next, setNext] = useState<string | null>(null);
  const base = KINDS.find(([k]) => k === kind)![2];
  const q = [base, actor === '' ? '' : `actor=${enc(actor)}`, 'limit=50'].filter((s) => s !== '').join('&');
  const first = usePoll(
    async () => {
      const p = await api<Page<AdminRecordView>>(`events?${q}`);
      return p;
    },
    3000,
    [q],
  );
  const more = async () => {
    const cursor = pages.length === 0 ? first.data?.next : next;
    if (cursor === null || cursor === undefined) return;
    const p = await api<Page<AdminRecordView>>(`events?${q}&cursor=${enc(cursor)}`);
    setPages([...pages, p.items]);
    setNext(p.next);
  };
  const items = [...(first.data?.items ?? []), ...pages.flat()];
  const hasMore = pages.length === 0 ? (first.data?.next ?? null) !== null : next !== null;
  const apply = (e: Event) => {
    e.preventDefault();
    const data = new FormData(e.target as HTMLFormElement);
    const p = new URLSearchParams();
    const show = String(data.get('show') ?? 'changes');
    const who = String(data.get('actor') ?? '').trim();
    if (show !== 'changes') p.set('show', show);
    if (who !== '') p.set('actor', who);
    setPages([]);
    setNext(null);
    const s = p.toString();
    go(`#/audit${s === '' ? '' : `?${s}`}`);
  };
  return (
    <Card title="Admin events" id="events-title">
      <form class="filters" onSubmit={apply} aria-label="Event filters">
        <label>
          <span>Show</span>
          <select name="show" value={kind}>
            {KINDS.map(([k, label]) => (
              <option key={k} value={k}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span>Who (token name)</span>
          <input name="actor" value={actor} autocomplete="off" placeholder="any" />
        </label>
        <div class="filter-buttons">
          <button type="submit" class="primary">
            Apply
          </button>
        </div>
      </form>
      <p class="muted small">
        Every admin API call is an event, this page's own reads included; “Changes and refusals” leaves out
        the successful reads. Newest first.
      </p>
      <PollState of={first} what="the admin events" loading="admin events" />
      {first.data !== null && items.length === 0 && <Empty>No admin events match.</Empty>}
      {items.length > 0 && (
        <div class="scroll">
          <table class="events">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">From</th>
                <th scope="col">What</th>
                <th scope="col">Result</th>
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <EventRow key={e.tollgate.chain.seq ?? e.event.id} e={e} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {hasMore && (
        <button type="button" onClick={more}>
          Older events
        </button>
      )}
    </Card>
  );
}

function EventRow({ e }: { e: AdminRecordView }) {
  const labels = Object.entries(e.tollgate.labels).filter(([k]) => k !== 'status');
  const diff = Array.isArray(e.tollgate.diff) ? (e.tollgate.diff as DiffEntry[]) : [];
  const status = e.tollgate.labels.status;
  return (
    <tr data-action={e.event.action} data-seq={e.tollgate.chain.seq ?? undefined}>
      <td class="small" title={e['@timestamp']}>
        <span class="mono">{fmtTime(e['@timestamp'])}</span>
        <div class="muted">{fmtDateTime(e['@timestamp']).slice(0, 10)}</div>
      </td>
      <td>
        <strong>{e.user.name}</strong>
        {e.user.roles.length > 0 && <div class="small muted">{e.user.roles.join(' → ')}</div>}
      </td>
      <td class="mono small">{e.source.address ?? '–'}</td>
      <td>
        <span class="action">{e.event.action}</span>
        {e.http.request.method !== null && (
          <div class="mono small">
            {e.http.request.method} {e.url.path}
          </div>
        )}
        {labels.length > 0 && (
          <div class="small muted labels">{labels.map(([k, v]) => `${k}=${fmtValue(v)}`).join(' ')}</div>
        )}
        {diff.length > 0 && <Diff entries={diff} />}
      </td>
      <td>
        <Badge kind={e.event.outcome === 'success' ? 'good' : 'bad'}>
          {e.event.outcome}
          {status !== undefined && status !== null ? ` ${status}` : ''}
        </Badge>
        {e.event.reason !== null && <div class="small">{e.event.reason}</div>}
      </td>
    </tr>
  );
}

/** `tollgate.diff` as lines a person reads: path, then before → after. */
function Diff({ entries }: { entries: DiffEntry[] }) {
  return (
    <ul class="diff" aria-label="Changes">
      {entries.slice(0, 50).map((d, i) => (
        <li key={`${i}-${d.path}`} class={`diff-${d.kind}`}>
          <code>{d.path}</code>{' '}
          {d.kind === 'added' ? (
            <>
              added <ins>{fmtValue(d.after)}</ins>
            </>
          ) : d.kind === 'removed' ? (
            <>
              removed <del>{fmtValue(d.before)}</del>
            </>
          ) : (
            <>
              <del>{fmtValue(d.before)}</del> → <ins>{fmtValue(d.after)}</ins>
            </>
          )}
        </li>
      ))}
      {entries.length > 50 && <li class="muted">… {entries.length - 50} more</li>}
    </ul>
  );
}
