import type { AttemptFailure } from '../core/index.js';

/** Maps an undici / socket error of one attempt to its termination code. */
export function classifyUpstreamError(err: Error & { code?: string }, connected: boolean): AttemptFailure {
  const code = err.code ?? '';
  switch (code) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EADDRNOTAVAIL':
      return 'upstream_connect_refused';
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'upstream_connect_timeout';
    case 'ETIMEDOUT':
      return connected ? 'upstream_response_timeout' : 'upstream_connect_timeout';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'upstream_response_timeout';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return connected ? 'upstream_reset' : 'upstream_connect_refused';
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
    case 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH':
    case 'UND_ERR_INFO':
    case 'UND_ERR_RESPONSE_EXCEEDED_MAX_SIZE':
      return 'upstream_protocol_error';
    default:
      if (code.startsWith('HPE_') || err.name === 'HTTPParserError') return 'upstream_protocol_error';
      if (
        code.startsWith('ERR_TLS') ||
        code.startsWith('ERR_SSL') ||
        code.includes('CERT') ||
        code === 'DEPTH_ZERO_SELF_SIGNED_CERT'
      ) {
        return 'upstream_tls_error';
      }
      return connected ? 'upstream_reset' : 'upstream_connect_refused';
  }
}

/** A short phrase for the diagnostic: "refused", "reset by the backend", … */
export function describeFailure(failure: AttemptFailure): string {
  switch (failure) {
    case 'upstream_connect_refused':
      return 'connection refused';
    case 'upstream_connect_timeout':
      return 'connect timed out';
    case 'upstream_reset':
      return 'connection reset by the backend';
    case 'upstream_response_timeout':
      return 'backend did not answer in time';
    case 'upstream_protocol_error':
      return 'backend sent an invalid HTTP response';
    case 'upstream_tls_error':
      return 'TLS handshake with the backend failed';
    default: {
      const never: never = failure;
      return never;
    }
  }
}
