import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { MtlsAuthPlan, MtlsUserField } from '../config/index.js';
import type { AuthDone, Authenticator, AuthSubject, AuthVerdict } from './authenticator.js';
import { identified, quote, refuse } from './authenticator.js';

/**
 * `auth: { type: mtls }`: the client certificate the TLS handshake brought. The listener asks
 * for one (`tls.client_ca`) without rejecting the handshake, so a request without a certificate,
 * or with one the CA did not sign, gets a 401 with a reason and a record instead of a bare
 * handshake failure. What the certificate says is read once per connection and kept on the
 * socket (keep-alive requests and every route of the connection reuse it).
 *
 * A valid certificate without the field `user_from` names (no CN, no email or DNS SAN) is
 * `forbidden` (403): the client is authenticated, but cannot be named.
 */
interface PeerFacts {
  /** Null when the certificate is present and verified by the listener's client_ca. */
  readonly refusal: string | null;
  readonly subjectCn: string | null;
  readonly sanEmail: string | null;
  readonly sanDns: string | null;
}

const kPeer = Symbol('tollgate.mtls.peer');
type WithPeer = { [kPeer]?: PeerFacts };

const FIELD_TEXT: Record<MtlsUserField, string> = {
  subject_cn: 'subject CN',
  san_email: 'email subject alternative name',
  san_dns: 'DNS subject alternative name',
};

export class MtlsAuthenticator implements Authenticator {
  readonly type = 'mtls';
  readonly #field: MtlsUserField;
  readonly #unnamed: string;

  constructor(plan: MtlsAuthPlan) {
    this.#field = plan.userFrom;
    this.#unnamed = `the client certificate is valid but has no ${FIELD_TEXT[plan.userFrom]} to name the user (user_from: ${plan.userFrom})`;
  }

  authenticate(subject: AuthSubject, _done: AuthDone): AuthVerdict {
    const socket = subject.req.socket as TLSSocket & WithPeer;
    let facts = socket[kPeer];
    if (facts === undefined) {
      facts = peerFacts(socket);
      socket[kPeer] = facts;
    }
    if (facts.refusal !== null) return refuse(subject, 'auth_failed', facts.refusal, null);
    const user =
      this.#field === 'subject_cn'
        ? facts.subjectCn
        : this.#field === 'san_email'
          ? facts.sanEmail
          : facts.sanDns;
    if (user === null) return refuse(subject, 'forbidden', this.#unnamed, null);
    return identified(subject, 'mtls', user);
  }
}

export function createMtlsAuthenticator(plan: MtlsAuthPlan): Authenticator {
  return new MtlsAuthenticator(plan);
}

function peerFacts(socket: TLSSocket): PeerFacts {
  if (typeof socket.getPeerCertificate !== 'function') {
    return refused(
      'no client certificate: the request came over plain HTTP (mtls needs a listener with tls.client_ca)',
    );
  }
  const cert = socket.getPeerCertificate();
  if (cert === null || cert === undefined || cert.subject === undefined) {
    // node leaves authorizationError null when the listener did not ask for a certificate
    return refused(
      socket.authorizationError === null || socket.authorizationError === undefined
        ? 'no client certificate: the listener does not ask for one (it has no tls.client_ca)'
        : 'no client certificate',
    );
  }
  const cn = first(cert.subject.CN);
  if (!socket.authorized) {
    const code = String(socket.authorizationError ?? 'not verified');
    return refused(
      `client certificate${cn === null ? '' : ` CN=${quote(cn)}`} was not accepted: ${verifyReason(code)} (${code})`,
    );
  }
  const san = cert.subjectaltname ?? '';
  return { refusal: null, subjectCn: cn, sanEmail: sanValue(san, 'email:'), sanDns: sanValue(san, 'DNS:') };
}

function refused(reason: string): PeerFacts {
  return { refusal: reason, subjectCn: null, sanEmail: null, sanDns: null };
}

function first(value: PeerCertificate['subject'][string] | undefined): string | null {
  const v = Array.isArray(value) ? value[0] : value;
  return v === undefined || v === '' ? null : v;
}

/** The first `DNS:` or `email:` entry of node's `subjectaltname` text ("DNS:a, email:b"; odd values JSON-quoted). */
function sanValue(san: string, prefix: string): string | null {
  for (const part of san.split(', ')) {
    if (!part.startsWith(prefix)) continue;
    let value = part.slice(prefix.length);
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    }
    if (value !== '') return value;
  }
  return null;
}

function verifyReason(code: string): string {
  switch (code) {
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'CERT_SIGNATURE_FAILURE':
      return "it is not signed by the listener's client_ca";
    case 'CERT_HAS_EXPIRED':
      return 'it has expired';
    case 'CERT_NOT_YET_VALID':
      return 'it is not valid yet';
    case 'CERT_REVOKED':
      return 'it is revoked';
    case 'INVALID_PURPOSE':
      return 'it is not meant for TLS client authentication';
    default:
      return 'its verification failed';
  }
}
