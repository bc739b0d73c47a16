import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { systemClock } from '../core/index.js';
import { createAuthenticator } from './index.js';
import { authenticate, mtlsPlan, TestSubject, tlsSocket } from './test-helpers.js';

const CERT = {
  subject: { CN: 'alice', O: 'Example' },
  subjectaltname: 'DNS:alice.clients.example.test, email:alice@example.test, DNS:other.example.test',
};

async function run(userFrom: 'subject_cn' | 'san_email' | 'san_dns', socket: object) {
  const auth = createAuthenticator(mtlsPlan(userFrom), { clock: systemClock });
  const subject = new TestSubject({}, socket);
  const answer = await authenticate(auth, subject);
  return { verdict: answer.verdict, subject };
}

describe('mtls authenticator', () => {
  test('user_from picks the subject CN, the first email SAN or the first DNS SAN', async () => {
    const expected = {
      subject_cn: 'alice',
      san_email: 'alice@example.test',
      san_dns: 'alice.clients.example.test',
    };
    for (const [field, user] of Object.entries(expected)) {
      const r = await run(field as keyof typeof expected, tlsSocket(CERT, true));
      assert.deepEqual([r.verdict, r.subject.userName, r.subject.identityMethod], ['ok', user, 'mtls']);
    }
  });

  test('a quoted SAN value (odd characters) is unquoted', async () => {
    const cert = { subject: { CN: 'x' }, subjectaltname: 'email:"a,b@example.test"' };
    const r = await run('san_email', tlsSocket(cert, true));
    assert.equal(r.subject.userName, 'a,b@example.test');
  });

  test('no client certificate is auth_failed', async () => {
    const r = await run('subject_cn', tlsSocket({}, false, 'UNABLE_TO_GET_ISSUER_CERT'));
    assert.equal(r.verdict, 'auth_failed');
    assert.equal(r.subject.errorMessage, 'no client certificate');
  });

  test('a TLS listener that does not ask for certificates is named as the cause', async () => {
    const r = await run('subject_cn', tlsSocket({}, false, null));
    assert.equal(r.verdict, 'auth_failed');
    assert.equal(
      r.subject.errorMessage,
      'no client certificate: the listener does not ask for one (it has no tls.client_ca)',
    );
  });

  test('a plain HTTP connection has no client certificate', async () => {
    const r = await run('subject_cn', {});
    assert.equal(r.verdict, 'auth_failed');
    assert.match(r.subject.errorMessage!, /^no client certificate: the request came over plain HTTP/);
  });

  test('a certificate the CA did not sign, or an expired one, is auth_failed with the reason', async () => {
    const self = await run(
      'subject_cn',
      tlsSocket({ subject: { CN: 'mallory' } }, false, 'DEPTH_ZERO_SELF_SIGNED_CERT'),
    );
    assert.equal(self.verdict, 'auth_failed');
    assert.equal(
      self.subject.errorMessage,
      'client certificate CN="mallory" was not accepted: it is not signed by the listener\'s client_ca (DEPTH_ZERO_SELF_SIGNED_CERT)',
    );
    assert.equal(self.subject.userName, null, 'an unverified certificate names nobody');
    const expired = await run('subject_cn', tlsSocket({ subject: { CN: 'bob' } }, false, 'CERT_HAS_EXPIRED'));
    assert.match(expired.subject.errorMessage!, /it has expired \(CERT_HAS_EXPIRED\)$/);
  });

  test('a valid certificate without the field user_from names is forbidden', async () => {
    const r = await run(
      'san_email',
      tlsSocket({ subject: { CN: 'svc' }, subjectaltname: 'DNS:svc.example.test' }, true),
    );
    assert.equal(r.verdict, 'forbidden');
    assert.equal(
      r.subject.errorMessage,
      'the client certificate is valid but has no email subject alternative name to name the user (user_from: san_email)',
    );
    assert.equal(r.subject.userName, null);
  });

  test('reads the certificate once per connection', async () => {
    let reads = 0;
    const socket = {
      authorized: true,
      authorizationError: null,
      getPeerCertificate: () => {
        reads++;
        return CERT;
      },
    };
    const cn = createAuthenticator(mtlsPlan('subject_cn'), { clock: systemClock });
    const dns = createAuthenticator(mtlsPlan('san_dns'), { clock: systemClock });
    for (let i = 0; i < 3; i++) {
      const a = new TestSubject({}, socket);
      const b = new TestSubject({}, socket);
      await authenticate(cn, a);
      await authenticate(dns, b);
      assert.deepEqual([a.userName, b.userName], ['alice', 'alice.clients.example.test']);
    }
    assert.equal(reads, 1);
  });
});
