import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import type { AlertView } from '../../src/alerts/index.js';
import { clockSync } from '../../src/review/index.js';
import { openStore } from '../../src/store/index.js';
import { cliAsync, freePort, launchTollgate, MAIN, tempDir } from '../helpers/audit.js';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { buildDist } from '../helpers/process.js';
import type { Harness } from '../helpers/tollgate.js';
import { startTollgate } from '../helpers/tollgate.js';

/**
 * Audit the auditor (issue 11, "Show it"): heartbeats make a stopped trail visible to `verify`;
 * canaries go through Tollgate's own listener and fail for the one sink that is down, firing the
 * alert; `review` names the checks a weak config fails; the demo configuration passes it.
 */

interface AdminRow {
  action: string;
  outcome: string;
  reason: string | null;
  labels: Record<string, unknown>;
  ts: number;
}

function adminRows(storePath: string, action: string): AdminRow[] {
  const store = openStore(storePath, { readonly: true });
  try {
    return store
      .events({ action }, 1000)
      .reverse()
      .map((row) => {
        const r = JSON.parse(row.rec) as {
          event: { outcome: string; reason: string | null };
          tollgate: { labels: Record<string, unknown> };
        };
        return {
          action,
          outcome: r.event.outcome,
          reason: r.event.reason,
          labels: r.tollgate.labels,
          ts: row.ts,
        };
      });
  } finally {
    store.close();
  }
}

async function until<T>(what: string, f: () => T | null | undefined | false, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('audit the auditor', () => {
  let backend: TestBackend;
  before(async () => {
    buildDist();
    backend = await startBackend('b1');
  });
  after(async () => {
    await backend.close();
  });

  const routes = () => `routes:
  - { name: r, match: { path_prefix: / }, pool: p }
pools:
  - name: p
    backends: [{ name: b1, address: ${backend.address} }]
`;

  describe('heartbeats', () => {
    it('verify reports the silence while the store could not be written, and accepts a clean stop and restart', async () => {
      const dir = tempDir('heartbeat');
      const dataDir = path.join(dir, 'data');
      const yaml = `${routes()}audit:\n  heartbeat: 500ms\n`;
      const tg = await launchTollgate(dir, dataDir, yaml);
      try {
        const storePath = path.join(dataDir, 'audit.db');
        await until('two heartbeats', () => adminRows(storePath, 'audit_heartbeat').length >= 2);
        // a clean run so far: no gap
        let v = await cliAsync(['verify', '--data', dataDir, '--no-record']);
        assert.equal(v.code, 0, v.stdout + v.stderr);
        assert.doesNotMatch(v.stdout, /gap:/);

        // another process holds the store's write lock for 3 s: the writer cannot commit
        const db = new Database(storePath);
        db.exec('BEGIN EXCLUSIVE');
        await fetch(tg.url('/during-the-lock')).then((r) => r.text());
        await sleep(3000);
        db.exec('COMMIT');
        db.close();
        await until('heartbeats again', () => {
          const hb = adminRows(storePath, 'audit_heartbeat');
          return hb.length >= 2 && hb[hb.length - 1]!.ts > Date.now() - 1500 && hb;
        });
        v = await cliAsync(['verify', '--data', dataDir]);
        assert.equal(v.code, 1, `a gap fails verify:\n${v.stdout}`);
        const gaps = v.stdout.split('\n').filter((l) => l.startsWith('gap:'));
        assert.equal(gaps.length, 1, v.stdout);
        const seconds = Number(/no heartbeat for ([\d.]+) s/.exec(gaps[0]!)?.[1]);
        assert.ok(seconds >= 2.5 && seconds < 10, `the gap spans the lock: ${gaps[0]}`);
        assert.match(gaps[0]!, /heartbeat every 500 ms/);
        assert.match(v.stdout, /^ok: .*chain intact/m, 'the chain itself still holds');
        assert.match(v.stdout, /FAIL: 1 heartbeat gap/);
        // the request of the lock was kept and committed after it
        const during = openStore(storePath, { readonly: true });
        assert.equal(during.query({ since: 0 }, 100).filter((r) => r.kind === 'request').length, 1);
        during.close();
        const allowed = await cliAsync(['verify', '--data', dataDir, '--allow-gaps']);
        assert.equal(allowed.code, 0, allowed.stdout);
        assert.match(allowed.stdout, /gap: no heartbeat/);

        // the result is recorded for review
        const log = fs.readFileSync(path.join(dataDir, 'verify.jsonl'), 'utf8').trim().split('\n');
        assert.deepEqual(
          log.map((l) => (JSON.parse(l) as { ok: boolean }).ok),
          [false, true],
        );

        /** Ends the running instance, waits 2 s, starts another; the gap lines verify prints then. */
        const downAndUp = async (end: () => Promise<unknown>) => {
          await end();
          await sleep(2000);
          const next = await launchTollgate(dir, dataDir, yaml);
          await until('a heartbeat after the start', () => {
            const hb = adminRows(storePath, 'audit_heartbeat');
            return hb.length > 0 && hb[hb.length - 1]!.ts > Date.now() - 1000;
          });
          const out = (await cliAsync(['verify', '--data', dataDir, '--no-record'])).stdout;
          return { next, gaps: out.split('\n').filter((l) => l.startsWith('gap:')) };
        };
        // a clean stop, 2 s down, a start: the stop explains the silence
        const again = await downAndUp(async () => assert.equal(await tg.stop(), 0));
        assert.equal(again.gaps.length, 1, again.gaps.join('\n'));
        // kill -9, 2 s down, a start: nothing explains that silence
        const third = await downAndUp(() => again.next.kill());
        const after = third.gaps;
        assert.equal(after.length, 2, after.join('\n'));
        assert.match(after[1]!, /no clean stop before this start/);
        await third.next.stop();
      } finally {
        await tg.kill();
      }
    });
  });

  describe('canaries', () => {
    let h: Harness;
    let alerts: AlertView[];
    let hook: http.Server;
    let deadPort: number;
    before(async () => {
      alerts = [];
      hook = http.createServer((req, res) => {
        let text = '';
        req.on('data', (c) => (text += c));
        req.on('end', () => {
          alerts.push(JSON.parse(text) as AlertView);
          res.end('ok');
        });
      });
      await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
      deadPort = await freePort(); // nothing listens: the syslog sink is down
      h = await startTollgate(`listeners:
  - { name: public, address: 127.0.0.1:0 }
${routes()}audit:
  sinks:
    - { type: jsonl, path: records.jsonl }
    - { type: syslog, address: 127.0.0.1:${deadPort}, protocol: tcp }
  canary: { interval: 700ms, deadline: 1500ms }
alerts:
  notifiers:
    - { name: hook, type: webhook, url: http://127.0.0.1:${(hook.address() as AddressInfo).port}/ }
  rules:
    - { name: canary, when: audit_canary, notify: [hook] }
`);
    });
    after(async () => {
      await h.close();
      await new Promise((r) => hook.close(r));
    });

    it('fail for the sink that is down only, fire audit_canary naming it, and stay out of the traffic figures', async () => {
      const before = backend.count();
      for (let i = 0; i < 3; i++) await fetch(h.url(`/real-${i}`)).then((r) => r.text());
      const storePath = path.join(h.dataDir, 'audit.db');
      const runs = await until('two canary results', () => {
        const rows = adminRows(storePath, 'audit_canary');
        return rows.length >= 2 && rows;
      });
      for (const run of runs) {
        assert.equal(run.outcome, 'failure');
        const syslog = Object.keys(run.labels).filter((k) => k.startsWith('target.syslog:'));
        assert.equal(syslog.length, 1, JSON.stringify(run.labels));
        assert.equal(run.labels[syslog[0]!], 'missed');
        assert.match(String(run.labels['target.store']), /^ok /);
        const jsonl = Object.keys(run.labels).find((k) => k.startsWith('target.jsonl:'));
        assert.ok(jsonl !== undefined);
        assert.match(String(run.labels[jsonl]), /^ok /, 'the jsonl sink shipped the canary');
        assert.match(
          run.reason ?? '',
          new RegExp(`syslog:tcp://127\\.0\\.0\\.1:${deadPort}: sink .* did not ship canary`),
        );
        assert.doesNotMatch(run.reason ?? '', /jsonl|store:/);
      }
      const fired = await until('the audit_canary alert', () =>
        alerts.find((a) => a.rule === 'canary' && a.status === 'firing'),
      );
      assert.match(
        fired.summary,
        new RegExp(`audit canary missed sink syslog:tcp://127\\.0\\.0\\.1:${deadPort}`),
      );
      assert.ok(!alerts.some((a) => /jsonl|the store/.test(a.summary)), 'no alert for the sinks that work');

      // the canary never reached a backend, and is not traffic: 3 requests in the metrics
      assert.equal(backend.count() - before, 3);
      assert.equal(backend.hits.get('/.well-known/tollgate-canary') ?? 0, 0);
      const text = h.app.metrics.render();
      const total = [...text.matchAll(/^tollgate_requests_total\{[^}]*\} (\d+)$/gm)].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
      assert.equal(
        total,
        3,
        text
          .split('\n')
          .filter((l) => l.startsWith('tollgate_requests_total'))
          .join('\n'),
      );
      // …but it is on the record, marked
      const store = openStore(storePath, { readonly: true });
      const canaries = store
        .query({ since: 0 }, 1000)
        .filter(
          (r) =>
            r.kind === 'request' && (JSON.parse(r.rec) as { tollgate: { canary: boolean } }).tollgate.canary,
        );
      store.close();
      assert.ok(canaries.length >= 2);
      assert.equal(JSON.parse(canaries[0]!.rec).url.path, '/.well-known/tollgate-canary');
    });

    it('a request to the canary path without the secret is ordinary traffic', async () => {
      const res = await fetch(h.url('/.well-known/tollgate-canary'), {
        headers: { 'x-tollgate-canary': 'guess' },
      });
      const body = (await res.json()) as { backend: string; url: string };
      assert.equal(res.status, 200);
      assert.deepEqual(
        [body.backend, body.url],
        ['b1', '/.well-known/tollgate-canary'],
        'forwarded like any path',
      );
      const id = res.headers.get('x-request-id')!;
      const r = await h.record(id);
      assert.equal(r.tollgate.canary, false);
      assert.equal(r.tollgate.backend.name, 'b1');
    });
  });

  describe('review', () => {
    const good = (over: { redact?: string; retention?: string; rules?: string }) => `listeners:
  - { name: public, address: 127.0.0.1:0 }
routes:
  - { name: r, match: { path_prefix: / }, pool: p }
pools:
  - name: p
    backends: [{ name: b1, address: 127.0.0.1:9 }]
audit:
  store: { retention: ${over.retention ?? '400d'} }
${over.redact ?? ''}  sinks:
    - { type: syslog, address: 10.1.2.3:514 }
  canary: { interval: 60s }
alerts:
  notifiers: [{ name: hook, type: webhook, url: http://127.0.0.1:9/ }]
  rules:
${
  over.rules ??
  `    - { name: a1, when: audit_lag, above: 30s }
    - { name: a2, when: audit_lost }
    - { name: a3, when: audit_canary }
    - { name: a4, when: auth_failures, above: 1/s }
    - { name: a5, when: error_rate, above: 10% }`
}
`;

    async function reviewOf(
      yaml: string,
    ): Promise<{ code: number | null; checks: Map<string, { status: string; reason: string }> }> {
      const dir = tempDir('review');
      const file = path.join(dir, 'tollgate.yaml');
      fs.writeFileSync(file, `data_dir: ${path.join(dir, 'data')}\n${yaml}`);
      const r = await cliAsync(['review', '-c', file, '--format', 'json']);
      const report = JSON.parse(r.stdout) as { checks: { id: string; status: string; reason: string }[] };
      return { code: r.code, checks: new Map(report.checks.map((c) => [c.id, c])) };
    }

    it('names the checks a weak config fails, each against the same config that passes them', async () => {
      const base = await reviewOf(good({}));
      for (const id of ['redaction', 'retention', 'alerts', 'off_machine', 'admin_transport'])
        assert.equal(base.checks.get(id)?.status, 'pass', `${id}: ${base.checks.get(id)?.reason}`);
      // never started: the checks of state fail and say why
      assert.match(base.checks.get('verify')!.reason, /never been verified/);
      assert.match(base.checks.get('canaries')!.reason, /no canary ran/);

      const redact = await reviewOf(
        good({ redact: '  redact: { headers: [cookie], query_params: [password] }\n' }),
      );
      assert.equal(redact.code, 1);
      assert.equal(redact.checks.get('redaction')!.status, 'fail');
      assert.match(
        redact.checks.get('redaction')!.reason,
        /header authorization, header set-cookie, header proxy-authorization, query parameter token, query parameter access_token/,
      );

      const week = await reviewOf(good({ retention: '7d' }));
      assert.equal(week.code, 1);
      assert.equal(week.checks.get('retention')!.status, 'fail');
      assert.match(
        week.checks.get('retention')!.reason,
        /retention is 7 days, less than the 365 days required/,
      );

      const noLoss = await reviewOf(
        good({
          rules: `    - { name: a1, when: audit_lag, above: 30s }
    - { name: a3, when: audit_canary }
    - { name: a4, when: auth_failures, above: 1/s }
    - { name: a5, when: error_rate, above: 10% }`,
        }),
      );
      assert.equal(noLoss.code, 1);
      assert.equal(noLoss.checks.get('alerts')!.status, 'fail');
      assert.equal(noLoss.checks.get('alerts')!.reason, 'no alert rule for audit_lost');
    });

    it('the demo configuration passes review cleanly (the clock check says what the OS reports)', async () => {
      const dir = tempDir('demo-review');
      const [port, admin] = [await freePort(), await freePort()];
      const child = spawn(
        process.execPath,
        [MAIN, 'start', '--demo', '--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${admin}`],
        { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      const exited = new Promise((r) => child.once('exit', r));
      try {
        const token = await until('the demo banner', () => /token: +(\S+)/.exec(out)?.[1]);
        const storePath = path.join(dir, 'tollgate-data', 'audit.db');
        await until(
          'a canary and a verification',
          () =>
            fs.existsSync(storePath) &&
            adminRows(storePath, 'audit_canary').length > 0 &&
            adminRows(storePath, 'audit_verified').length > 0,
        );
        const sync = await clockSync();
        const cliReview = await cliAsync(['review', '-c', path.join(dir, 'tollgate-demo.yaml')]);
        const res = await fetch(`http://127.0.0.1:${admin}/api/v1/review`, {
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(res.status, 200);
        const report = (await res.json()) as { checks: { id: string; status: string; reason: string }[] };
        assert.equal(report.checks.length, 10);
        for (const c of report.checks) {
          if (c.id === 'clock') {
            assert.equal(c.status, sync.synced === true ? 'pass' : 'fail', c.reason);
            assert.equal(c.reason, sync.detail);
          } else assert.equal(c.status, 'pass', `${c.id}: ${c.reason}`);
        }
        assert.equal(cliReview.code, sync.synced === true ? 0 : 1, cliReview.stdout);
        assert.equal(
          cliReview.stdout.split('\n').filter((l) => l.startsWith('FAIL')).length,
          sync.synced === true ? 0 : 1,
          cliReview.stdout,
        );
        assert.match(cliReview.stdout, /^PASS {4}canaries/m);
        // the report ends with the same review, and its traffic leaves the canaries out
        const rep = await cliAsync([
          'report',
          '-c',
          path.join(dir, 'tollgate-demo.yaml'),
          '--format',
          'json',
        ]);
        const json = JSON.parse(rep.stdout) as {
          traffic: { requests: number };
          review: { checks: { id: string; status: string }[] };
        };
        assert.equal(json.review.checks.length, 10);
        assert.equal(json.review.checks.find((c) => c.id === 'canaries')?.status, 'pass');
        assert.equal(json.traffic.requests, 0, 'no client traffic yet: the canary is not counted');
        const s = openStore(storePath, { readonly: true });
        assert.ok(
          s.query({ since: 0 }, 100).some((r) => r.kind === 'request'),
          'the canary is on the record',
        );
        s.close();
      } finally {
        child.kill('SIGTERM');
        await exited;
      }
    });
  });
});
