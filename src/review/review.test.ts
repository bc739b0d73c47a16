import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { compileConfigText } from '../config/index.js';
import { DEFAULT_BASELINE, loadBaseline } from './baseline.js';
import type { ReviewInput } from './review.js';
import { review } from './review.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 25, 12);

function input(extra: string, over: Partial<ReviewInput> = {}): ReviewInput {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-review-'));
  const plan = compileConfigText(
    `data_dir: ${dir}
listeners: [{ name: public, address: 127.0.0.1:0 }]
${extra}`,
    path.join(dir, 'tollgate.yaml'),
  );
  return {
    plan,
    now: NOW,
    tokens: [],
    lastVerify: null,
    canaries: [],
    clock: { synced: true, source: 'test', detail: 'synced (test)' },
    ...over,
  };
}

function check(i: ReviewInput, id: string) {
  const { file, baseline } = loadBaseline(null);
  const c = review(i, baseline, file).checks.find((x) => x.id === id);
  assert.ok(c !== undefined, id);
  return c;
}

describe('review checks', () => {
  it('the shipped baseline loads and lists the ten checks, each with a PCI DSS requirement', () => {
    const { file, baseline } = loadBaseline(null);
    assert.equal(file, DEFAULT_BASELINE);
    const ids = Object.keys(baseline.checks);
    assert.equal(ids.length, 10);
    for (const c of Object.values(baseline.checks)) assert.match(c!.requirement, /PCI DSS \d/);
  });

  it('a baseline with an unknown key is refused naming the file and the key', () => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-bl-')), 'b.yaml');
    fs.writeFileSync(f, 'name: x\nchecks:\n  retention: { requirement: r, min: 30d, oops: 1 }\n');
    assert.throws(() => loadBaseline(f), /review baseline .*b\.yaml: checks\.retention: .*oops/);
    fs.writeFileSync(f, 'name: x\nchecks:\n  retention: { requirement: r, min: soon }\n');
    assert.throws(() => loadBaseline(f), /checks\.retention\.min: expected a duration/);
  });

  it('token_lifetime fails for a live token that never expires or outlives the maximum, and ignores revoked ones', () => {
    const ok = { name: 'a', createdAt: NOW - DAY, expiresAt: NOW + 29 * DAY, revokedAt: null };
    assert.equal(check(input('', { tokens: [ok] }), 'token_lifetime').status, 'pass');
    const forever = { name: 'ci', createdAt: NOW - DAY, expiresAt: null, revokedAt: null };
    const long = { name: 'ops', createdAt: NOW - DAY, expiresAt: NOW + 120 * DAY, revokedAt: null };
    const revoked = { ...forever, name: 'old', revokedAt: NOW - 1000 };
    const c = check(input('', { tokens: [ok, forever, long, revoked] }), 'token_lifetime');
    assert.equal(c.status, 'fail');
    assert.equal(c.reason, 'live admin tokens longer than 90 days: ci (never expires), ops (121 days)');
  });

  it('admin_transport: loopback or TLS pass, a plain non-loopback address fails', () => {
    assert.equal(check(input('admin: { address: 127.0.0.1:9090 }\n'), 'admin_transport').status, 'pass');
    const c = check(input('admin: { address: 0.0.0.0:9090 }\n'), 'admin_transport');
    assert.equal(c.status, 'fail');
    assert.match(c.reason, /0\.0\.0\.0:9090 without TLS/);
  });

  it('off_machine: a sink on another host passes, loopback only fails unless the baseline allows a relay', () => {
    const away = check(input('audit:\n  sinks: [{ type: syslog, address: 10.0.0.5:514 }]\n'), 'off_machine');
    assert.deepEqual([away.status, away.reason], ['pass', 'ships to syslog 10.0.0.5:514']);
    const local = check(
      input('audit:\n  sinks: [{ type: otlp, endpoint: "http://127.0.0.1:4318/v1/logs" }]\n'),
      'off_machine',
    );
    assert.equal(local.status, 'fail');
    assert.equal(
      check(input('audit:\n  sinks: [{ type: jsonl, path: a.jsonl }]\n'), 'off_machine').status,
      'fail',
    );
  });

  it('verify: a stale or failed last verification fails, a recent one passes', () => {
    const recent = { at: NOW - 3_600_000, ok: true, by: 'tollgate verify', detail: '10 records' };
    assert.equal(check(input('', { lastVerify: recent }), 'verify').status, 'pass');
    const stale = check(input('', { lastVerify: { ...recent, at: NOW - 3 * DAY } }), 'verify');
    assert.equal(stale.status, 'fail');
    assert.match(stale.reason, /3 days ago .* more than 24 hours ago/);
    const failed = check(
      input('', { lastVerify: { ...recent, ok: false, detail: 'seq 7 altered' } }),
      'verify',
    );
    assert.match(failed.reason, /failed .*seq 7 altered/);
  });

  it('canaries: any failed run of the window fails the check, naming the newest failure', () => {
    const cfg = 'audit:\n  canary: { interval: 60s }\n';
    const runs = [
      { at: NOW - 120_000, ok: false, reason: 'syslog:tcp://10.0.0.5:514: did not ship' },
      { at: NOW - 60_000, ok: true, reason: null },
    ];
    const c = check(input(cfg, { canaries: runs }), 'canaries');
    assert.equal(c.status, 'fail');
    assert.match(c.reason, /1 of 2 canaries failed .*syslog:tcp/);
    assert.equal(
      check(input('', { canaries: [runs[1]!] }), 'canaries').reason,
      'audit.canary is not configured',
    );
  });

  it('clock: fails with what the OS said when it is not synchronised or cannot tell', () => {
    const c = check(
      input('', { clock: { synced: null, source: null, detail: 'the OS did not say' } }),
      'clock',
    );
    assert.deepEqual([c.status, c.reason], ['fail', 'the OS did not say']);
  });
});
