import type { RequestRecord } from '../audit/index.js';
import { ErrorCode, TollgateError } from '../core/index.js';
import { openStore } from '../store/index.js';
import { printable } from './format.js';
import type { StoreOptions } from './store-location.js';
import { storeLocation } from './store-location.js';

function ms(n: number | null): string {
  return n === null ? '-' : `${n.toFixed(n < 10 ? 2 : 1)} ms`;
}

/** The whole story of one request, in the order it happened. */
export function explainRecord(r: RequestRecord, seq: number, hash: string): string {
  const p = printable;
  const start = Date.parse(r.event.start);
  const at = (iso: string) => `+${(Date.parse(iso) - start).toFixed(0)} ms`;
  const lines: string[] = [];
  lines.push(`request ${p(r.http.request.id)}  (trace ${r.trace.id}, span ${r.span.id})`);
  lines.push(
    `received  ${r.event.start} on listener ${p(r.tollgate.listener)}: ${p(r.http.request.method)} ${p(r.server.address ?? '')}${p(r.url.path)}${r.url.query === null ? '' : `?${p(r.url.query)}`}`,
  );
  lines.push(
    `          from ${r.client.address}${r.client.port === null ? '' : `:${r.client.port}`} (TCP peer ${r.network.peer.address}:${r.network.peer.port ?? '-'}), user agent ${p(r.user_agent.original ?? '-')}`,
  );
  if (r.tls.protocol.version !== null)
    lines.push(
      `          over ${r.tls.protocol.version} ${r.tls.cipher ?? ''}${r.tls.server_name === null ? '' : ` (SNI ${p(r.tls.server_name)})`}`,
    );
  lines.push(
    `identified as ${r.user.name === null ? 'anonymous' : `${p(r.user.name)} (${r.tollgate.identity.method})`}`,
  );
  if (r.tollgate.route === null) lines.push('routed    nowhere: no route matched');
  else
    lines.push(
      `routed    to route ${p(r.tollgate.route)}, pool ${p(r.tollgate.pool ?? '-')}, owner ${p(r.tollgate.owner ?? '-')}${r.tollgate.tags === null ? '' : `, tags ${p(JSON.stringify(r.tollgate.tags))}`}`,
    );
  r.tollgate.attempts.forEach((a, i) => {
    lines.push(
      `attempt ${i + 1} ${at(a.start)}  ${p(a.backend)} (${a.address}): connect ${ms(a.connect_ms)}, took ${ms(a.duration_ms)}, ` +
        `${a.status_code === null ? 'no status' : `status ${a.status_code}`}, ${a.termination}${a.error === null ? '' : ` — ${p(a.error)}`}`,
    );
  });
  const t = r.tollgate.timings;
  lines.push(
    `responded ${r.http.response.status_code} with ${r.http.response.body.size} bytes (request body ${r.http.request.body.size} bytes)${r.tollgate.backend.name === null ? '' : ` from ${p(r.tollgate.backend.name)}`}`,
  );
  lines.push(
    `          timings: queue ${ms(t.queue)}, connect ${ms(t.connect)}, upstream headers ${ms(t.upstream_headers)}, upstream total ${ms(t.upstream_total)}`,
  );
  lines.push(
    `completed ${r.event.end}, ${(r.event.duration / 1e6).toFixed(2)} ms in all: ${r.tollgate.termination}${r.error.message === null ? '' : ` — ${p(r.error.message)}`}`,
  );
  lines.push('alerts    none (alert rules arrive with the metrics and alerts issue)');
  lines.push(`recorded  by ${p(r.tollgate.instance)} at chain seq ${seq}, hash ${hash}`);
  return `${lines.join('\n')}\n`;
}

export function explainCommand(id: string, o: StoreOptions): void {
  const store = openStore(storeLocation(o).storePath, { readonly: true });
  try {
    const rows = store.byRequestId(id);
    if (rows.length === 0)
      throw new TollgateError(ErrorCode.USAGE, `no record with request id ${id}`, { source: 'usage' });
    process.stdout.write(
      rows.map((row) => explainRecord(JSON.parse(row.rec) as RequestRecord, row.seq, row.hash)).join('\n'),
    );
  } finally {
    store.close();
  }
}
