import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AdminRecord } from '../../src/audit/index.js';
import type { LiveTollgate } from '../helpers/audit.js';
import { cliAsync, freePort, launchTollgate, MAIN } from '../helpers/audit.js';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { buildDist } from '../helpers/process.js';

/**
 * The admin side from the command line, against Tollgate running as its own process (issue 4,
 * "Deliver" 1, 2 and 5): `token create|list|role|revoke` change what the running API accepts and
 * are chained as events; `tail` follows live records; and no token used anywhere in this suite
 * can be found afterwards in the data dir or in any log.
 */

function* files(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else yield p;
  }
}

describe('tollgate token and tail, against a running Tollgate', () => {
  let backend: TestBackend;
  let dir: string;
  let dataDir: string;
  let tg: LiveTollgate;
  let adminUrl: string;
  const secrets: string[] = [];
  const outputs: string[] = [];

  const call = async (
    method: string,
    p: string,
    token: string | null,
  ): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${adminUrl}${p}`, {
      method,
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
  };
  const tollgate = async (...args: string[]) => {
    const r = await cliAsync([...args, '--data', dataDir]);
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const eventually = async (viewer: string, check: (e: AdminRecord) => boolean): Promise<AdminRecord> => {
    for (let i = 0; i < 100; i++) {
      const r = await call('GET', '/api/v1/events?limit=500', viewer);
      const found = (r.body.items as AdminRecord[]).find(check);
      if (found !== undefined) return found;
      await sleep(100);
    }
    throw new Error('no such admin event');
  };

  before(async () => {
    buildDist();
    backend = await startBackend('b1', (req, res) => {
      const code = Number(/^\/status\/(\d{3})$/.exec(req.url ?? '')?.[1] ?? 200);
      res.writeHead(code, { 'content-type': 'text/plain' });
      res.end('hi');
    });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-admin-cli-'));
    dataDir = path.join(dir, 'data');
    const adminPort = await freePort();
    adminUrl = `http://127.0.0.1:${adminPort}`;
    // a token made before the first start: its events wait in the store until Tollgate chains them
    const early = await cliAsync([
      'token',
      'create',
      '--name',
      'early',
      '--role',
      'viewer',
      '--data',
      dataDir,
    ]);
    assert.equal(early.code, 0, early.stderr);
    secrets.push(early.stdout.trim());
    tg = await launchTollgate(
      dir,
      dataDir,
      `routes:
  - { name: app, match: { path_prefix: / }, pool: app }
pools:
  - { name: app, backends: [ { name: b1, address: ${backend.address} } ] }
admin: { address: 127.0.0.1:${adminPort} }
`,
    );
  });
  after(async () => {
    await tg.stop();
    await backend.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('token create prints the token once (only the token; --json adds name, role and expiry) and the running API accepts it at once', async () => {
    const plain = await tollgate('token', 'create', '--name', 'root', '--role', 'admin');
    assert.equal(plain.code, 0, plain.stderr);
    const root = plain.stdout.trim();
    assert.match(root, /^tgt_[A-Za-z0-9_-]{43}$/);
    assert.equal(plain.stdout, `${root}\n`, 'nothing but the token on stdout');
    secrets.push(root);
    const json = await tollgate(
      'token',
      'create',
      '--name',
      'watcher',
      '--role',
      'viewer',
      '--ttl',
      '8h',
      '--json',
    );
    assert.equal(json.code, 0, json.stderr);
    const made = JSON.parse(json.stdout) as { name: string; role: string; token: string; expires: string };
    secrets.push(made.token);
    assert.equal(made.name, 'watcher');
    assert.equal(made.role, 'viewer');
    const hours = (Date.parse(made.expires) - Date.now()) / 3600_000;
    assert.ok(hours > 7.9 && hours <= 8, `expires in 8h, got ${hours}`);
    assert.equal((await call('GET', '/api/v1/status', root)).status, 200);
    assert.equal((await call('GET', '/api/v1/status', made.token)).status, 200);
    assert.equal(
      (await call('GET', '/api/v1/status', secrets[0]!)).status,
      200,
      'the token made before the start',
    );

    const dup = await tollgate('token', 'create', '--name', 'root', '--role', 'viewer');
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /^tollgate: a live token named root exists/);
    const badRole = await tollgate('token', 'create', '--name', 'x', '--role', 'god');
    assert.equal(badRole.code, 1);
    assert.match(badRole.stderr, /role "god" is not one of viewer, operator, admin/);
  });

  it('token changes made by the CLI are chained as events: creation, privilege grant, role change, revocation', async () => {
    const root = secrets[1]!;
    const created = await eventually(
      root,
      (e) => e.event.action === 'token_created' && e.tollgate.labels.token === 'early',
    );
    assert.equal(created.user.name, `local:${os.userInfo().username}`);
    const grant = await eventually(
      root,
      (e) => e.event.action === 'privilege_granted' && e.tollgate.labels.token === 'root',
    );
    assert.equal(grant.tollgate.labels.role, 'admin');
    const role = await tollgate('token', 'role', 'watcher', 'operator');
    assert.equal(role.code, 0, role.stderr);
    assert.equal(role.stdout, 'watcher: viewer -> operator\n');
    const change = await eventually(
      root,
      (e) => e.event.action === 'privilege_changed' && e.tollgate.labels.token === 'watcher',
    );
    assert.deepEqual(change.tollgate.diff, [
      { path: 'tokens["watcher"].role', kind: 'changed', before: 'viewer', after: 'operator' },
    ]);
    const list = await tollgate('token', 'list');
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^name +role +state/);
    assert.match(list.stdout, /\nwatcher +operator +live/);
    const revoke = await tollgate('token', 'revoke', 'early');
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.equal((await call('GET', '/api/v1/status', secrets[0]!)).status, 401);
    await eventually(root, (e) => e.event.action === 'token_revoked' && e.tollgate.labels.token === 'early');
    assert.match((await tollgate('token', 'list')).stdout, /\nearly +viewer +revoked/);
  });

  it('tail follows live records with the filters and prints them as they are committed', async () => {
    const viewer = secrets[2]!;
    let out = '';
    const child: ChildProcess = spawn(
      process.execPath,
      [MAIN, 'tail', '--admin', adminUrl, '--status', '5xx', '--format', 'json'],
      { env: { ...process.env, TOLLGATE_TOKEN: viewer }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    try {
      // connected: the stream's own admin_request event is in the store
      await eventually(secrets[1]!, (e) => e.url.path === '/api/v1/stream' && e.user.name === 'watcher');
      for (const p of ['/a', '/status/503', '/b', '/status/500']) await (await fetch(tg.url(p))).text();
      for (let i = 0; i < 50 && out.split('\n').length < 3; i++) await sleep(100);
      const lines = out.trim().split('\n');
      assert.equal(lines.length, 2, `tail printed: ${out} ${err}`);
      const recs = lines.map(
        (l) => JSON.parse(l) as { url: { path: string }; tollgate: { chain: { hash: string } } },
      );
      assert.deepEqual(
        recs.map((r) => r.url.path),
        ['/status/503', '/status/500'],
      );
      for (const r of recs) assert.match(r.tollgate.chain.hash, /^[0-9a-f]{64}$/);
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    }
    outputs.push(out, err);
    const refused = await cliAsync(['tail', '--admin', adminUrl, '--token', 'tgt_not-a-token']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^tollgate: the admin API answered 401: unknown token/);
    secrets.push('tgt_not-a-token');
  });

  it('no token used in this suite is in the data dir or any log, and the chain verifies', async () => {
    for (const s of secrets) assert.equal((await call('GET', '/api/v1/pools', s)).status < 500, true);
    const code = await tg.stop();
    assert.equal(code, 0);
    const verify = await cliAsync(['verify', '--data', dataDir, '--quiet']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    const haystacks: [string, Buffer][] = [...files(dir)].map((f) => [f, fs.readFileSync(f)]);
    haystacks.push(['tollgate stderr', Buffer.from(tg.stderr())]);
    outputs.forEach((o, i) => {
      haystacks.push([`cli output ${i}`, Buffer.from(o)]);
    });
    assert.ok(haystacks.some(([f]) => f.endsWith('audit.db')));
    for (const s of secrets) {
      assert.ok(s.length > 10);
      const tail = s.slice(4); // the random part, however it might have been encoded around
      for (const [where, data] of haystacks) {
        // the CLI printed each token once on purpose: only the create command's own stdout may hold it
        if (where.startsWith('cli output') && data.toString() === `${s}\n`) continue;
        if (where.startsWith('cli output') && data.toString().includes(`"token":"${s}"`)) continue;
        assert.equal(data.includes(tail), false, `${s.slice(0, 8)}… found in ${where}`);
      }
    }
  });
});
