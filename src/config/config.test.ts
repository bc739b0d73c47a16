import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import {
  ConfigError,
  checkConfigText,
  compileConfigText,
  configJsonSchema,
  diffConfig,
  formatProblem,
  loadConfigFile,
} from './index.js';

// A self-signed P-256 certificate and its key (CN=localhost, valid until 2126), for TLS tests.
const CERT = `-----BEGIN CERTIFICATE-----
MIIBfjCCASWgAwIBAgIUBGKSbAInCcr5NnKeFbOVOj/fXnAwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNTE1MjUxNVoYDzIxMjYxMTAx
MTUyNTE1WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATE8EpMQpxkXO7G1K6m542J6yKm44A+NSVaEl1K4joC+6FQBkfMLIEH
KwJhQM13wzRWa5gNh7ZDgUt0sZbjJCMRo1MwUTAdBgNVHQ4EFgQU2H3N7rl7/dfI
fN7SPf9UqSQ0pgcwHwYDVR0jBBgwFoAU2H3N7rl7/dfIfN7SPf9UqSQ0pgcwDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiBeZyyi+u0YkBmQRsRU5Atd
Zdy6jrCmCJioRNX7KbjRsAIgOihYM0FnJYlERUrgjK4iwHrCfGKny+c7bpZkNknO
7KE=
-----END CERTIFICATE-----
`;
const KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgH5zVX7Cy426fALRE
yD1Oucoa1u+C3O7Wyr08pnkNBZmhRANCAATE8EpMQpxkXO7G1K6m542J6yKm44A+
NSVaEl1K4joC+6FQBkfMLIEHKwJhQM13wzRWa5gNh7ZDgUt0sZbjJCMR
-----END PRIVATE KEY-----
`;

/** A full SPEC §2 config using everything this build supports. */
const FULL = `data_dir: ./data
workers: auto
listeners:
  - name: public
    address: 127.0.0.1:0
    trusted_proxies: [10.0.0.0/8, 192.168.1.7, "::1/128"]
    limits: { max_header_bytes: 32kb, headers_timeout: 5s }
  - name: secure
    address: "[::1]:0"
    tls: { cert: tls/cert.pem, key: tls/key.pem, client_ca: tls/cert.pem }
routes:
  - name: api
    match: { host: API.Example.com, path_prefix: /v1, methods: [get, POST] }
    pool: api
    owner: team-payments
    tags: { env: prod, tier: 1 }
  - name: wild
    match: { host: "*.example.com" }
    pool: web
pools:
  - name: api
    algorithm: consistent_hash
    hash_key: header:X-User
    sticky: { cookie: tg_sticky }
    backends:
      - { name: api-1, address: 127.0.0.1:9001, weight: 3 }
      - { name: api-2, address: "[::1]:9002" }
    health_check: { path: /healthz, interval: 2s, timeout: 500ms, healthy_threshold: 2, unhealthy_threshold: 3 }
    outlier_detection: { consecutive_failures: 5, ejection_time: 30s }
    retries: { attempts: 2, on: [connect_failure, reset, 502, 503, upstream_response_timeout], budget_percent: 25 }
    timeouts: { connect: 1s, response_header: 10s, idle: 2m }
    max_connections: 64
  - name: web
    backends:
      - { name: web-1, address: localhost:9101 }
audit:
  store: { type: sqlite, path: audit.db, retention: 7d }
  sinks:
    - { type: jsonl, path: requests.jsonl, rotate: 100mb, keep: 5 }
    - { type: combined, path: /var/log/tollgate/access.log }
    - { type: stdout }
  capture_headers: [User-Agent, x-request-id]
  redact: { headers: [Authorization], query_params: [Token] }
  on_failure: fail_closed
  durability: strict
  chain: { enabled: true, checkpoint_interval: 30s }
admin:
  address: 127.0.0.1:0
  lockout: { failures: 3, window: 10m }
  metrics_public: true
alerts:
  notifiers:
    - { name: oncall, type: webhook, url: http://127.0.0.1:7000/hook }
  rules:
    - { name: api-5xx, when: error_rate, route: api, above: 5%, for: 1m, notify: [oncall] }
    - { name: hot-ip, when: client_rate, above: 200/s, notify: [oncall] }
    - { name: slow, when: latency_p99, pool: api, above: 500ms, for: 1m }
    - { name: down, when: backend_down }
`;

/** The smallest useful config; the problem cases below are variations of it. */
const MINIMAL = `listeners:
  - name: public
    address: 127.0.0.1:0
routes:
  - name: api
    pool: api
pools:
  - name: api
    backends:
      - { name: api-1, address: 127.0.0.1:9001 }
`;

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-config-'));
  mkdirSync(join(dir, 'tls'));
  writeFileSync(join(dir, 'tls', 'cert.pem'), CERT);
  writeFileSync(join(dir, 'tls', 'key.pem'), KEY);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The problems of a config text as `check` prints them. */
function check(text: string, file = 't.yaml'): string[] {
  return checkConfigText(text, file).map(formatProblem);
}

describe('compile', () => {
  test('a full config compiles to ms, bytes, sets and absolute paths', () => {
    const file = join(dir, 'tollgate.yaml');
    const plan = compileConfigText(FULL, file);
    assert.equal(plan.source, file);
    assert.equal(plan.dataDir, join(dir, 'data'));
    assert.ok(Number.isInteger(plan.workers) && plan.workers >= 1);
    assert.equal(plan.text, FULL);

    const [pub, secure] = plan.listeners;
    assert.deepEqual([pub?.name, pub?.host, pub?.port, pub?.tls], ['public', '127.0.0.1', 0, null]);
    assert.deepEqual(pub?.limits, {
      maxHeaderBytes: 32 * 1024,
      headersTimeoutMs: 5000,
      requestTimeoutMs: 60_000,
      sendTimeoutMs: 60_000,
      maxConnectionsPerIp: 256,
    });
    assert.equal(pub?.trustedProxies?.check('10.1.2.3'), true);
    assert.equal(pub?.trustedProxies?.check('192.168.1.7'), true);
    assert.equal(pub?.trustedProxies?.check('192.168.1.8'), false);
    assert.equal(pub?.trustedProxies?.check('::1', 'ipv6'), true);
    assert.deepEqual([secure?.host, secure?.port], ['::1', 0]);
    assert.equal(secure?.tls?.cert.toString(), CERT);
    assert.equal(secure?.tls?.key.toString(), KEY);
    assert.equal(secure?.tls?.clientCa?.toString(), CERT);
    assert.equal(secure?.trustedProxies, null);

    const [api, wild] = plan.routes;
    assert.equal(api?.host, 'api.example.com');
    assert.equal(api?.pathPrefix, '/v1');
    assert.deepEqual([...(api?.methods ?? [])], ['GET', 'POST']);
    assert.deepEqual(
      [api?.pool, api?.owner, api?.tags],
      ['api', 'team-payments', { env: 'prod', tier: '1' }],
    );
    assert.deepEqual(
      [wild?.host, wild?.pathPrefix, wild?.methods, wild?.owner, wild?.tags],
      ['*.example.com', null, null, null, null],
    );

    const pool = plan.pools.get('api');
    assert.equal(pool?.algorithm, 'consistent_hash');
    assert.deepEqual(pool?.hashKey, { kind: 'header', name: 'x-user' });
    assert.deepEqual(pool?.sticky, { cookie: 'tg_sticky' });
    assert.deepEqual(pool?.backends, [
      { name: 'api-1', address: '127.0.0.1:9001', host: '127.0.0.1', port: 9001, weight: 3 },
      { name: 'api-2', address: '[::1]:9002', host: '::1', port: 9002, weight: 1 },
    ]);
    assert.deepEqual(pool?.healthCheck, {
      path: '/healthz',
      intervalMs: 2000,
      timeoutMs: 500,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
    });
    assert.deepEqual(pool?.outlier, { consecutiveFailures: 5, ejectionTimeMs: 30_000 });
    assert.equal(pool?.retries.attempts, 2);
    assert.deepEqual([...(pool?.retries.onFailures ?? [])].sort(), [
      'upstream_connect_refused',
      'upstream_connect_timeout',
      'upstream_reset',
      'upstream_response_timeout',
      'upstream_tls_error',
    ]);
    assert.deepEqual([...(pool?.retries.onStatuses ?? [])], [502, 503]);
    assert.equal(pool?.retries.budget, 0.25);
    assert.deepEqual(pool?.timeouts, { connectMs: 1000, responseHeaderMs: 10_000, idleMs: 120_000 });
    assert.equal(pool?.maxConnections, 64);
    assert.deepEqual(plan.pools.get('web')?.backends[0], {
      name: 'web-1',
      address: 'localhost:9101',
      host: 'localhost',
      port: 9101,
      weight: 1,
    });

    const audit = plan.audit;
    assert.equal(audit.storePath, join(dir, 'data', 'audit.db'));
    assert.equal(audit.retentionMs, 7 * 86_400_000);
    assert.deepEqual(audit.sinks, [
      {
        type: 'jsonl',
        options: {
          path: join(dir, 'data', 'requests.jsonl'),
          rotate: '100mb',
          keep: 5,
          rotateBytes: 100 * 1024 ** 2,
        },
      },
      { type: 'combined', options: { path: '/var/log/tollgate/access.log' } },
      { type: 'stdout', options: {} },
    ]);
    assert.deepEqual(audit.captureHeaders, ['user-agent', 'x-request-id']);
    assert.deepEqual([...audit.redactHeaders], ['authorization']);
    assert.deepEqual([...audit.redactQueryParams], ['token']);
    assert.deepEqual(
      [audit.onFailure, audit.durability, audit.chain],
      ['fail_closed', 'strict', { enabled: true, checkpointIntervalMs: 30_000, verifyIntervalMs: 3_600_000 }],
    );

    assert.deepEqual(plan.admin, {
      host: '127.0.0.1',
      port: 0,
      tls: null,
      lockout: { failures: 3, windowMs: 600_000 },
      metricsPublic: true,
    });
  });

  test('defaults apply when a config leaves things out', () => {
    const plan = compileConfigText(MINIMAL, join(dir, 'minimal.yaml'));
    assert.equal(plan.workers, 1);
    assert.equal(plan.dataDir, join(dir, 'tollgate-data'));
    assert.equal(plan.admin, null);
    assert.deepEqual(plan.listeners[0]?.limits, {
      maxHeaderBytes: 16 * 1024,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 60_000,
      sendTimeoutMs: 60_000,
      maxConnectionsPerIp: 256,
    });
    const pool = plan.pools.get('api');
    assert.deepEqual(
      [pool?.algorithm, pool?.hashKey, pool?.sticky, pool?.healthCheck, pool?.outlier],
      ['round_robin', null, null, null, null],
    );
    assert.equal(pool?.backends[0]?.weight, 1);
    assert.equal(pool?.retries.attempts, 1);
    assert.deepEqual([...(pool?.retries.onFailures ?? [])].sort(), [
      'upstream_connect_refused',
      'upstream_connect_timeout',
      'upstream_tls_error',
    ]);
    assert.equal(pool?.retries.onStatuses.size, 0);
    assert.equal(pool?.retries.budget, 0.2);
    assert.deepEqual(pool?.timeouts, { connectMs: 2000, responseHeaderMs: 30_000, idleMs: 60_000 });
    assert.equal(pool?.maxConnections, 1024);
    const audit = plan.audit;
    assert.equal(audit.storePath, join(dir, 'tollgate-data', 'audit.db'));
    assert.equal(audit.retentionMs, 30 * 86_400_000);
    assert.deepEqual(audit.sinks, []);
    assert.deepEqual(audit.captureHeaders, ['user-agent', 'referer', 'x-request-id']);
    assert.deepEqual(
      [...audit.redactHeaders],
      ['authorization', 'cookie', 'set-cookie', 'proxy-authorization'],
    );
    assert.deepEqual([...audit.redactQueryParams], ['token', 'password', 'key', 'access_token']);
    assert.deepEqual(
      [audit.onFailure, audit.durability, audit.chain],
      ['fail_open', 'batched', { enabled: true, checkpointIntervalMs: 60_000, verifyIntervalMs: 3_600_000 }],
    );
    assert.equal(audit.heartbeatMs, 60_000);
    assert.equal(audit.canary, null, 'no canaries unless configured');
    assert.equal(plan.reviewBaseline, null);
  });

  test('audit.canary compiles to ms on the first listener by default; a listener it names must exist', () => {
    const plan = compileConfigText(
      `${MINIMAL}audit:\n  heartbeat: 5s\n  canary: { interval: 30s }\n`,
      join(dir, 'canary.yaml'),
    );
    assert.deepEqual(plan.audit.canary, { intervalMs: 30_000, deadlineMs: 10_000, listener: 'public' });
    assert.equal(plan.audit.heartbeatMs, 5000);
    assert.deepEqual(
      checkConfigText(`${MINIMAL}audit:\n  canary: { listener: nope }\n`, 'c.yaml').map((p) => p.message),
      ['listener "nope" is not defined (defined listeners: public)'],
    );
  });

  test('an admin section without an address listens on 127.0.0.1:9090 with the default lockout', () => {
    const plan = compileConfigText(`${MINIMAL}admin: {}\n`, join(dir, 'admin.yaml'));
    assert.deepEqual(plan.admin, {
      host: '127.0.0.1',
      port: 9090,
      tls: null,
      lockout: { failures: 5, windowMs: 300_000 },
      metricsPublic: false,
    });
  });

  test('the plan and its config data are frozen', () => {
    const plan = compileConfigText(MINIMAL, join(dir, 'minimal.yaml'));
    assert.ok(Object.isFrozen(plan) && Object.isFrozen(plan.listeners) && Object.isFrozen(plan.listeners[0]));
    assert.ok(Object.isFrozen(plan.pools.get('api')?.backends[0]) && Object.isFrozen(plan.config));
    assert.throws(() => {
      (plan.routes as unknown[]).push({});
    }, TypeError);
  });

  test('the config data keeps the defaults applied', () => {
    const plan = compileConfigText(MINIMAL, '<inline>');
    assert.equal(plan.source, '<inline>');
    const config = plan.config as { workers: number; pools: { retries: { attempts: number } }[] };
    assert.equal(config.workers, 1);
    assert.equal(config.pools[0]?.retries.attempts, 1);
  });
});

describe('check', () => {
  const cases: { name: string; text: string; expected: string[] }[] = [
    { name: 'a valid config has no problems', text: MINIMAL, expected: [] },
    {
      name: 'unknown key, at the key',
      text: MINIMAL.replace('127.0.0.1:0\n', '127.0.0.1:0\n    mode: fast\n'),
      expected: ['t.yaml:4:5 listeners[0].mode: unknown key "mode"'],
    },
    {
      name: 'misspelled key: unknown key and the missing one',
      text: MINIMAL.replace('    address: 127.0.0.1:0', '    adress: 127.0.0.1:0'),
      expected: [
        't.yaml:2:5 listeners[0].address: missing required key "address"',
        't.yaml:3:5 listeners[0].adress: unknown key "adress"',
      ],
    },
    {
      name: 'wrong type, at the value',
      text: `${MINIMAL}    max_connections: lots\n`,
      expected: ['t.yaml:11:22 pools[0].max_connections: expected a number, got "lots"'],
    },
    {
      name: 'a list where a mapping was expected',
      text: MINIMAL.replace('routes:\n  - name: api\n    pool: api\n', 'routes: oops\n'),
      expected: ['t.yaml:4:9 routes: expected a list, got "oops"'],
    },
    {
      name: 'workers that is neither a number nor auto',
      text: `workers: many\n${MINIMAL}`,
      expected: ['t.yaml:1:10 workers: workers must be a whole number of at least 1, or auto; got "many"'],
    },
    {
      name: 'workers > 1 in fleet mode',
      text: `workers: 2\n${MINIMAL}fleet: { instance: edge-1 }\n`,
      expected: [
        't.yaml:1:10 workers: fleet mode runs one process per instance: set workers: 1 (and run more instances instead)',
      ],
    },
    {
      name: 'out-of-range weight',
      text: MINIMAL.replace('127.0.0.1:9001 }', '127.0.0.1:9001, weight: 300 }'),
      expected: ['t.yaml:10:57 pools[0].backends[0].weight: weight must be between 1 and 256'],
    },
    {
      name: 'bad duration',
      text: `${MINIMAL}    timeouts: { connect: 5x }\n`,
      expected: ['t.yaml:11:26 pools[0].timeouts.connect: expected a duration like 500ms or 2s, got "5x"'],
    },
    {
      name: 'bad size',
      text: MINIMAL.replace('127.0.0.1:0\n', '127.0.0.1:0\n    limits: { max_header_bytes: lots }\n'),
      expected: [
        't.yaml:4:33 listeners[0].limits.max_header_bytes: expected a size like 64kb or 1mb, got "lots"',
      ],
    },
    {
      name: 'address without a port',
      text: MINIMAL.replace('address: 127.0.0.1:0', 'address: 127.0.0.1'),
      expected: [
        't.yaml:3:14 listeners[0].address: expected an address like 127.0.0.1:8080 or [::1]:8080, got "127.0.0.1"',
      ],
    },
    {
      name: 'backend port out of range (0 is only for listeners)',
      text: MINIMAL.replace('127.0.0.1:9001', '127.0.0.1:0'),
      expected: ['t.yaml:10:33 pools[0].backends[0].address: port must be between 1 and 65535, got 0'],
    },
    {
      name: 'IPv6 without brackets',
      text: MINIMAL.replace('address: 127.0.0.1:0', 'address: "::1:8080"'),
      expected: [
        't.yaml:3:14 listeners[0].address: expected an address like 127.0.0.1:8080 or [::1]:8080, got "::1:8080" (write IPv6 addresses in brackets)',
      ],
    },
    {
      name: 'undefined pool reference',
      text: MINIMAL.replace('    pool: api', '    pool: api2')
        .replace('backends:\n', 'backends:\n      - { name: w, address: 127.0.0.1:9002 }\n')
        .concat('  - name: web\n    backends: [{ name: w, address: 127.0.0.1:9003 }]\n'),
      expected: ['t.yaml:6:11 routes[0].pool: pool "api2" is not defined (defined pools: api, web)'],
    },
    {
      name: 'duplicate backend name',
      text: `${MINIMAL}      - { name: api-1, address: 127.0.0.1:9002 }\n`,
      expected: [
        't.yaml:11:17 pools[0].backends[1].name: duplicate backend name "api-1" (already used by backends[0])',
      ],
    },
    {
      name: 'duplicate route name',
      text: MINIMAL.replace('pools:', '  - name: api\n    pool: api\npools:'),
      expected: ['t.yaml:7:11 routes[1].name: duplicate route name "api" (already used by routes[0])'],
    },
    {
      name: 'missing hash_key for consistent_hash, at the pool',
      text: MINIMAL.replace(
        '  - name: api\n    backends:',
        '  - name: api\n    algorithm: consistent_hash\n    backends:',
      ),
      expected: [
        't.yaml:8:5 pools[0].hash_key: missing required key "hash_key" (consistent_hash needs client_ip, header:NAME or cookie:NAME)',
      ],
    },
    {
      name: 'unknown enum value',
      text: MINIMAL.replace(
        '  - name: api\n    backends:',
        '  - name: api\n    algorithm: roundrobin\n    backends:',
      ),
      expected: [
        't.yaml:9:16 pools[0].algorithm: expected one of round_robin, weighted_round_robin, least_connections, p2c_ewma, consistent_hash, got "roundrobin"',
      ],
    },
    {
      name: 'unknown sink type',
      text: `${MINIMAL}audit:\n  sinks: [{ type: kafka }]\n`,
      expected: [
        't.yaml:12:19 audit.sinks[0].type: unknown type "kafka" (expected one of jsonl, combined, stdout, syslog, otlp, postgres)',
      ],
    },
    {
      name: 'listener and admin API on the same address',
      text: `${MINIMAL.replace('127.0.0.1:0', '127.0.0.1:9090')}admin: {}\n`,
      expected: ['t.yaml:11:1 admin.address: address 127.0.0.1:9090 is already used by listener "public"'],
    },
    {
      name: 'rule notifying an undefined notifier',
      text: `${MINIMAL}alerts:\n  rules:\n    - { name: r, when: audit_lag, above: 5s, notify: [pager] }\n`,
      expected: [
        't.yaml:13:55 alerts.rules[0].notify[0]: notifier "pager" is not defined (no notifiers are defined)',
      ],
    },
    {
      name: 'YAML syntax error',
      text: MINIMAL.replace('    pool: api', '    pool: [api'),
      expected: [
        't.yaml:7:1: YAML syntax error: flow sequence in block collection must be sufficiently indented and end with a ]',
      ],
    },
    {
      name: 'duplicate YAML key',
      text: MINIMAL.replace('    pool: api', '    pool: api\n    pool: web'),
      expected: ['t.yaml:7:5: YAML syntax error: map keys must be unique'],
    },
    { name: 'empty file', text: '# nothing\n', expected: ['t.yaml:1:1: the config is empty'] },
    {
      name: 'a fleet etcd prefix must be a folder',
      text: `${MINIMAL}fleet:\n  etcd: { endpoints: [http://127.0.0.1:2379], prefix: tollgate }\n`,
      expected: ['t.yaml:12:55 fleet.etcd.prefix: the prefix starts and ends with "/", like /tollgate/'],
    },
    {
      name: 'a fleet redis url must be redis://',
      text: `${MINIMAL}fleet:\n  redis: { url: http://127.0.0.1:6379 }\n`,
      expected: ['t.yaml:12:17 fleet.redis.url: expected a redis:// URL'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(check(c.text), c.expected));
  }

  test('fleet: the instance name defaults to the host name and a hash of the data dir, stable across compiles', () => {
    const text = `${MINIMAL}fleet:\n  etcd: { endpoints: [http://127.0.0.1:2379] }\n  redis: { url: redis://127.0.0.1:6379 }\n`;
    const a = compileConfigText(text, '/tmp/a/t.yaml');
    const b = compileConfigText(text, '/tmp/a/t.yaml');
    const other = compileConfigText(text, '/tmp/b/t.yaml');
    assert.ok(a.fleet !== null);
    assert.equal(a.fleet.instance, b.fleet!.instance);
    assert.notEqual(a.fleet.instance, other.fleet!.instance, 'another data dir is another instance');
    assert.deepEqual(a.fleet.etcd, {
      endpoints: ['http://127.0.0.1:2379'],
      prefix: '/tollgate/',
      leaseTtlS: 10,
    });
    assert.deepEqual(a.fleet.redis, { url: 'redis://127.0.0.1:6379', timeoutMs: 500 });
    const named = compileConfigText(`${MINIMAL}fleet:\n  instance: edge-1\n`, '/tmp/a/t.yaml');
    assert.equal(named.fleet?.instance, 'edge-1');
    assert.equal(compileConfigText(MINIMAL, '/tmp/a/t.yaml').fleet, null);
  });

  test('an unreadable TLS file is a problem at its value naming the absolute path', () => {
    const text = MINIMAL.replace(
      '127.0.0.1:0\n',
      '127.0.0.1:0\n    tls: { cert: tls/cert.pem, key: tls/missing.pem }\n',
    );
    const file = join(dir, 'tls.yaml');
    assert.deepEqual(check(text, file), [
      `${file}:4:37 listeners[0].tls.key: cannot read ${join(dir, 'tls', 'missing.pem')}: no such file`,
    ]);
  });

  test('TLS files that are not PEM are a problem at the tls key', () => {
    const text = MINIMAL.replace(
      '127.0.0.1:0\n',
      '127.0.0.1:0\n    tls: { cert: tls/key.pem, key: tls.yaml }\n',
    );
    writeFileSync(join(dir, 'tls.yaml'), 'not a key');
    const file = join(dir, 'tls.yaml');
    const [problem, ...rest] = check(text, file);
    assert.equal(rest.length, 0);
    assert.match(problem ?? '', /^.*:4:5 listeners\[0\]\.tls: cannot use these TLS files: /);
  });

  test('every problem in a file is reported, in file order', () => {
    const text = `workers: 0
listeners:
  - name: public
    address: 127.0.0.1:99999
    limits: { headers_timeout: 5x }
  - name: public
    address: 127.0.0.1:8080
routes:
  - name: api
    pool: nope
pools:
  - name: api
    backends:
      - { name: a, address: 127.0.0.1:9001, weight: 0 }
      - { name: a, address: 127.0.0.1:9002, colour: blue }
`;
    assert.deepEqual(check(text), [
      't.yaml:1:10 workers: workers must be at least 1 (or auto)',
      't.yaml:4:14 listeners[0].address: port must be between 0 and 65535, got 99999',
      't.yaml:5:32 listeners[0].limits.headers_timeout: expected a duration like 500ms or 2s, got "5x"',
      't.yaml:6:11 listeners[1].name: duplicate listener name "public" (already used by listeners[0])',
      't.yaml:10:11 routes[0].pool: pool "nope" is not defined (defined pools: api)',
      't.yaml:14:53 pools[0].backends[0].weight: weight must be between 1 and 256',
      't.yaml:15:17 pools[0].backends[1].name: duplicate backend name "a" (already used by backends[0])',
      't.yaml:15:45 pools[0].backends[1].colour: unknown key "colour"',
    ]);
  });

  test('compileConfigText throws a ConfigError carrying the problems', () => {
    const text = MINIMAL.replace('pool: api', 'pool: api2');
    assert.throws(
      () => compileConfigText(text, 't.yaml'),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.code === 'TG_ERR_CONFIG_INVALID' &&
        err.problems.length === 1 &&
        err.message === 't.yaml:6:11 routes[0].pool: pool "api2" is not defined (defined pools: api)',
    );
  });

  test('loadConfigFile reads a file, and a missing file is one problem at 1:1', () => {
    const file = join(dir, 'tollgate.yaml');
    writeFileSync(file, MINIMAL);
    assert.equal(loadConfigFile(file).source, file);
    const missing = join(dir, 'nope.yaml');
    assert.throws(
      () => loadConfigFile(missing),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.code === 'TG_ERR_CONFIG_READ' &&
        err.message === `${missing}:1:1: cannot read ${missing}: no such file`,
    );
  });
});

describe('JSON Schema', () => {
  const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
  const ajv = addFormats(new Ajv2020({ allErrors: true }));
  const validate = ajv.compile(configJsonSchema());

  test('accepts the full config and the minimal one', () => {
    for (const text of [FULL, MINIMAL])
      assert.equal(validate(parseYaml(text)), true, JSON.stringify(validate.errors));
  });

  test('rejects an unknown key', () => {
    assert.equal(
      validate(parseYaml(MINIMAL.replace('127.0.0.1:0\n', '127.0.0.1:0\n    mode: fast\n'))),
      false,
    );
    assert.ok(validate.errors?.some((e) => e.keyword === 'additionalProperties'));
  });

  test('schema/config.schema.json is the generated schema', () => {
    const file = new URL('../../schema/config.schema.json', import.meta.url);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), configJsonSchema());
  });
});

describe('diffConfig', () => {
  test('matches named items by name and reports additions, removals, changes and order', () => {
    const before = {
      workers: 1,
      pools: [{ name: 'api', backends: [{ name: 'a', weight: 1 }] }],
      routes: [{ name: 'x' }, { name: 'y' }],
    };
    const after = {
      workers: 2,
      pools: [
        {
          name: 'api',
          backends: [
            { name: 'b', weight: 1 },
            { name: 'a', weight: 5 },
          ],
        },
      ],
      routes: [{ name: 'y' }, { name: 'x' }],
      admin: { address: '127.0.0.1:0' },
    };
    assert.deepEqual(diffConfig(before, after), [
      { path: 'workers', kind: 'changed', before: 1, after: 2 },
      { path: 'pools["api"].backends["a"].weight', kind: 'changed', before: 1, after: 5 },
      {
        path: 'pools["api"].backends["b"]',
        kind: 'added',
        before: undefined,
        after: { name: 'b', weight: 1 },
      },
      { path: 'routes', kind: 'reordered', before: ['x', 'y'], after: ['y', 'x'] },
      { path: 'admin', kind: 'added', before: undefined, after: { address: '127.0.0.1:0' } },
    ]);
  });

  test('equal configs have no changes; lists of values change as a whole', () => {
    const plan = compileConfigText(MINIMAL, '<inline>');
    assert.deepEqual(diffConfig(plan.config, structuredClone(plan.config)), []);
    assert.deepEqual(diffConfig({ methods: ['GET'] }, { methods: ['GET', 'POST'] }), [
      { path: 'methods', kind: 'changed', before: ['GET'], after: ['GET', 'POST'] },
    ]);
  });
});
