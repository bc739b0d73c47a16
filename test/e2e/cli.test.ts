import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

const MAIN = path.resolve('dist/cli/main.js');

function run(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd, encoding: 'utf8', timeout: 15_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('command line', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-cli-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('check exits 0 for a valid config', () => {
    fs.writeFileSync(
      path.join(dir, 'ok.yaml'),
      'listeners: [{ name: public, address: 127.0.0.1:0 }]\nroutes: [{ name: r, pool: p }]\npools: [{ name: p, backends: [{ name: b, address: 127.0.0.1:9 }] }]\n',
    );
    const r = run(['check', '-c', 'ok.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ok\.yaml: ok/);
  });

  it('check exits 1 with one FILE:LINE:COL path: message line per problem', () => {
    fs.writeFileSync(
      path.join(dir, 'bad.yaml'),
      [
        'listeners:',
        '  - name: public',
        '    adress: 127.0.0.1:8080',
        'routes:',
        '  - { name: r, pool: nope }',
        'pools:',
        '  - name: p',
        '    backends:',
        '      - { name: b, address: 127.0.0.1:9, weight: 0 }',
        '',
      ].join('\n'),
    );
    const r = run(['check', '-c', 'bad.yaml'], dir);
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    assert.ok(lines.length >= 3, r.stderr);
    for (const l of lines) assert.match(l, /^bad\.yaml:\d+:\d+ \S+: .+/);
    assert.ok(
      lines.some((l) => /^bad\.yaml:3:5 listeners\[0\]\.adress: unknown key "adress"/.test(l)),
      r.stderr,
    );
    assert.ok(
      lines.some((l) => l.startsWith('bad.yaml:9:') && l.includes('pools[0].backends[0].weight')),
      r.stderr,
    );
    assert.ok(!r.stderr.includes('    at '), 'no stack trace');
  });

  it('start refuses an invalid config with the check messages, one line each, no stack trace', () => {
    const r = run(['start', '-c', 'bad.yaml'], dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /tollgate: bad\.yaml:3:5 listeners\[0\]\.adress: unknown key "adress"/);
    assert.ok(!r.stderr.includes('    at '));
  });

  it('start names the listener and address when the port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      fs.writeFileSync(
        path.join(dir, 'busy.yaml'),
        `listeners: [{ name: public, address: 127.0.0.1:${port} }]\nroutes: [{ name: r, pool: p }]\npools: [{ name: p, backends: [{ name: b, address: 127.0.0.1:9 }] }]\n`,
      );
      const r = run(['start', '-c', 'busy.yaml'], dir);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(`tollgate: listener public cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`),
      );
    } finally {
      blocker.close();
    }
  });

  it('a missing config file is one clear line', () => {
    const r = run(['start', '-c', 'nowhere.yaml'], dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^tollgate: nowhere\.yaml:1:1: cannot read .*nowhere\.yaml: no such file\n$/);
  });

  it('an unknown command exits 2 with help', () => {
    const r = run(['frobnicate'], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command 'frobnicate'/);
  });
});
