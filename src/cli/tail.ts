import http from 'node:http';
import https from 'node:https';
import type { RequestRecord } from '../audit/index.js';
import { ErrorCode, TollgateError } from '../core/index.js';
import type { FilterText } from '../store/index.js';
import { FILTER_KEYS, flagName, paramName, parseFilters } from '../store/index.js';
import { printable } from './format.js';

export interface TailOptions extends FilterText {
  admin?: string;
  token?: string;
  events?: boolean;
  format: string;
}

function usage(message: string): TollgateError {
  return new TollgateError(ErrorCode.USAGE, message, { source: 'usage' });
}

function line(kind: string, data: string, format: string): string {
  if (format === 'json') return `${data}\n`;
  const r = JSON.parse(data) as Record<string, unknown>;
  if (kind === 'admin') {
    const e = r as {
      '@timestamp': string;
      event: { action: string; outcome: string; reason: string | null };
      user: { name: string };
      source: { address: string | null };
      url: { path: string | null };
    };
    const cells = [
      e['@timestamp'],
      'admin',
      e.event.action,
      e.event.outcome,
      e.user.name,
      e.source.address ?? '-',
      e.url.path ?? '-',
      e.event.reason ?? '',
    ];
    return `${cells.map(printable).join('  ')}\n`;
  }
  const q = r as unknown as RequestRecord;
  const cells = [
    q.event.start,
    String(q.http.response.status_code),
    q.http.request.method,
    q.url.query === null ? q.url.path : `${q.url.path}?${q.url.query}`,
    q.client.address,
    q.user.name ?? '-',
    q.tollgate.route ?? '-',
    q.tollgate.backend.name ?? '-',
    q.tollgate.termination,
    `${(q.event.duration / 1e6).toFixed(1)}ms`,
    q.http.request.id,
  ];
  return `${cells.map(printable).join('  ')}\n`;
}

/**
 * `tollgate tail`: follows `GET /api/v1/stream` and prints each record as it is committed. After
 * a dropped connection it reconnects with `Last-Event-ID`, so nothing committed in between is
 * missed. A refusal (401, 403, 429, a bad filter) ends it with the API's message.
 */
export async function tailCommand(o: TailOptions): Promise<void> {
  if (!['table', 'json'].includes(o.format)) throw usage(`--format: "${o.format}" is not one of table, json`);
  const base = o.admin ?? process.env.TOLLGATE_ADMIN_URL;
  const token = o.token ?? process.env.TOLLGATE_TOKEN;
  if (base === undefined || base === '')
    throw usage('no admin API: pass --admin URL or set TOLLGATE_ADMIN_URL');
  if (token === undefined || token === '') throw usage('no token: pass --token TOKEN or set TOLLGATE_TOKEN');
  parseFilters(o, Date.now(), flagName); // a bad filter is a clear local error
  let url: URL;
  try {
    url = new URL('/api/v1/stream', base);
  } catch {
    throw usage(`--admin: "${base}" is not a URL`);
  }
  for (const key of FILTER_KEYS) {
    const v = o[key];
    if (v !== undefined) url.searchParams.set(paramName(key), v);
  }
  if (o.events === true) url.searchParams.set('events', 'true');

  let lastId: string | null = null;
  let stopping = false;
  let current: http.ClientRequest | null = null;
  const stop = () => {
    stopping = true;
    current?.destroy();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    while (!stopping) {
      const outcome = await new Promise<'ended' | TollgateError>((resolve) => {
        const headers: Record<string, string> = {
          authorization: `Bearer ${token}`,
          accept: 'text/event-stream',
        };
        if (lastId !== null) headers['last-event-id'] = lastId;
        const get = url.protocol === 'https:' ? https.get : http.get;
        const req = get(url, { headers }, (res) => {
          res.setEncoding('utf8');
          if (res.statusCode !== 200) {
            let body = '';
            res.on('data', (c: string) => {
              body += c;
            });
            res.on('end', () => {
              let message = body.trim();
              try {
                message = (JSON.parse(body) as { message?: string }).message ?? message;
              } catch {}
              resolve(
                new TollgateError(ErrorCode.USAGE, `the admin API answered ${res.statusCode}: ${message}`, {
                  source: 'usage',
                }),
              );
            });
            return;
          }
          let buf = '';
          res.on('data', (chunk: string) => {
            buf += chunk;
            let end = buf.indexOf('\n\n');
            while (end !== -1) {
              const block = buf.slice(0, end);
              buf = buf.slice(end + 2);
              let kind = 'message';
              let data: string | null = null;
              for (const l of block.split('\n')) {
                if (l.startsWith('id: ')) lastId = l.slice(4);
                else if (l.startsWith('event: ')) kind = l.slice(7);
                else if (l.startsWith('data: ')) data = data === null ? l.slice(6) : `${data}\n${l.slice(6)}`;
              }
              if (data !== null) process.stdout.write(line(kind, data, o.format));
              end = buf.indexOf('\n\n');
            }
          });
          res.on('end', () => resolve('ended'));
          res.on('error', () => resolve('ended'));
        });
        req.on('error', (err) =>
          resolve(
            lastId === null
              ? new TollgateError(
                  ErrorCode.USAGE,
                  `cannot reach the admin API at ${url.origin}: ${err.message}`,
                  { source: 'usage' },
                )
              : 'ended',
          ),
        );
        current = req;
      });
      if (outcome instanceof TollgateError) {
        if (stopping) return;
        throw outcome;
      }
      if (!stopping) await new Promise((r) => setTimeout(r, 2000));
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
