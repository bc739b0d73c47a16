import { isIP } from 'node:net';
import type { RequestRecord } from '../audit/index.js';
import { withHash } from '../audit/index.js';
import { ErrorCode, parseDuration, TollgateError } from '../core/index.js';
import type { QueryFilters } from '../store/index.js';
import { openStore } from '../store/index.js';
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

/** "1h" (ago) or an ISO date → epoch ms. */
export function parseTime(flag: string, value: string, now: number): number {
  if (/^\d+(\.\d+)?(ms|s|m|h|d)$/.test(value)) return now - parseDuration(value);
  const t = Date.parse(value);
  if (Number.isNaN(t))
    throw usage(`${flag}: "${value}" is neither a duration (1h, 30m, 7d) nor a date (2026-11-25T10:00:00Z)`);
  return t;
}

/** "5xx" → 500..599, "404" → 404..404. */
export function parseStatus(value: string): { min: number; max: number } {
  const cls = /^([1-5])xx$/i.exec(value);
  if (cls !== null) return { min: Number(cls[1]) * 100, max: Number(cls[1]) * 100 + 99 };
  if (/^\d{3}$/.test(value)) return { min: Number(value), max: Number(value) };
  throw usage(`--status: "${value}" is not a status (404) or a class (5xx)`);
}

export function filtersFrom(o: QueryOptions, now = Date.now()): QueryFilters {
  const f: QueryFilters = {};
  if (o.since !== undefined) f.since = parseTime('--since', o.since, now);
  if (o.until !== undefined) f.until = parseTime('--until', o.until, now);
  if (o.status !== undefined) f.status = parseStatus(o.status);
  if (o.clientIp !== undefined) {
    const [ip, bits] = o.clientIp.split('/');
    if (isIP(ip ?? '') === 0 || (bits !== undefined && !/^\d{1,3}$/.test(bits)))
      throw usage(`--client-ip: "${o.clientIp}" is not an IP address or CIDR range`);
    f.clientIp = o.clientIp;
  }
  if (o.user !== undefined) f.user = o.user;
  if (o.route !== undefined) f.route = o.route;
  if (o.backend !== undefined) f.backend = o.backend;
  if (o.termination !== undefined) f.termination = o.termination;
  if (o.requestId !== undefined) f.requestId = o.requestId;
  return f;
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
