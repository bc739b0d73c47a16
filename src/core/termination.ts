/** The termination codes of SPEC §3 and the status each one gives the client (SPEC §6). */
export const TERMINATIONS = [
  'ok',
  'client_aborted',
  'client_timeout',
  'bad_request',
  'too_large',
  'no_route',
  'auth_failed',
  'forbidden',
  'rate_limited',
  'no_healthy_backend',
  'circuit_open',
  'upstream_connect_refused',
  'upstream_connect_timeout',
  'upstream_reset',
  'upstream_response_timeout',
  'upstream_protocol_error',
  'upstream_tls_error',
  'audit_unavailable',
  'internal_error',
] as const;

export type Termination = (typeof TERMINATIONS)[number];

/** Terminations that describe a failed upstream attempt (the ones `retries.on` may name). */
export const ATTEMPT_FAILURES = [
  'upstream_connect_refused',
  'upstream_connect_timeout',
  'upstream_reset',
  'upstream_response_timeout',
  'upstream_protocol_error',
  'upstream_tls_error',
] as const;

export type AttemptFailure = (typeof ATTEMPT_FAILURES)[number];

/** The status the client gets for a termination Tollgate itself answers. `ok` passes through. */
export function statusFor(termination: Termination): number {
  switch (termination) {
    case 'ok':
      return 200;
    case 'bad_request':
      return 400;
    case 'too_large':
      return 413;
    case 'client_timeout':
      return 408;
    case 'no_route':
      return 404;
    case 'auth_failed':
      return 401;
    case 'forbidden':
      return 403;
    case 'rate_limited':
      return 429;
    case 'no_healthy_backend':
    case 'circuit_open':
    case 'audit_unavailable':
      return 503;
    case 'upstream_connect_refused':
    case 'upstream_reset':
    case 'upstream_protocol_error':
    case 'upstream_tls_error':
      return 502;
    case 'upstream_connect_timeout':
    case 'upstream_response_timeout':
      return 504;
    case 'internal_error':
      return 500;
    case 'client_aborted':
      return 499;
    default: {
      const never: never = termination;
      return never;
    }
  }
}

/** `2xx`, `4xx`, … for a status code; `none` for 0. */
export function codeClass(status: number): string {
  if (status >= 100 && status < 600) return `${Math.floor(status / 100)}xx`;
  return 'none';
}

export function isTermination(value: string): value is Termination {
  return (TERMINATIONS as readonly string[]).includes(value);
}
