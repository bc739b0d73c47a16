import type { RequestRecord } from './record.js';

/**
 * The NCSA combined log format, for classic tools (goaccess, awstats):
 *   client - user [25/Nov/2026:15:16:52 +0000] "GET /path?q HTTP/1.1" 200 199 "referer" "user-agent"
 * Control characters, non-ASCII bytes, `"` and `\` are written as \xHH, so no value can forge a
 * line or a field (SPEC §6). Times are UTC, the time the request was received. Built from the
 * record (already redacted), so it shows exactly what the trail holds.
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

function clf(iso: string): string {
  const d = new Date(iso);
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

function field(v: string | null | undefined): string {
  return v === undefined || v === null || v === '' ? '-' : escapeCombined(v);
}

export function combinedLine(r: RequestRecord): string {
  const target = r.url.query === null ? r.url.path : `${r.url.path}?${r.url.query}`;
  const method = r.http.request.method;
  const request = method === '' ? '-' : `${escapeCombined(method)} ${escapeCombined(target)} HTTP/1.1`;
  const h = r.http.request.header;
  return `${escapeCombined(r.client.address)} - ${field(r.user.name)} [${clf(r.event.start)}] "${request}" ${r.http.response.status_code} ${r.http.response.body.size} "${field(h.referer)}" "${field(h['user-agent'] ?? r.user_agent.original)}"`;
}
