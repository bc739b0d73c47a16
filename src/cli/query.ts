import type { CentralRow, RequestRecord } from '../audit/index.js';
import { CentralStore, withHash } from '../audit/index.js';
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
  /** `postgres://…`: the central store of a fleet instead of this data dir's. */
  store?: string;
  table?: string;
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
/** `tollgate query --store postgres://…`: the same filters over every instance's records in the central store. */
async function queryCentral(o: QueryOptions, filters: QueryFilters, limit: number): Promise<void> {
  const url = o.store!;
  if (!/^postgres(ql)?:\/\//.test(url)) throw usage(`--store: "${url}" is not a postgres:// URL`);
  const table = o.table ?? 'tollgate_records';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(table)) throw usage(`--table: "${table}" is not a table name`);
  const central = new CentralStore(url, table);
  let rows: CentralRow[];
  try {
    rows = await central.query(filters, limit);
  } catch (err) {
    throw new TollgateError(ErrorCode.USAGE, `cannot query ${new URL(url).host}: ${(err as Error).message}`, {
      source: 'usage',
    });
  } finally {
    await central.close();
  }
  print(
    o.format,
    rows.map((r) => ({ rec: r.record, hash: null })),
  );
}

function print(format: string, rows: { rec: string; hash: string | null }[]): void {
  if (format === 'json') {
    let out = '';
    for (const r of rows) out += `${r.hash === null ? r.rec : withHash(r.rec, r.hash)}\n`;
    process.stdout.write(out);
    return;
  }
  const data = rows.map((r) => cells(JSON.parse(r.rec) as RequestRecord));
  if (format === 'csv') process.stdout.write(csv(COLUMNS, data));
  else if (data.length === 0) process.stdout.write('no records match\n');
  else
    process.stdout.write(
      table(
        COLUMNS,
        data.map((c) => c.map(printable)),
      ),
    );
}

export async function queryCommand(o: QueryOptions): Promise<void> {
  if (!['table', 'json', 'csv'].includes(o.format))
    throw usage(`--format: "${o.format}" is not one of table, json, csv`);
  const limit = Number(o.limit);
  if (!Number.isInteger(limit) || limit < 1)
    throw usage(`--limit: "${o.limit}" is not a positive whole number`);
  const filters = filtersFrom(o);
  if (o.store !== undefined) return queryCentral(o, filters, limit);
  const store = openStore(storeLocation(o).storePath, { readonly: true });
  try {
    print(o.format, store.query(filters, limit));
  } finally {
    store.close();
  }
}
