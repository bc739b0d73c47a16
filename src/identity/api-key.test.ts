import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { systemClock } from '../core/index.js';
import { createAuthenticator } from './index.js';
import { apiKeyPlan, authenticate, TestSubject } from './test-helpers.js';

describe('api_key authenticator', () => {
  const keys = { 'billing-batch': 'tgk_live_4b1d2c', 'report-bot': 'tgk_live_9e8f7a' };

  test('a listed key names its entry, with method api_key', async () => {
    const auth = createAuthenticator(apiKeyPlan(keys), { clock: systemClock });
    for (const [name, key] of Object.entries(keys)) {
      const subject = new TestSubject({ 'x-api-key': key });
      assert.equal((await authenticate(auth, subject)).verdict, 'ok');
      assert.deepEqual([subject.userName, subject.identityMethod], [name, 'api_key']);
    }
  });

  test('a missing key and an unknown key are refused with their reasons and a challenge', async () => {
    const auth = createAuthenticator(apiKeyPlan(keys), { clock: systemClock });
    const missing = new TestSubject({});
    assert.equal((await authenticate(auth, missing)).verdict, 'auth_failed');
    assert.equal(missing.errorMessage, 'no API key in header x-api-key');
    assert.equal(missing.challenge, 'ApiKey header="x-api-key"');
    const empty = new TestSubject({ 'x-api-key': '' });
    assert.equal((await authenticate(auth, empty)).verdict, 'auth_failed');
    assert.equal(empty.errorMessage, 'no API key in header x-api-key');
    const unknown = new TestSubject({ 'x-api-key': 'tgk_live_4b1d2d' });
    assert.equal((await authenticate(auth, unknown)).verdict, 'auth_failed');
    assert.equal(unknown.errorMessage, 'unknown API key');
    assert.equal(unknown.userName, null);
  });

  test('keys are compared whole: a prefix, a suffix or another case does not match', async () => {
    const auth = createAuthenticator(apiKeyPlan(keys), { clock: systemClock });
    for (const wrong of [
      'tgk_live_4b1d2',
      'tgk_live_4b1d2c ',
      'TGK_LIVE_4B1D2C',
      'tgk_live_4b1d2ctgk_live_9e8f7a',
    ]) {
      assert.equal(
        (await authenticate(auth, new TestSubject({ 'x-api-key': wrong }))).verdict,
        'auth_failed',
        wrong,
      );
    }
  });

  test('reads the configured header', async () => {
    const auth = createAuthenticator(apiKeyPlan(keys, { header: 'x-tenant-key' }), { clock: systemClock });
    const subject = new TestSubject({ 'x-api-key': 'tgk_live_4b1d2c' });
    await authenticate(auth, subject);
    assert.equal(subject.errorMessage, 'no API key in header x-tenant-key');
    const right = new TestSubject({ 'x-tenant-key': 'tgk_live_4b1d2c' });
    assert.equal((await authenticate(auth, right)).verdict, 'ok');
  });

  test('required: false lets requests without a key through as anonymous, but refuses unknown keys', async () => {
    const auth = createAuthenticator(apiKeyPlan(keys, { required: false }), { clock: systemClock });
    const anon = new TestSubject({});
    assert.equal((await authenticate(auth, anon)).verdict, 'ok');
    assert.deepEqual([anon.userName, anon.identityMethod], [null, 'anonymous']);
    assert.equal(
      (await authenticate(auth, new TestSubject({ 'x-api-key': 'guess' }))).verdict,
      'auth_failed',
    );
  });

  test('an empty key list refuses every key', async () => {
    const auth = createAuthenticator(apiKeyPlan({}), { clock: systemClock });
    assert.equal(
      (await authenticate(auth, new TestSubject({ 'x-api-key': 'anything' }))).verdict,
      'auth_failed',
    );
  });
});
