import { useState } from 'preact/hooks';
import type { AlertItem, Page, Whoami } from '../../../src/core/api-types.js';
import { api, enc } from '../api.js';
import { fmtAgo, fmtDateTime, fmtMs } from '../format.js';
import { useNow, usePoll } from '../hooks.js';
import { notify } from '../notify.js';
import { requestHref } from '../route.js';
import { Badge, Card, Empty, PollState } from '../ui.js';

export function AlertsView({ me }: { me: Whoami }) {
  const alerts = usePoll(() => api<Page<AlertItem>>('alerts'), 3000, []);
  const now = useNow(5000);
  const items = alerts.data?.items ?? [];
  const active = items.filter((a) => a.status !== 'resolved');
  const resolved = items.filter((a) => a.status === 'resolved');
  return (
    <>
      <div class="view-head">
        <h1 tabIndex={-1}>Alerts</h1>
      </div>
      <PollState of={alerts} what="the alerts" loading="alerts" />
      {alerts.data !== null && (
        <>
          <Card title={`Firing and pending (${active.length})`} id="active-title">
            {active.length === 0 ? (
              <Empty>Nothing is firing or pending. Rules are evaluated every second.</Empty>
            ) : (
              active.map((a) => (
                <AlertCard
                  key={a.id}
                  a={a}
                  now={now}
                  canSilence={me.can.silence}
                  onChanged={alerts.refresh}
                />
              ))
            )}
          </Card>
          <Card title={`Resolved (${resolved.length})`} id="resolved-title">
            {resolved.length === 0 ? (
              <Empty>No alert has resolved since Tollgate started.</Empty>
            ) : (
              <div class="scroll">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Rule</th>
                      <th scope="col">What</th>
                      <th scope="col">Fired</th>
                      <th scope="col">Resolved</th>
                      <th scope="col">Owner</th>
                    </tr>
                  </thead>
                  <tbody>
                    {resolved.map((a) => (
                      <tr key={a.id}>
                        <td>
                          <strong>{a.rule}</strong>
                        </td>
                        <td>{a.summary}</td>
                        <td class="small">{a.fired_at === null ? '–' : fmtDateTime(a.fired_at)}</td>
                        <td class="small">{a.resolved_at === null ? '–' : fmtDateTime(a.resolved_at)}</td>
                        <td>{a.owner ?? '–'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Card>
        </>
      )}
    </>
  );
}

function AlertCard({
  a,
  now,
  canSilence,
  onChanged,
}: {
  a: AlertItem;
  now: number;
  canSilence: boolean;
  onChanged: () => void;
}) {
  const silenced = a.silenced_until !== null && Date.parse(a.silenced_until) > now;
  return (
    <article class={`alert ${a.status}`} data-alert={a.id} aria-labelledby={`alert-${a.id}`}>
      <header>
        <h3 id={`alert-${a.id}`}>
          <Badge kind={a.status === 'firing' ? 'bad' : 'warn'}>{a.status}</Badge> {a.rule}{' '}
          <span class="muted small">({a.when})</span>
          {silenced && (
            <>
              {' '}
              <Badge kind="muted">silenced until {fmtDateTime(a.silenced_until!)}</Badge>
            </>
          )}
        </h3>
        <p class="alert-summary">{a.summary}</p>
      </header>
      <dl class="facts inline">
        <div>
          <dt>Value</dt>
          <dd>
            {a.value_text}
            {a.threshold !== null && <span class="muted"> (threshold {a.threshold})</span>}
          </dd>
        </div>
        <div>
          <dt>Key</dt>
          <dd class="mono">{a.key}</dd>
        </div>
        <div>
          <dt>Window</dt>
          <dd>
            {a.window}
            {!/^0(\D|$)/.test(a.for) && `, for ${a.for}`}
          </dd>
        </div>
        <div>
          <dt>Owner</dt>
          <dd>{a.owner ?? '–'}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd title={a.started_at}>{fmtAgo(a.started_at, now)}</dd>
        </div>
        {a.fired_at !== null && (
          <div>
            <dt>Fired</dt>
            <dd title={a.fired_at}>{fmtAgo(a.fired_at, now)}</dd>
          </div>
        )}
      </dl>
      {a.samples.length > 0 && (
        <div class="alert-samples">
          <h4>Sample requests</h4>
          <ul>
            {a.samples.map((s) => (
              <li key={s.request_id}>
                <a href={requestHref(s.request_id)} class="mono small">
                  {s.request_id}
                </a>{' '}
                {s.status} {s.termination} {s.backend ?? ''} {fmtMs(s.duration_ms)} from {s.client}
                {s.error !== null && <div class="small muted">{s.error}</div>}
              </li>
            ))}
          </ul>
        </div>
      )}
      {a.errors.length > 0 && (
        <div class="alert-samples">
          <h4>Latest errors</h4>
          <ul class="small">
            {a.errors.map((e) => (
              <li key={e}>{e}</li>
            ))}
          </ul>
        </div>
      )}
      {a.top_clients.length > 0 && (
        <p class="small">
          Top clients:{' '}
          {a.top_clients.map((c) => (
            <span key={c.key} class="mono">
              {c.key} ({c.requests} req, {c.errors} err){' '}
            </span>
          ))}
        </p>
      )}
      {canSilence && <SilenceForm a={a} onChanged={onChanged} />}
    </article>
  );
}

function SilenceForm({ a, onChanged }: { a: AlertItem; onChanged: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const data = new FormData(e.target as HTMLFormElement);
    const reason = String(data.get('reason') ?? '').trim();
    if (reason === '') {
      setError('Say why it is silenced; the reason is on the record.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api(`alerts/${enc(a.id)}/silence`, { method: 'POST', body: { for: data.get('for'), reason } });
      notify('ok', `Silenced ${a.rule}; recorded in the audit trail.`, { href: '#/audit', label: 'See it' });
      onChanged();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="silence" onSubmit={submit} aria-label={`Silence ${a.rule}`}>
      <label>
        <span>Silence for</span>
        <select name="for">
          <option value="15m">15 min</option>
          <option value="1h">1 hour</option>
          <option value="4h">4 hours</option>
          <option value="24h">1 day</option>
        </select>
      </label>
      <label class="grow">
        <span>Reason</span>
        <input name="reason" placeholder="why (on the record)" autocomplete="off" />
      </label>
      <button type="submit" disabled={busy}>
        Silence
      </button>
      {error !== null && (
        <p class="state failed" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
