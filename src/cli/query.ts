import type { RequestRecord } from '../audit/index.js';
import { withHash } from '../audit/index.js';
import { ErrorCode, TollgateError } from '../core/index.js';
import type { QueryFilters } from '../store/index.js';
import { flagName, openStore, parseFilters } from '../store/index.js';
import { csv, printable, table } from './format.js';
import type { StoreOptions } from './store-location.js';
import { storeLocation } from './store-location.js';

export interface QueryOptions extends StoreOptions {
  since?: string;
  until?: string;
  status?: string;
  clientIp?: string;
  user?: string;
  route?: string;
  backend?: string;
  termination?: string;
  requestId?: string;
  format: string;
  limit: string;
}

function usage(message: string): TollgateError {
  return new TollgateError(ErrorCode.USAGE, message, { source: 'usage' });
}

export function filtersFrom(o: QueryOptions, now = Date.now()): QueryFilters {
  return parseFilters(o, now, flagName);
}

const COLUMNS = [
  'time',
  'status',
  'method',
  'path',
  'client',
  'route',
  'backend',
  'termination',
  'ms',
  'request_id',
];

function cells(r: RequestRecord): string[] {
  return [
    r.event.start,
    String(r.http.response.status_code),
    r.http.request.method,
    r.url.query === null ? r.url.path : `${r.url.path}?${r.url.query}`,
    r.client.address,
    r.tollgate.route ?? '-',
    r.tollgate.backend.name ?? '-',
    r.tollgate.termination,
    (r.event.duration / 1e6).toFixed(1),
    r.http.request.id,
  ];
}

/** `tollgate query`: newest first. */
export function queryCommand(o: QueryOptions): void {
  if (!['table', 'json', 'csv'].includes(o.format))
    throw usage(`--format: "${o.format}" is not one of table, json, csv`);
  const limit = Number(o.limit);
  if (!Number.isInteger(limit) || limit < 1)
    throw usage(`--limit: "${o.limit}" is not a positive whole number`);
  const filters = filtersFrom(o);
  const store = openStore(storeLocation(o).storePath, { readonly: true });
  try {
    const rows = store.query(filters, limit);
    if (o.format === 'json') {
      let out = '';
      for (const r of rows) out += `${withHash(r.rec, r.hash)}\n`;
      process.stdout.write(out);
      return;
    }
    const data = rows.map((r) => cells(JSON.parse(r.rec) as RequestRecord));
    if (o.format === 'csv') process.stdout.write(csv(COLUMNS, data));
    else if (data.length === 0) process.stdout.write('no records match\n');
    else
      process.stdout.write(
        table(
          COLUMNS,
          data.map((c) => c.map(printable)),
        ),
      );
  } finally {
    store.close();
  }
}
