/** A file sink's name (its cursor key): `jsonl:/path`, `combined:/path`, or `stdout`. */
export function fileSinkName(type: 'jsonl' | 'combined' | 'stdout', file: string | null): string {
  return type === 'stdout' ? 'stdout' : `${type}:${file}`;
}

/**
 * A network sink's name: the key of its cursor in the store. The shipper names its sinks with
 * this, and the writer reads the same names so retention never prunes a record a configured sink
 * has not confirmed yet.
 */
export function networkSinkName(type: string, o: Record<string, unknown>): string {
  if (type === 'syslog') {
    const address = String(o.address);
    const colon = address.lastIndexOf(':');
    const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
    return `syslog:${String(o.protocol ?? 'tcp')}://${host.includes(':') ? `[${host}]` : host}:${address.slice(colon + 1)}`;
  }
  if (type === 'otlp') {
    const u = new URL(String(o.endpoint));
    return `otlp:${u.origin}${u.pathname}`;
  }
  const u = new URL(String(o.url));
  return `postgres://${u.host}${u.pathname}#${String(o.table ?? 'tollgate_records')}`;
}
