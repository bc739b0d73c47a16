import type { RequestOutcome } from '../core/index.js';
import { redactQuery } from './redact.js';

/**
 * The NCSA combined log format, for classic tools (goaccess, awstats):
 *   client - user [25/Nov/2026:15:16:52 +0000] "GET /path?q HTTP/1.1" 200 199 "referer" "user-agent"
 * Control characters, non-ASCII bytes, `"` and `\` are written as \xHH, so no value can forge a
 * line or a field (SPEC §6). Times are UTC.
 */
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE = /[\x00-\x1f\x7f-\uffff"\\]/g;

function hex(c: string): string {
  const code = c.charCodeAt(0);
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`;
  let out = '';
  for (const b of Buffer.from(c, 'utf8')) out += `\\x${b.toString(16).padStart(2, '0')}`;
  return out;
}

export function escapeCombined(value: string): string {
  return value.replace(UNSAFE, hex);
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function clf(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

function header(o: RequestOutcome, name: string): string {
  const v = o.requestHeaders[name];
  if (v === undefined) return '-';
  return escapeCombined(Array.isArray(v) ? v.join(', ') : v);
}

export function combinedLine(o: RequestOutcome, redactQueryParams: ReadonlySet<string>): string {
  const query = redactQuery(o.query, redactQueryParams);
  const target = query === null ? o.path : `${o.path}?${query}`;
  const request = o.method === '' ? '-' : `${escapeCombined(o.method)} ${escapeCombined(target)} HTTP/1.1`;
  const user = o.userName === null ? '-' : escapeCombined(o.userName);
  return `${escapeCombined(o.clientAddress)} - ${user} [${clf(o.startMs)}] "${request}" ${o.statusCode} ${o.responseBodySize} "${header(o, 'referer')}" "${header(o, 'user-agent')}"`;
}
