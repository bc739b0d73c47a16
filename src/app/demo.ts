import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createToken, revokeToken } from '../admin/index.js';
import { openStore } from '../store/index.js';

/**
 * `tollgate start --demo`: three small backends on loopback and a config that puts them behind
 * one listener, so a newcomer can see routing, retries and records without writing anything.
 *
 * Each backend answers: `/healthz` 200; `/slow?ms=N` after N ms; `/status/NNN` with that status;
 * anything else a JSON echo naming the backend and the ids Tollgate sent it.
 */
export interface DemoBackends {
  ports: number[];
  /** The demo's collector: takes OTLP logs at /v1/logs and alert webhooks at /alerts. */
  collectorPort: number;
  close(): Promise<void>;
}

/**
 * Stands in for the central log server and the on-call webhook a real deployment ships to
 * (an OpenTelemetry collector, a SIEM, a chat channel): it accepts OTLP/HTTP JSON log batches and
 * alert webhooks, counts them, and prints each alert's summary on stderr.
 */
function collectorHandler(): http.RequestListener {
  let logRecords = 0;
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (req.method === 'POST' && req.url === '/v1/logs') {
        logRecords += (body.match(/"timeUnixNano"/g) ?? []).length;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
        return;
      }
      if (req.method === 'POST' && req.url === '/alerts') {
        try {
          const a = JSON.parse(body) as { summary?: string; status?: string };
          process.stderr.write(
            `demo collector: alert ${a.status ?? ''}: ${a.summary ?? body.slice(0, 200)}\n`,
          );
        } catch {
          process.stderr.write(`demo collector: alert: ${body.slice(0, 200)}\n`);
        }
        res.end('ok');
        return;
      }
      res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/plain' });
      res.end(`demo collector: ${logRecords} log records received\n`);
    });
  };
}

function demoHandler(name: string): http.RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://demo');
    const reply = () => {
      const status = url.pathname.startsWith('/status/') ? Number(url.pathname.slice(8)) || 200 : 200;
      const body = JSON.stringify({
        backend: name,
        method: req.method,
        path: url.pathname,
        request_id: req.headers['x-request-id'] ?? null,
        traceparent: req.headers.traceparent ?? null,
        forwarded_for: req.headers['x-forwarded-for'] ?? null,
      });
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    };
    req.resume();
    if (url.pathname === '/healthz') {
      res.end('ok');
      return;
    }
    if (url.pathname === '/slow') {
      setTimeout(reply, Math.min(Number(url.searchParams.get('ms')) || 1000, 60_000));
      return;
    }
    reply();
  };
}

export async function startDemoBackends(count = 3): Promise<DemoBackends> {
  const servers: http.Server[] = [];
  for (let i = 0; i <= count; i++) {
    const s = http.createServer(i === 0 ? collectorHandler() : demoHandler(`demo-${i}`));
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    servers.push(s);
  }
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  return {
    collectorPort: ports[0]!,
    ports: ports.slice(1),
    close: async () => {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((r) => {
              s.closeAllConnections();
              s.close(() => r());
            }),
        ),
      );
    },
  };
}

export function demoConfig(
  listen: string,
  ports: number[],
  admin = '127.0.0.1:9090',
  collectorPort: number | null = null,
): string {
  const collector =
    collectorPort === null
      ? ''
      : `  sinks:
    - { type: otlp, endpoint: http://127.0.0.1:${collectorPort}/v1/logs }
  canary: { interval: 60s, deadline: 10s }
alerts:
  notifiers:
    - { name: demo-collector, type: webhook, url: http://127.0.0.1:${collectorPort}/alerts }
  rules:
    - { name: errors, when: error_rate, above: 20%, window: 1m, notify: [demo-collector] }
    - { name: auth-failures, when: auth_failures, above: 1/s, window: 1m, notify: [demo-collector] }
    - { name: audit-lag, when: audit_lag, above: 30s, notify: [demo-collector] }
    - { name: audit-lost, when: audit_lost, notify: [demo-collector] }
    - { name: audit-canary, when: audit_canary, notify: [demo-collector] }
review:
  # the shipped PCI DSS v4 baseline, except that the demo's collector (on this machine) stands in
  # for the central log server
  baseline: ./tollgate-data/demo-baseline.yaml
`;
  return `# tollgate --demo: three backends on loopback behind one listener
data_dir: ./tollgate-data
listeners:
  - name: public
    address: ${listen}
routes:
  - name: demo
    match: { path_prefix: / }
    pool: demo
    owner: demo-team
    tags: { env: demo }
pools:
  - name: demo
    algorithm: round_robin
    backends:
${ports.map((p, i) => `      - { name: demo-${i + 1}, address: 127.0.0.1:${p} }`).join('\n')}
    health_check: { path: /healthz, interval: 2s, timeout: 1s, healthy_threshold: 2, unhealthy_threshold: 2 }
    retries: { attempts: 2, on: [connect_failure, reset, 502, 503], budget_percent: 50 }
    timeouts: { connect: 1s, response_header: 10s, idle: 30s }
admin:
  address: ${admin}
audit:
  store: { type: sqlite, path: audit.db, retention: 400d }
${collector}`;
}

/** The demo's baseline: the shipped one, with the demo collector on loopback allowed as the log server. */
export function demoBaseline(shipped: string): string {
  return `# tollgate --demo: the shipped baseline with one change: the demo's collector runs on this
# machine, so a loopback sink counts as "off the machine" here. Never in production.
${shipped.replace('allow_loopback: false', 'allow_loopback: true')}`;
}

/**
 * A fresh admin token for the demo, printed in the banner: a live `demo-admin` of an earlier run
 * is revoked first (tokens are stored only as hashes, so the old one cannot be shown again).
 */
export function demoToken(storePath: string): string {
  const store = openStore(storePath);
  try {
    const now = Date.now();
    const old = store.tokens.get('demo-admin');
    if (old !== null && old.revokedAt === null)
      revokeToken(store.tokens, 'demo-admin', 'tollgate-demo', null, null, now);
    return createToken(store.tokens, {
      name: 'demo-admin',
      role: 'admin',
      ttlMs: 7 * 86_400_000,
      actor: 'tollgate-demo',
      actorRole: null,
      source: null,
      now,
    }).token;
  } finally {
    store.close();
  }
}

export function demoBanner(
  url: string,
  dataDir: string,
  adminUrl: string | null = null,
  token: string | null = null,
): string {
  const admin =
    adminUrl === null || token === null
      ? ''
      : `  dashboard: ${adminUrl}/  (open it in a browser; sign in with the token below)
  admin API: ${adminUrl}/api/v1  (the same token; role admin)
  token:     ${token}
`;
  const adminTry =
    adminUrl === null || token === null
      ? ''
      : `  curl -s -H "Authorization: Bearer ${token}" ${adminUrl}/api/v1/events   # who did what on the admin side
  tollgate tail --admin ${adminUrl} --token ${token}      # live records
`;
  return `
Tollgate demo is running.

  proxy:     ${url}
${admin}  records:   ${dataDir}/audit.db (the embedded store; every request and admin event, hash-chained)

Try:
  curl -i ${url}/                    # round robin over demo-1..3; note x-request-id
  curl -i ${url}/status/503          # retried on the other backends, then passed through
  curl -i ${url}/slow?ms=500         # a slow answer; see the timings
  tollgate query --data ${dataDir} --since 10m          # what happened (npx tollgate … from the checkout)
  tollgate explain --data ${dataDir} REQUEST_ID         # one request's whole story
  tollgate verify --data ${dataDir}                     # the chain, its signed checkpoints, the heartbeats
  tollgate review -c tollgate-demo.yaml                 # the audit set-up against PCI DSS v4 requirement 10
${adminTry}
Ctrl-C drains and stops.
`;
}
