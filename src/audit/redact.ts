/**
 * Redaction compiled from the audit plan: captured headers whose names are listed become
 * `REDACTED`, and so do the values of listed query parameters. Applied when the record is built,
 * so no secret reaches a record, a sink or a log.
 */
export const REDACTED = 'REDACTED';

export interface Redaction {
  readonly captureHeaders: readonly string[];
  readonly redactHeaders: ReadonlySet<string>;
  readonly redactQueryParams: ReadonlySet<string>;
}

export function captureHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  r: Redaction,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of r.captureHeaders) {
    const v = headers[name];
    if (v === undefined) continue;
    out[name] = r.redactHeaders.has(name) ? REDACTED : Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** "a=1&token=abc" → "a=1&token=REDACTED" for a listed `token` (names compared case-insensitively). */
export function redactQuery(query: string | null, names: ReadonlySet<string>): string | null {
  if (query === null || names.size === 0 || query === '') return query;
  let changed = false;
  const parts = query.split('&');
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const eq = p.indexOf('=');
    const rawName = eq === -1 ? p : p.slice(0, eq);
    let name: string;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' ')).toLowerCase();
    } catch {
      name = rawName.toLowerCase();
    }
    if (names.has(name)) {
      parts[i] = `${rawName}=${REDACTED}`;
      changed = true;
    }
  }
  return changed ? parts.join('&') : query;
}
