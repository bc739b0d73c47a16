import type { FleetAnswer, RequestRecordView, Whoami } from '../../../src/core/api-types.js';
import { api } from '../api.js';
import { fmtAgo } from '../format.js';
import { useNow, usePoll } from '../hooks.js';
import { Badge, Card, Empty, PollState } from '../ui.js';
import type { Row } from './live.js';
import { FilterForm, filterQuery, RequestTable } from './live.js';

/**
 * The fleet (issue 10): every instance with its config revision and health (`GET /api/v1/fleet`),
 * and the newest requests of all of them from the fleet's query store
 * (`GET /api/v1/requests?scope=fleet`, the postgres sink), with the live view's filters.
 */
export function FleetView({ me, query }: { me: Whoami; query: URLSearchParams }) {
  return (
    <>
      <div class="view-head">
        <h1 tabIndex={-1}>Fleet</h1>
      </div>
      <Instances />
      <FleetRequests self={me.instance} query={query} />
    </>
  );
}

function Instances() {
  const f = usePoll(() => api<FleetAnswer>('fleet'), 5000, []);
  const now = useNow(5000);
  const d = f.data;
  return (
    <Card title="Instances" id="instances-title">
      <PollState of={f} what="the fleet" />
      {d !== null && (
        <>
          <p class="small" data-fleet={d.fleet ? 'on' : 'off'}>
            {d.fleet ? (
              <>
                {d.items.length} instance{d.items.length === 1 ? '' : 's'} with a live lease; fleet config
                revision {d.config_revision ?? '–'}; etcd{' '}
                <Badge kind={d.etcd === 'up' ? 'good' : 'bad'}>{d.etcd ?? 'off'}</Badge>
              </>
            ) : (
              <>This instance is not in fleet mode (no `fleet:` in its config): it lists itself.</>
            )}
          </p>
          <div class="scroll">
            <table class="instances">
              <thead>
                <tr>
                  <th scope="col">Instance</th>
                  <th scope="col">Health</th>
                  <th scope="col" class="num">
                    Config revision
                  </th>
                  <th scope="col">Redis</th>
                  <th scope="col">Started</th>
                </tr>
              </thead>
              <tbody>
                {d.items.map((i) => (
                  <tr key={i.instance} data-instance={i.instance} data-health={i.health}>
                    <td>
                      {i.instance}
                      {i.instance === d.self && <span class="muted small"> (this one)</span>}
                    </td>
                    <td>
                      <Badge kind={i.health === 'ok' ? 'good' : 'bad'} title={i.config_error ?? undefined}>
                        {i.health}
                      </Badge>
                      {i.config_error !== null && <span class="small"> {i.config_error}</span>}
                    </td>
                    <td class="num">
                      {i.applied_revision ?? '–'}
                      {d.fleet && !i.current && <span class="small"> (behind)</span>}
                    </td>
                    <td>{i.redis ?? '–'}</td>
                    <td class="small">{fmtAgo(i.started_at, now)}</td>
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

function FleetRequests({ self, query }: { self: string; query: URLSearchParams }) {
  const filters = filterQuery(query);
  const r = usePoll(
    () =>
      api<{ items: RequestRecordView[] }>(
        `requests?scope=fleet&limit=100${filters === '' ? '' : `&${filters}`}`,
      ),
    5000,
    [filters],
  );
  const rows: Row[] = (r.data?.items ?? []).map((rec) => ({ seq: rec.tollgate.chain.seq ?? 0, r: rec }));
  return (
    <Card title="Requests across the fleet" id="fleet-requests-title">
      <p class="small muted">
        The newest 100 from the fleet's query store (the postgres sink), refreshed every 5 s; a record appears
        once its instance has shipped it. Only this instance's own requests open their story here.
      </p>
      <FilterForm query={query} base="#/fleet" />
      <PollState of={r} what="the fleet's requests" />
      {r.data !== null && rows.length === 0 && <Empty>No requests in the fleet's store match.</Empty>}
      {rows.length > 0 && <RequestTable rows={rows} self={self} />}
    </Card>
  );
}
