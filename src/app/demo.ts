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
  close(): Promise<void>;
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
  for (let i = 1; i <= count; i++) {
    const s = http.createServer(demoHandler(`demo-${i}`));
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    servers.push(s);
  }
  return {
    ports: servers.map((s) => (s.address() as AddressInfo).port),
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

export function demoConfig(listen: string, ports: number[], admin = '127.0.0.1:9090'): string {
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
audit:
  store: { type: sqlite, path: audit.db }
admin:
  address: ${admin}
`;
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
      ttlMs: null,
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
  tollgate verify --data ${dataDir}                     # the chain and its signed checkpoints
${adminTry}
Ctrl-C drains and stops.
`;
}
