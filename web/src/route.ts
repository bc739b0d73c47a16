import { useEffect, useState } from 'preact/hooks';

/** Hash routes (`#/live?status=5xx`), so the admin server only ever serves `/`. */
export type View = 'overview' | 'live' | 'request' | 'errors' | 'alerts' | 'audit' | 'fleet';

export interface Route {
  view: View;
  /** The request id of `#/requests/ID`. */
  id: string | null;
  query: URLSearchParams;
}

const VIEWS: Record<string, View> = {
  overview: 'overview',
  live: 'live',
  requests: 'request',
  errors: 'errors',
  alerts: 'alerts',
  audit: 'audit',
  fleet: 'fleet',
};

export function parseRoute(hash: string): Route {
  const text = hash.replace(/^#\/?/, '');
  const q = text.indexOf('?');
  const path = q < 0 ? text : text.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : text.slice(q + 1));
  const [head = '', rest = ''] = path.split('/', 2);
  const view = VIEWS[head] ?? 'overview';
  if (view === 'request' && rest === '') return { view: 'live', id: null, query };
  let id: string | null = null;
  if (view === 'request') {
    try {
      id = decodeURIComponent(rest);
    } catch {
      id = rest;
    }
  }
  return { view, id, query };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function requestHref(id: string): string {
  return `#/requests/${encodeURIComponent(id)}`;
}

export function go(href: string): void {
  location.hash = href.replace(/^#/, '');
}
