import { ErrorCode, parseDuration, TollgateError } from '../core/index.js';
import { cidrMatches, parseClientIp } from './client-ip.js';
import type { QueryFilters, StoredRow } from './types.js';

/**
 * The query filters of SPEC §1 as text, the way `tollgate query` flags and the admin API's
 * query strings carry them; `parseFilters` turns them into `QueryFilters` (one grammar for both).
 */
export interface FilterText {
  since?: string | undefined;
  until?: string | undefined;
  status?: string | undefined;
  clientIp?: string | undefined;
  user?: string | undefined;
  route?: string | undefined;
  backend?: string | undefined;
  termination?: string | undefined;
  requestId?: string | undefined;
}

/** Every filter, in the order commands and the API list them. */
export const FILTER_KEYS = [
  'since',
  'until',
  'status',
  'clientIp',
  'user',
  'route',
  'backend',
  'termination',
  'requestId',
] as const satisfies readonly (keyof FilterText)[];

/** How a filter is called where it came from: `--client-ip` on the command line, `client_ip` in a URL. */
export type FilterName = (key: keyof FilterText) => string;

export const flagName: FilterName = (key) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
export const paramName: FilterName = (key) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function usage(message: string): TollgateError {
  return new TollgateError(ErrorCode.USAGE, message, { source: 'usage' });
}

/** "1h" (ago) or an ISO date → epoch ms. */
export function parseTime(label: string, value: string, now: number): number {
  if (/^\d+(\.\d+)?(ms|s|m|h|d)$/.test(value)) {
    try {
      return now - parseDuration(value);
    } catch (err) {
      throw usage(`${label}: ${(err as Error).message}`);
    }
  }
  const t = Date.parse(value);
  if (Number.isNaN(t))
    throw usage(`${label}: "${value}" is neither a duration (1h, 30m, 7d) nor a date (2026-11-25T10:00:00Z)`);
  return t;
}

/** "5xx" → 500..599, "404" → 404..404. */
export function parseStatus(label: string, value: string): { min: number; max: number } {
  const cls = /^([1-5])xx$/i.exec(value);
  if (cls !== null) return { min: Number(cls[1]) * 100, max: Number(cls[1]) * 100 + 99 };
  if (/^\d{3}$/.test(value)) return { min: Number(value), max: Number(value) };
  throw usage(`${label}: "${value}" is not a status (404) or a class (5xx)`);
}

/** Parses and checks every filter; a bad one is a TG_ERR_USAGE naming it the way the caller spelled it. */
export function parseFilters(t: FilterText, now: number, name: FilterName): QueryFilters {
  const f: QueryFilters = {};
  if (t.since !== undefined) f.since = parseTime(name('since'), t.since, now);
  if (t.until !== undefined) f.until = parseTime(name('until'), t.until, now);
  if (t.status !== undefined) f.status = parseStatus(name('status'), t.status);
  if (t.clientIp !== undefined) {
    try {
      parseClientIp(t.clientIp);
    } catch {
      throw usage(`${name('clientIp')}: "${t.clientIp}" is not an IP address or CIDR range`);
    }
    f.clientIp = t.clientIp;
  }
  if (t.user !== undefined) f.user = t.user;
  if (t.route !== undefined) f.route = t.route;
  if (t.backend !== undefined) f.backend = t.backend;
  if (t.termination !== undefined) f.termination = t.termination;
  if (t.requestId !== undefined) f.requestId = t.requestId;
  return f;
}

/**
 * The same filters as a predicate over one stored request row, for following live records
 * (the admin stream) where the rows arrive one by one rather than through an index.
 */
export function rowMatcher(f: QueryFilters): (row: StoredRow) => boolean {
  const ip = f.clientIp === undefined ? null : parseClientIp(f.clientIp);
  return (r) => {
    if (r.kind !== 'request') return false;
    if (f.since !== undefined && r.ts < f.since) return false;
    if (f.until !== undefined && r.ts >= f.until) return false;
    if (f.status !== undefined && (r.status === null || r.status < f.status.min || r.status > f.status.max))
      return false;
    if (ip !== null) {
      if (r.clientIp === null) return false;
      if (ip.type === 'exact' ? r.clientIp !== ip.address : !cidrMatches(ip.list, r.clientIp)) return false;
    }
    if (f.user !== undefined && r.userName !== f.user) return false;
    if (f.route !== undefined && r.route !== f.route) return false;
    if (f.backend !== undefined && r.backend !== f.backend) return false;
    if (f.termination !== undefined && r.termination !== f.termination) return false;
    if (f.requestId !== undefined && r.requestId !== f.requestId) return false;
    return true;
  };
}
