import type { ApiErrorBody } from '../../src/core/api-types.js';

/**
 * Every figure on the page comes from the admin API (`/api/v1`) with the token the person
 * signed in with. The token lives in sessionStorage: it is gone when the tab closes and no other
 * tab or site sees it. Paths are relative, so the page also works behind a path prefix.
 */

const KEY = 'tollgate.token';

export class ApiFailure extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiFailure';
    this.status = status;
    this.code = code;
  }
}

let token: string | null = sessionStorage.getItem(KEY);
const signedOut = new Set<(reason: string) => void>();

export const session = {
  get token(): string | null {
    return token;
  },
  set(t: string): void {
    token = t;
    sessionStorage.setItem(KEY, t);
  },
  clear(): void {
    token = null;
    sessionStorage.removeItem(KEY);
  },
  /** Called when the API refuses the token mid-session (revoked, expired). */
  onSignedOut(fn: (reason: string) => void): () => void {
    signedOut.add(fn);
    return () => signedOut.delete(fn);
  },
};

export function authHeaders(t: string | null = token): Record<string, string> {
  return t === null ? {} : { authorization: `Bearer ${t}` };
}

/** The API's own sentence for a refusal, or one that says what to check. */
export async function failureOf(res: Response): Promise<ApiFailure> {
  let body: Partial<ApiErrorBody> | null = null;
  try {
    body = (await res.json()) as Partial<ApiErrorBody>;
  } catch {
    body = null;
  }
  const message =
    typeof body?.message === 'string'
      ? body.message
      : `the admin API answered ${res.status} ${res.statusText}`;
  return new ApiFailure(
    res.status,
    typeof body?.error === 'string' ? body.error : `http_${res.status}`,
    message,
  );
}

export function networkFailure(err: unknown): ApiFailure {
  return new ApiFailure(
    0,
    'network',
    `Tollgate's admin API did not answer (${err instanceof Error ? err.message : String(err)}). Is it running?`,
  );
}

export interface CallOptions {
  method?: 'GET' | 'POST';
  body?: unknown;
  /** Sign in: try this token instead of the session's, and do not sign out on 401. */
  token?: string;
}

export async function api<T>(path: string, o: CallOptions = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`api/v1/${path}`, {
      method: o.method ?? 'GET',
      headers: {
        accept: 'application/json',
        ...authHeaders(o.token ?? token),
        ...(o.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
      cache: 'no-store',
    });
  } catch (err) {
    throw networkFailure(err);
  }
  if (!res.ok) {
    const f = await failureOf(res);
    if (res.status === 401 && o.token === undefined && token !== null) {
      session.clear();
      for (const fn of signedOut) fn(f.message);
    }
    throw f;
  }
  return (await res.json()) as T;
}

export const enc = encodeURIComponent;
