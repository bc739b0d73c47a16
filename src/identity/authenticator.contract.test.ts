import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { AuthPlan } from '../config/index.js';
import { systemClock } from '../core/index.js';
import { authenticators, createAuthenticator } from './index.js';
import type { SigningKey } from './test-helpers.js';
import {
  apiKeyPlan,
  authenticate,
  jwtPlan,
  mtlsPlan,
  signingKey,
  TestSubject,
  tlsSocket,
  token,
} from './test-helpers.js';

/**
 * The contract every authenticator keeps (authenticator.ts), run against each registered type:
 * a good credential names the user, a missing or wrong one is refused with a reason that never
 * contains the credential, late answers come exactly once through `done`, and concurrent
 * requests never see each other's identity.
 */
interface Fixture {
  readonly plan: AuthPlan;
  /** A request carrying a good credential for `user`. */
  good(user: string): Promise<TestSubject>;
  /** A request carrying a credential that must be refused; `secret` is the credential's text. */
  bad(): Promise<{ subject: TestSubject; secret: string | null }>;
  /** A request without any credential. */
  none(): TestSubject;
}

let jwtKey: SigningKey;
let otherKey: SigningKey;
before(async () => {
  jwtKey = await signingKey('k1');
  otherKey = await signingKey('k1');
});

const fixtures: Record<AuthPlan['type'], () => Fixture> = {
  api_key: () => ({
    plan: apiKeyPlan({ alice: 'key-alice-3f9a', bob: 'key-bob-77c1' }),
    good: async (user) =>
      new TestSubject({ 'x-api-key': user === 'alice' ? 'key-alice-3f9a' : 'key-bob-77c1' }),
    bad: async () => ({
      subject: new TestSubject({ 'x-api-key': 'key-mallory-0000' }),
      secret: 'key-mallory-0000',
    }),
    none: () => new TestSubject({}),
  }),
  jwt: () => ({
    plan: jwtPlan([jwtKey]),
    good: async (user) => new TestSubject({ authorization: `Bearer ${await token(jwtKey, { sub: user })}` }),
    bad: async () => {
      const forged = await token(otherKey, { sub: 'alice' });
      return { subject: new TestSubject({ authorization: `Bearer ${forged}` }), secret: forged };
    },
    none: () => new TestSubject({}),
  }),
  mtls: () => ({
    plan: mtlsPlan('subject_cn'),
    good: async (user) => new TestSubject({}, tlsSocket({ subject: { CN: user } }, true)),
    bad: async () => ({
      subject: new TestSubject(
        {},
        tlsSocket({ subject: { CN: 'alice' } }, false, 'DEPTH_ZERO_SELF_SIGNED_CERT'),
      ),
      secret: null,
    }),
    none: () => new TestSubject({}, tlsSocket({}, false, 'UNABLE_TO_GET_ISSUER_CERT')),
  }),
};

test('every auth type of the config has an authenticator and a contract fixture', () => {
  assert.deepEqual([...authenticators.keys()].sort(), Object.keys(fixtures).sort());
});

for (const type of authenticators.keys()) {
  describe(`authenticator contract: ${type}`, () => {
    const build = (f: Fixture) => createAuthenticator(f.plan, { clock: systemClock });

    test('is built from its plan and reports its type', () => {
      assert.equal(build(fixtures[type]()).type, type);
    });

    test('a good credential names the user, with the method, and no refusal', async () => {
      const f = fixtures[type]();
      const subject = await f.good('alice');
      subject.errorMessage = null;
      const a = await authenticate(build(f), subject);
      assert.equal(a.verdict, 'ok');
      assert.equal(subject.userName, 'alice');
      assert.equal(subject.identityMethod, type);
      assert.equal(subject.errorMessage, null);
    });

    test('no credential is refused with auth_failed and a reason', async () => {
      const f = fixtures[type]();
      const subject = f.none();
      const a = await authenticate(build(f), subject);
      assert.equal(a.verdict, 'auth_failed');
      assert.equal(subject.userName, null);
      assert.equal(subject.identityMethod, 'anonymous');
      assert.ok(
        subject.errorMessage !== null && subject.errorMessage.length > 10,
        String(subject.errorMessage),
      );
    });

    test('a wrong credential is refused, and the reason does not contain it', async () => {
      const f = fixtures[type]();
      const { subject, secret } = await f.bad();
      const a = await authenticate(build(f), subject);
      assert.equal(a.verdict, 'auth_failed');
      assert.equal(subject.userName, null);
      assert.ok(subject.errorMessage !== null && subject.errorMessage.length > 10);
      if (secret !== null) {
        for (const text of [subject.errorMessage, subject.challenge ?? '']) {
          assert.ok(!text.includes(secret), `"${text}" contains the credential`);
          // nor a recognisable part of it (a JWT's signature segment, a key's tail)
          assert.ok(!text.includes(secret.slice(-12)), `"${text}" contains part of the credential`);
        }
      }
    });

    test('answers at once, or later through done exactly once (never synchronously)', async () => {
      const f = fixtures[type]();
      const auth = build(f);
      for (const subject of [await f.good('alice'), f.none(), (await f.bad()).subject]) {
        const a = await authenticate(auth, subject);
        assert.equal(a.syncDone, false, 'done called before authenticate returned');
        assert.equal(a.doneCalls, a.late ? 1 : 0);
      }
    });

    test('concurrent requests on one authenticator each get their own identity', async () => {
      const f = fixtures[type]();
      const auth = build(f);
      const users = ['alice', 'bob', 'alice', 'bob', 'bob', 'alice'];
      const subjects = await Promise.all(users.map((u) => f.good(u)));
      const bad = await f.bad();
      const answers = await Promise.all([
        ...subjects.map((s) => authenticate(auth, s)),
        authenticate(auth, bad.subject),
      ]);
      assert.deepEqual(
        answers.map((a) => a.verdict),
        [...users.map(() => 'ok'), 'auth_failed'],
      );
      assert.deepEqual(
        subjects.map((s) => s.userName),
        users,
      );
      assert.equal(bad.subject.userName, null);
    });
  });
}
