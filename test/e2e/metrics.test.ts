import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../helpers/audit.js';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { token } from '../helpers/tokens.js';
import type { Harness } from '../helpers/tollgate.js';
import { startTollgate } from '../helpers/tollgate.js';

/**
 * `GET /metrics` (issue 5, "Deliver" 1; SPEC §5): the families in the Prometheus text format,
 * checked by `promtool check metrics` and scraped by a real Prometheus server whose own query API
 * must then return the counts of the requests this test sent.
 */

describe('metrics: Prometheus exposition scraped by a real Prometheus', () => {
  let ok: TestBackend;
  let failing: TestBackend;
  let h: Harness;
  let secret: string;
  let prom: ChildProcess | null = null;
  let promDir: string;
  let promPort: number;

  before(async () => {
    ok = await startBackend('ok-1');
    failing = await startBackend('bad-1', (_req, res) => {
      res.writeHead(503);
      res.end('down');
    });
    h = await startTollgate(`listeners:
  - { name: public, address: 127.0.0.1:0 }
routes:
  - { name: good, match: { path_prefix: /good }, pool: good }
  - { name: bad, match: { path_prefix: /bad }, pool: bad }
pools:
  - { name: good, backends: [ { name: ok-1, address: ${ok.address} } ] }
  - { name: bad, backends: [ { name: bad-1, address: ${failing.address} } ], retries: { attempts: 0 } }
admin: { address: 127.0.0.1:0 }
`);
    secret = token(h, 'prometheus', 'viewer');
    promDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-prom-'));
  });
  after(async () => {
    if (prom !== null && prom.exitCode === null) {
      prom.kill('SIGTERM');
      await new Promise((r) => prom!.once('exit', r));
    }
    fs.rmSync(promDir, { recursive: true, force: true });
    await h.close();
    await ok.close();
    await failing.close();
  });

  const scrape = async (bearer: string | null) => {
    const res = await fetch(`http://127.0.0.1:${h.app.admin!.port()}/metrics`, {
      headers: bearer === null ? {} : { authorization: `Bearer ${bearer}` },
    });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };

  it('counts requests by route, backend, code class and termination, and passes promtool check metrics', async () => {
    for (let i = 0; i < 5; i++) await (await fetch(h.url('/good/x'))).text();
    for (let i = 0; i < 2; i++) await (await fetch(h.url('/bad/y'))).text();
    await (await fetch(h.url('/nowhere'))).text();
    assert.equal((await scrape(null)).status, 401, 'metrics need a token unless metrics_public');
    const m = await scrape(secret);
    assert.equal(m.status, 200);
    assert.equal(m.type, 'text/plain; version=0.0.4; charset=utf-8');
    const line = (s: string) => m.text.split('\n').find((l) => l.startsWith(s));
    assert.equal(
      line(
        'tollgate_requests_total{listener="public",route="good",pool="good",backend="ok-1",code_class="2xx",termination="ok"}',
      ),
      'tollgate_requests_total{listener="public",route="good",pool="good",backend="ok-1",code_class="2xx",termination="ok"} 5',
    );
    assert.match(
      line(
        'tollgate_requests_total{listener="public",route="bad",pool="bad",backend="bad-1",code_class="5xx"',
      ) ?? '',
      / 2$/,
    );
    assert.match(
      line(
        'tollgate_requests_total{listener="public",route="",pool="",backend="",code_class="4xx",termination="no_route"}',
      ) ?? '',
      / 1$/,
    );
    assert.match(
      line(
        'tollgate_request_duration_seconds_count{listener="public",route="good",pool="good",backend="ok-1",code_class="2xx"}',
      ) ?? '',
      / 5$/,
    );
    assert.match(
      line(
        'tollgate_request_duration_seconds_bucket{listener="public",route="good",pool="good",backend="ok-1",code_class="2xx",le="+Inf"}',
      ) ?? '',
      / 5$/,
    );
    assert.match(
      line('tollgate_upstream_attempts_total{pool="bad",backend="bad-1",termination="ok"}') ?? '',
      / 2$/,
    );
    assert.equal(
      line('tollgate_backend_up{pool="good",backend="ok-1"}'),
      'tollgate_backend_up{pool="good",backend="ok-1"} 1',
    );
    assert.match(line('tollgate_audit_records_lost_total{sink="store"}') ?? '', / 0$/);
    assert.match(
      line('tollgate_admin_requests_total{role="none",result="4xx"}') ?? '',
      / 1$/,
      'the refused scrape',
    );
    const check = spawnSync('promtool', ['check', 'metrics'], { input: m.text, encoding: 'utf8' });
    assert.equal(check.error, undefined, 'promtool is installed (scripts/test.sh installs prometheus)');
    assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
  });

  it('a real Prometheus scrapes it with a bearer token and its query API returns the counts', async () => {
    promPort = await freePort();
    const config = path.join(promDir, 'prometheus.yml');
    fs.writeFileSync(
      config,
      `global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: tollgate
    authorization: { credentials: ${secret} }
    static_configs: [ { targets: ['127.0.0.1:${h.app.admin!.port()}'] } ]
`,
    );
    prom = spawn(
      'prometheus',
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${path.join(promDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    prom.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
    const query = async (q: string) => {
      const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
      return (await res.json()) as {
        status: string;
        data: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
    };
    let result: { metric: Record<string, string>; value: [number, string] }[] = [];
    for (let i = 0; i < 200 && result.length === 0; i++) {
      await sleep(100);
      try {
        result = (await query('sum by (route, code_class) (tollgate_requests_total{route!=""})')).data.result;
      } catch {}
    }
    assert.ok(result.length > 0, `Prometheus never scraped Tollgate: ${log.slice(-2000)}`);
    const byKey = Object.fromEntries(
      result.map((r) => [`${r.metric.route}/${r.metric.code_class}`, Number(r.value[1])]),
    );
    assert.deepEqual(byKey, { 'good/2xx': 5, 'bad/5xx': 2 });
    const up = (await query('tollgate_backend_up')).data.result;
    assert.deepEqual(up.map((r) => [r.metric.backend, r.value[1]]).sort(), [
      ['bad-1', '1'],
      ['ok-1', '1'],
    ]);
    const target = (await query('up{job="tollgate"}')).data.result;
    assert.equal(target[0]?.value[1], '1', 'the scrape itself succeeded (bearer token accepted)');
  });
});
