import { useMemo, useState } from 'preact/hooks';
import type {
  BackendView,
  Page,
  PoolView,
  StatsView,
  StatusView,
  Whoami,
} from '../../../src/core/api-types.js';
import { api, enc } from '../api.js';
import { Chart } from '../chart.js';
import { fmtCount, fmtDuration, fmtMs, fmtPct, fmtRate } from '../format.js';
import { usePoll } from '../hooks.js';
import { notify } from '../notify.js';
import { Badge, Card, Empty, Failed, Loading, PollState, Segmented, Stat } from '../ui.js';

type Range = '5m' | '15m' | '1h' | '6h' | '24h';
const RANGES: readonly (readonly [Range, string])[] = [
  ['5m', '5 min'],
  ['15m', '15 min'],
  ['1h', '1 hour'],
  ['6h', '6 hours'],
  ['24h', '24 hours'],
];
/** Steps of the history (1 s, 10 s, 60 s), so a chart has at most a few hundred points. */
const STEP: Record<Range, string> = { '5m': '1s', '15m': '10s', '1h': '10s', '6h': '60s', '24h': '60s' };
/** Poll about as often as a point changes. */
const EVERY: Record<Range, number> = { '5m': 2000, '15m': 5000, '1h': 10_000, '6h': 30_000, '24h': 30_000 };

interface PoolState {
  pool: PoolView;
  backends: BackendView[];
}

async function loadPools(): Promise<PoolState[]> {
  const pools = await api<Page<PoolView>>('pools');
  return Promise.all(
    pools.items.map(async (pool) => ({
      pool,
      backends: (await api<Page<BackendView>>(`pools/${enc(pool.name)}/backends`)).items,
    })),
  );
}

function sum(a: readonly number[]): number {
  let s = 0;
  for (const v of a) s += v;
  return s;
}

export function OverviewView({ me }: { me: Whoami }) {
  const [range, setRange] = useState<Range>('5m');
  const stats = usePoll(() => api<StatsView>(`stats?window=${range}&step=${STEP[range]}`), EVERY[range], [
    range,
  ]);
  const status = usePoll(() => api<StatusView>('status'), 5000, []);
  const pools = usePoll(loadPools, 3000, []);

  return (
    <>
      <div class="view-head">
        <h1 tabIndex={-1}>Overview</h1>
        <Segmented label="Time range" value={range} options={RANGES} onChange={setRange} />
      </div>
      {status.data !== null && <StatusLine s={status.data} />}
      {status.error !== null && <Failed error={status.error} what="the status" />}
      <Traffic stats={stats.data} error={stats.error} />
      <Card title="Pools and backends" id="pools-title">
        <PollState of={pools} what="the pools" loading="pools" />
        {pools.data !== null && pools.data.length === 0 && <Empty>No pools are configured.</Empty>}
        {pools.data?.map((p) => (
          <PoolTable key={p.pool.name} state={p} canDrain={me.can.drain} onChanged={pools.refresh} />
        ))}
      </Card>
    </>
  );
}

function StatusLine({ s }: { s: StatusView }) {
  const a = s.audit;
  return (
    <p class="statusline">
      <span>
        Instance <code>{s.instance}</code>, up {fmtDuration(s.uptime_s)}
      </span>
      <span>
        {s.listeners.length} listener{s.listeners.length === 1 ? '' : 's'}, {s.routes} route
        {s.routes === 1 ? '' : 's'}, {s.pools} pool{s.pools === 1 ? '' : 's'}
      </span>
      {s.workers !== null && (
        <span title={s.workers.map((w) => `worker ${w.id}: pid ${w.pid}, ${w.requests} requests`).join('\n')}>
          {s.workers.length} worker{s.workers.length === 1 ? '' : 's'} (
          {s.workers.map((w) => w.requests).join(' / ')} requests)
        </span>
      )}
      <span>{s.inflight} in flight</span>
      <span>
        Audit{' '}
        <Badge kind={a.state === 'ok' ? 'good' : 'bad'} title={a.reason ?? undefined}>
          {a.state}
        </Badge>{' '}
        {a.lost > 0 && <Badge kind="bad">{a.lost} lost</Badge>}
      </span>
    </p>
  );
}

function Traffic({ stats, error }: { stats: StatsView | null; error: Error | null }) {
  const charts = useMemo(() => {
    if (stats === null) return null;
    const n = stats.t.length;
    const ratio = (cls: keyof StatsView['by_class']) =>
      stats.by_class[cls].map((v, i) => (stats.rps[i]! > 0 ? (100 * v) / stats.rps[i]! : null));
    const total = sum(stats.rps);
    const share = (cls: keyof StatsView['by_class']) => (total > 0 ? sum(stats.by_class[cls]) / total : null);
    const last = (a: readonly (number | null)[]) => {
      for (let i = a.length - 1; i >= 0; i--) if (a[i] !== null) return a[i]!;
      return null;
    };
    const recent = stats.rps.slice(-Math.min(n, Math.max(1, Math.round(10 / stats.step_s))));
    return {
      rps: [stats.t, stats.rps],
      errors: [stats.t, ratio('5xx'), ratio('4xx'), ratio('none')],
      latency: [stats.t, stats.p50_ms, stats.p99_ms],
      now: recent.length === 0 ? 0 : sum(recent) / recent.length,
      share5: share('5xx'),
      share4: share('4xx'),
      p50: last(stats.p50_ms),
      p99: last(stats.p99_ms),
      peakP99: Math.max(0, ...stats.p99_ms.map((v) => v ?? 0)),
    };
  }, [stats]);

  if (error !== null && stats === null) return <Failed error={error} what="the traffic history" />;
  if (charts === null || stats === null) return <Loading what="traffic" />;
  const windowText = fmtDuration(stats.window_s);
  return (
    <Card
      title="Traffic"
      id="traffic-title"
      actions={
        <span class="muted small">
          {fmtCount(stats.requests)} requests in the last {windowText}, {stats.step_s} s steps; history since{' '}
          {new Date(stats.since).toLocaleTimeString()}
        </span>
      }
    >
      <div class="stats">
        <Stat label="Requests" value={fmtRate(charts.now)} hint="now" />
        <Stat label="5xx" value={fmtPct(charts.share5)} hint={`of requests, ${windowText}`} />
        <Stat label="4xx" value={fmtPct(charts.share4)} hint={`of requests, ${windowText}`} />
        <Stat
          label="p50 / p99"
          value={`${fmtMs(charts.p50)} / ${fmtMs(charts.p99)}`}
          hint="latest with traffic"
        />
      </div>
      {stats.requests === 0 && (
        <Empty>No requests in the last {windowText}. The charts fill in as traffic arrives.</Empty>
      )}
      <div class="charts">
        <Chart
          title="Requests per second"
          series={[{ label: 'requests/s', color: '#1d3557' }]}
          data={charts.rps}
          format={(v) => fmtRate(v).replace('/s', '')}
          summary={`now ${fmtRate(charts.now)}`}
        />
        <Chart
          title="Error ratio by status class"
          series={[
            { label: '5xx %', color: '#c1121f' },
            { label: '4xx %', color: '#e9a03b' },
            { label: 'no status %', color: '#6c757d', dash: true },
          ]}
          data={charts.errors}
          spanGaps
          format={(v) => `${v < 10 ? v.toFixed(1) : Math.round(v)}%`}
          summary={`5xx ${fmtPct(charts.share5)}, 4xx ${fmtPct(charts.share4)} over ${windowText}`}
        />
        <Chart
          title="Latency"
          series={[
            { label: 'p50', color: '#2a9d8f' },
            { label: 'p99', color: '#7b2cbf', dash: true },
          ]}
          data={charts.latency}
          spanGaps
          format={fmtMs}
          summary={`p99 peak ${fmtMs(charts.peakP99)}`}
        />
      </div>
    </Card>
  );
}

function stateOf(b: BackendView): { kind: string; text: string; title?: string } {
  if (b.draining === true) return { kind: 'warn', text: 'draining' };
  if (b.healthy === false)
    return {
      kind: 'bad',
      text: 'unhealthy',
      ...(b.last_check_error === null ? {} : { title: b.last_check_error }),
    };
  if (b.ejected === true) return { kind: 'bad', text: 'ejected' };
  if (b.ready === true) return { kind: 'good', text: 'ready' };
  return { kind: 'muted', text: 'unknown' };
}

function PoolTable({
  state,
  canDrain,
  onChanged,
}: {
  state: PoolState;
  canDrain: boolean;
  onChanged: () => void;
}) {
  const { pool, backends } = state;
  const [busy, setBusy] = useState<string | null>(null);
  const act = async (b: BackendView, drain: boolean) => {
    setBusy(b.name);
    try {
      await api(`pools/${enc(pool.name)}/backends/${enc(b.name)}/${drain ? 'drain' : 'undrain'}`, {
        method: 'POST',
      });
      notify(
        'ok',
        `${drain ? 'Drained' : 'Undrained'} ${pool.name}/${b.name}; recorded in the audit trail.`,
        {
          href: '#/audit',
          label: 'See it',
        },
      );
      onChanged();
    } catch (err) {
      notify('error', `Could not ${drain ? 'drain' : 'undrain'} ${b.name}: ${(err as Error).message}`);
    } finally {
      setBusy(null);
    }
  };
  return (
    <div class="pool">
      <h3>
        {pool.name} <span class="muted small">{pool.algorithm}</span>{' '}
        <Badge kind={pool.ready === 0 ? 'bad' : pool.ready < pool.backends ? 'warn' : 'good'}>
          {pool.ready}/{pool.backends} ready
        </Badge>
      </h3>
      <div class="scroll">
        <table class="backends">
          <thead>
            <tr>
              <th scope="col">Backend</th>
              <th scope="col">State</th>
              <th scope="col" class="num">
                In flight
              </th>
              <th scope="col" class="num">
                Latency (EWMA)
              </th>
              <th scope="col" class="num">
                Failures
              </th>
              {canDrain && <th scope="col">Action</th>}
            </tr>
          </thead>
          <tbody>
            {backends.map((b) => {
              const st = stateOf(b);
              return (
                <tr key={b.name} data-backend={b.name}>
                  <td>
                    <strong>{b.name}</strong> <span class="muted mono small">{b.address}</span>
                  </td>
                  <td>
                    <Badge kind={st.kind} title={st.title}>
                      {st.text}
                    </Badge>
                    {b.slow && (
                      <>
                        {' '}
                        <Badge kind="warn" title="p99 over twice its pool's median over the last minute">
                          slow
                        </Badge>
                      </>
                    )}
                    {b.last_check_error !== null && b.healthy === false && (
                      <div class="small muted">{b.last_check_error}</div>
                    )}
                  </td>
                  <td class="num">{b.inflight}</td>
                  <td class="num">{fmtMs(b.ewma_ms)}</td>
                  <td class="num">{b.consecutive_failures}</td>
                  {canDrain && (
                    <td>
                      <button
                        type="button"
                        disabled={busy === b.name}
                        aria-label={`${b.draining === true ? 'Undrain' : 'Drain'} ${b.name}`}
                        onClick={() => act(b, b.draining !== true)}
                      >
                        {b.draining === true ? 'Undrain' : 'Drain'}
                      </button>
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}
