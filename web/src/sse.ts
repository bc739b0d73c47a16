import { authHeaders, failureOf, networkFailure, session } from './api.js';

/**
 * `GET /api/v1/stream` read with fetch(): EventSource cannot send the Authorization header. The
 * body is parsed as Server-Sent Events (id, event, data, retry; comments ignored); after a
 * dropped connection it reconnects with `Last-Event-ID`, so nothing is missed or repeated.
 */

export type StreamState =
  | { kind: 'connecting' }
  | { kind: 'live' }
  | { kind: 'retrying'; inMs: number; reason: string }
  | { kind: 'failed'; reason: string };

export interface StreamHandlers {
  onEvent(event: string, data: string, id: string | null): void;
  onState(state: StreamState): void;
}

export function openStream(query: string, lastId: string | null, h: StreamHandlers): () => void {
  const abort = new AbortController();
  let last = lastId;
  let retryMs = 2000;

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      abort.signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      });
    });

  const run = async () => {
    while (!abort.signal.aborted) {
      h.onState({ kind: 'connecting' });
      let reason = 'the stream ended';
      try {
        const res = await fetch(`api/v1/stream${query === '' ? '' : `?${query}`}`, {
          headers: {
            accept: 'text/event-stream',
            ...authHeaders(session.token),
            ...(last === null ? {} : { 'last-event-id': last }),
          },
          cache: 'no-store',
          signal: abort.signal,
        });
        if (!res.ok) {
          const f = await failureOf(res);
          if (res.status >= 400 && res.status < 500) {
            h.onState({ kind: 'failed', reason: f.message });
            return;
          }
          throw f;
        }
        h.onState({ kind: 'live' });
        const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        let id: string | null = null;
        let event = 'message';
        let data: string[] = [];
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let nl = buf.indexOf('\n');
          while (nl >= 0) {
            let line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            nl = buf.indexOf('\n');
            if (line.endsWith('\r')) line = line.slice(0, -1);
            if (line === '') {
              if (id !== null) last = id;
              if (data.length > 0) h.onEvent(event, data.join('\n'), id);
              id = null;
              event = 'message';
              data = [];
              continue;
            }
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            let v = colon < 0 ? '' : line.slice(colon + 1);
            if (v.startsWith(' ')) v = v.slice(1);
            if (field === 'id') id = v;
            else if (field === 'event') event = v;
            else if (field === 'data') data.push(v);
            else if (field === 'retry' && /^\d+$/.test(v)) retryMs = Number(v);
          }
        }
      } catch (err) {
        if (abort.signal.aborted) return;
        reason =
          err instanceof Error && err.name === 'ApiFailure' ? err.message : networkFailure(err).message;
      }
      if (abort.signal.aborted) return;
      h.onState({ kind: 'retrying', inMs: retryMs, reason });
      await wait(retryMs);
    }
  };
  void run();
  return () => abort.abort();
}
