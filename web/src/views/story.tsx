import type { ComponentChildren } from 'preact';
import type { AttemptView, RequestRecordView } from '../../../src/core/api-types.js';
import { ApiFailure, api, enc } from '../api.js';
import { fmtBytes, fmtDateTime, fmtMs, fmtTime, isoMs, statusClass } from '../format.js';
import { usePoll } from '../hooks.js';
import { Badge, Card, Empty, Failed, Loading } from '../ui.js';

/** One request's whole story: what `tollgate explain ID` prints, drawn. */
export function StoryView({ id }: { id: string }) {
  const rec = usePoll(() => api<RequestRecordView>(`requests/${enc(id)}`), 3_600_000, [id]);
  return (
    <>
      <div class="view-head">
        <h1 tabIndex={-1}>
          Request <code class="small">{id}</code>
        </h1>
        <a class="button" href="#/live">
          Back to live requests
        </a>
      </div>
      {rec.error !== null &&
        (rec.error instanceof ApiFailure && rec.error.status === 404 ? (
          <Empty>
            No record of request <code>{id}</code>. It may not be committed yet, or retention removed it.
          </Empty>
        ) : (
          <Failed error={rec.error} what="the request" />
        ))}
      {rec.data === null && rec.error === null && <Loading what="the request" />}
      {rec.data !== null && <Story r={rec.data} />}
    </>
  );
}

function Story({ r }: { r: RequestRecordView }) {
  const t = r.tollgate;
  const ok = t.termination === 'ok';
  const status = r.http.response.status_code;
  const total = r.event.duration / 1e6;
  return (
    <div class="story">
      <section class="story-head card" aria-label="Summary">
        <p class="story-line">
          <span class="method">{r.http.request.method}</span>{' '}
          <span class="mono">
            {r.server.address ?? ''}
            {r.url.path}
            {r.url.query !== null && `?${r.url.query}`}
          </span>
        </p>
        <p class="story-line">
          <span class={`status big ${statusClass(status)}`}>{status}</span>{' '}
          <Badge kind={ok ? 'good' : 'bad'}>{t.termination}</Badge> in <strong>{fmtMs(total)}</strong>
          {t.backend.name !== null && (
            <>
              {' '}
              from <strong>{t.backend.name}</strong>
            </>
          )}
          , {t.attempts.length} attempt{t.attempts.length === 1 ? '' : 's'}
        </p>
        {r.error.message !== null && (
          <p class="diagnostic" role="note">
            <strong>{r.error.type}:</strong> {r.error.message}
          </p>
        )}
      </section>

      <Card title="Timeline" id="timeline-title">
        <Timeline r={r} />
      </Card>

      <div class="grid2">
        <Card title="Timings" id="timings-title">
          <Facts
            rows={[
              ['Queue (receive, route, select)', fmtMs(t.timings.queue)],
              ['Connect', fmtMs(t.timings.connect)],
              ['Upstream headers', fmtMs(t.timings.upstream_headers)],
              ['Upstream total', fmtMs(t.timings.upstream_total)],
              ['Whole request', fmtMs(total)],
              ['Received', fmtDateTime(r.event.start)],
              ['Completed', fmtDateTime(r.event.end)],
            ]}
          />
        </Card>
        <Card title="Identity" id="identity-title">
          <Facts
            rows={[
              ['Client', `${r.client.address}${r.client.port === null ? '' : `:${r.client.port}`}`],
              ['TCP peer', `${r.network.peer.address}:${r.network.peer.port ?? '–'}`],
              ['User', r.user.name ?? 'anonymous'],
              ['Identified by', t.identity.method],
              ['User agent', r.user_agent.original ?? '–'],
              [
                'TLS',
                r.tls.protocol.version === null
                  ? 'no (HTTP)'
                  : `${r.tls.protocol.version} ${r.tls.cipher ?? ''}${r.tls.server_name === null ? '' : ` SNI ${r.tls.server_name}`}`,
              ],
            ]}
          />
        </Card>
        <Card title="Routing and response" id="routing-title">
          <Facts
            rows={[
              ['Listener', t.listener],
              ['Route', t.route ?? 'none matched'],
              ['Pool', t.pool ?? '–'],
              ['Owner', t.owner ?? '–'],
              [
                'Tags',
                t.tags === null
                  ? '–'
                  : Object.entries(t.tags)
                      .map(([k, v]) => `${k}=${v}`)
                      .join(', '),
              ],
              ['Backend', t.backend.name === null ? '–' : `${t.backend.name} (${t.backend.address})`],
              ['Upstream status', t.upstream.status_code ?? '–'],
              [
                'Body sizes',
                `request ${fmtBytes(r.http.request.body.size)}, response ${fmtBytes(r.http.response.body.size)}`,
              ],
            ]}
          />
        </Card>
        <Card title="On the record" id="record-title">
          <Facts
            rows={[
              ['Request id', <code key="id">{r.http.request.id}</code>],
              ['Trace / span', <code key="trace">{`${r.trace.id} / ${r.span.id}`}</code>],
              ['Written by', t.instance],
              ['Chain seq', t.chain.seq ?? '–'],
              [
                'Chain hash',
                <code key="hash" class="wrap">
                  {t.chain.hash ?? '–'}
                </code>,
              ],
              ['From the CLI', <code key="cli">{`tollgate explain ${r.http.request.id}`}</code>],
            ]}
          />
        </Card>
      </div>
      <details class="raw">
        <summary>The record as stored (JSON)</summary>
        <pre>{JSON.stringify(r, null, 2)}</pre>
      </details>
    </div>
  );
}

function Facts({ rows }: { rows: readonly (readonly [string, ComponentChildren])[] }) {
  return (
    <dl class="facts">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Attempts as bars on the request's own time axis: where each started, its connect and its end. */
function Timeline({ r }: { r: RequestRecordView }) {
  const start = isoMs(r.event.start);
  const totalMs = Math.max(r.event.duration / 1e6, 0.001);
  const queue = r.tollgate.timings.queue;
  const pct = (ms: number) => `${Math.min(100, Math.max(0, (100 * ms) / totalMs)).toFixed(2)}%`;
  const attempts = r.tollgate.attempts;
  const answering = r.tollgate.backend.name;
  return (
    <div class="timeline">
      <ol class="lanes">
        <li class="lane">
          <div class="lane-label">Request</div>
          <div class="lane-track">
            <span class="bar whole" style={{ left: '0%', width: '100%' }} />
            {queue !== null && (
              <span class="bar queue" style={{ left: '0%', width: pct(queue) }} title="queue" />
            )}
          </div>
          <div class="lane-note">
            {fmtTime(r.event.start, true)} → {fmtTime(r.event.end, true)}, {fmtMs(totalMs)}
          </div>
        </li>
        {attempts.map((a, i) => (
          <Attempt
            key={`${i}-${a.start}`}
            a={a}
            n={i + 1}
            offset={isoMs(a.start) - start}
            pct={pct}
            answered={answering === a.backend && i === attempts.length - 1}
          />
        ))}
      </ol>
      {attempts.length === 0 && (
        <Empty>
          No backend was tried: the request ended before the select phase ({r.tollgate.termination}).
        </Empty>
      )}
      <p class="legend small muted">
        <span class="key queue" /> queue <span class="key connect" /> connect <span class="key ok" /> attempt{' '}
        <span class="key fail" /> failed attempt
      </p>
    </div>
  );
}

function Attempt({
  a,
  n,
  offset,
  pct,
  answered,
}: {
  a: AttemptView;
  n: number;
  offset: number;
  pct: (ms: number) => string;
  answered: boolean;
}) {
  const failed = a.termination !== 'ok' || (a.error !== null && !answered);
  const dur = a.duration_ms ?? 0;
  return (
    <li class="lane" data-attempt={n}>
      <div class="lane-label">
        Attempt {n}: <strong>{a.backend}</strong>
      </div>
      <div class="lane-track">
        <span
          class={`bar ${failed ? 'fail' : 'ok'}`}
          style={{ left: pct(offset), width: pct(Math.max(dur, 0.01)) }}
        />
        {a.connect_ms !== null && (
          <span class="bar connect" style={{ left: pct(offset), width: pct(a.connect_ms) }} />
        )}
      </div>
      <div class="lane-note">
        +{fmtMs(offset)}, {a.address}: connect {fmtMs(a.connect_ms)}, took {fmtMs(a.duration_ms)},{' '}
        {a.status_code === null ? 'no status' : `status ${a.status_code}`},{' '}
        <span class={a.termination === 'ok' ? '' : 'term-bad'}>{a.termination}</span>
        {a.error !== null && <div class="attempt-error">{a.error}</div>}
      </div>
    </li>
  );
}
