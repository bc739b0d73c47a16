/**
 * Header rewriting between client and backend (RFC 9110 §7.6.1): hop-by-hop headers and those
 * named in Connection are dropped both ways; X-Forwarded-For/-Proto/-Host and Forwarded are
 * replaced for untrusted peers and extended for trusted ones; X-Request-Id and traceparent are
 * set by Tollgate. Upstream headers are built as a flat [name, value, …] array (undici's and
 * node's fastest form).
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
]);

/** Request headers Tollgate sets itself; the client's copies are dropped or merged. */
const REPLACED = new Set([
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'forwarded',
  'x-request-id',
  'traceparent',
  'expect',
]);

function connectionTokens(value: string | undefined): Set<string> | null {
  if (value === undefined) return null;
  // the usual values name no header: answer without splitting
  if (value.length === 10 || value.length === 5) {
    const lower = value.toLowerCase();
    if (lower === 'keep-alive' || lower === 'close') return null;
  }
  let set: Set<string> | null = null;
  for (const t of value.split(',')) {
    const token = t.trim().toLowerCase();
    if (token === '' || token === 'close' || token === 'keep-alive') continue;
    (set ??= new Set()).add(token);
  }
  return set;
}

export interface ForwardFacts {
  peerAddress: string;
  trusted: boolean;
  proto: 'http' | 'https';
  host: string | undefined;
  requestId: string;
  traceparent: string;
  /** For an Upgrade exchange (WebSocket): the Upgrade header to keep; null otherwise. */
  upgrade: string | null;
}

function formatForwardedFor(ip: string): string {
  return ip.indexOf(':') === -1 ? ip : `"[${ip}]"`;
}

/** The inside of a quoted-string (RFC 9110 §5.6.4): `"` and `\` escaped, so a Host cannot end the Forwarded parameter early. */
function quotedPairs(text: string): string {
  return text.indexOf('"') === -1 && text.indexOf('\\') === -1 ? text : text.replace(/["\\]/g, '\\$&');
}

/** Builds the headers sent to the backend from the client's raw headers. */
export function upstreamRequestHeaders(raw: readonly string[], facts: ForwardFacts): string[] {
  const out: string[] = [];
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === 'connection') connection = raw[i + 1];
  }
  const extra = connectionTokens(connection);
  let xff: string | undefined;
  let xfp: string | undefined;
  let xfh: string | undefined;
  let fwd: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || extra?.has(lower)) continue;
    if (REPLACED.has(lower)) {
      if (facts.trusted) {
        const v = raw[i + 1]!;
        if (lower === 'x-forwarded-for') xff = xff === undefined ? v : `${xff}, ${v}`;
        else if (lower === 'x-forwarded-proto') xfp ??= v;
        else if (lower === 'x-forwarded-host') xfh ??= v;
        else if (lower === 'forwarded') fwd = fwd === undefined ? v : `${fwd}, ${v}`;
      }
      continue;
    }
    out.push(name, raw[i + 1]!);
  }
  const peer = facts.peerAddress;
  out.push('x-forwarded-for', xff === undefined ? peer : `${xff}, ${peer}`);
  out.push('x-forwarded-proto', xfp ?? facts.proto);
  if (xfh !== undefined || facts.host !== undefined) out.push('x-forwarded-host', xfh ?? facts.host!);
  let element = `for=${formatForwardedFor(peer)};proto=${facts.proto}`;
  if (facts.host !== undefined) element += `;host="${quotedPairs(facts.host)}"`;
  out.push('forwarded', fwd === undefined ? element : `${fwd}, ${element}`);
  out.push('x-request-id', facts.requestId);
  out.push('traceparent', facts.traceparent);
  if (facts.upgrade !== null) out.push('connection', 'upgrade', 'upgrade', facts.upgrade);
  return out;
}

/**
 * Response headers from undici's raw Buffer pairs, without hop-by-hop ones, as a flat string
 * array for `res.writeHead`. Tollgate's own headers (x-request-id, sticky cookie) are appended.
 */
export function downstreamResponseHeaders(
  raw: readonly Buffer[],
  requestId: string,
  setCookie: string | null,
): string[] {
  // one pass converts each name and value once; headers named in Connection (rare) are taken
  // out afterwards
  const out: string[] = [];
  let extra: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) {
      if (lower === 'connection') extra = connectionTokens(raw[i + 1]!.toString('latin1')); // the last one counts
      continue;
    }
    if (lower === 'x-request-id') continue;
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  const kept = extra === null ? out : withoutNamed(out, extra);
  kept.push('x-request-id', requestId);
  if (setCookie !== null) kept.push('set-cookie', setCookie);
  return kept;
}

function withoutNamed(flat: readonly string[], names: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2)
    if (!names.has(flat[i]!.toLowerCase())) out.push(flat[i]!, flat[i + 1]!);
  return out;
}

/** Value of a cookie in a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end && header.slice(start, eq).trim() === name)
      return header.slice(eq + 1, end).trim();
    start = end + 1;
  }
  return undefined;
}
