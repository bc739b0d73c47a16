import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import type { LiveTollgate } from '../helpers/audit.js';
import { cliAsync, launchTollgate } from '../helpers/audit.js';
import type { TestBackend } from '../helpers/backends.js';
import { startBackend } from '../helpers/backends.js';
import { buildDist } from '../helpers/process.js';
import type { Postgres, Rsyslog } from '../helpers/services.js';
import { startPostgres, startRsyslog } from '../helpers/services.js';
import { readStore } from '../helpers/store.js';

/**
 * Network sinks (issue 6): each ships the store's records from its own cursor. Under a steady
 * load the receiver (rsyslog, PostgreSQL) is stopped for ten seconds and Tollgate itself is
 * restarted in the middle; afterwards every record of the store has arrived, and PostgreSQL,
 * which allows idempotence, holds none twice.
 */

const OUTAGE_MS = 10_000;

/** Requests from two clients in a loop until stopped; errors (Tollgate restarting) are counted, not fatal. */
function steadyLoad(url: () => string) {
  const dispatcher = new Agent({
    connections: 4,
    headersTimeout: 5000,
    bodyTimeout: 5000,
    connectTimeout: 2000,
  });
  let stop = false;
  let ok = 0;
  let failed = 0;
  const client = async () => {
    while (!stop) {
      try {
        const res = await request(url(), { dispatcher });
        await res.body.dump();
        ok++;
      } catch {
        failed++;
        await sleep(50);
      }
      await sleep(5);
    }
  };
  const clients = [client(), client()];
  return {
    counts: () => ({ ok, failed }),
    async stop() {
      stop = true;
      await Promise.all(clients);
      await dispatcher.close();
    },
  };
}

/** Every seq in the data dir's store. */
function storeSeqs(dataDir: string): number[] {
  const { requests, admin } = readStore(dataDir);
  return [...requests.map((r) => r.tollgate.chain.seq!), ...admin.map((a) => a.tollgate.chain.seq!)].sort(
    (a, b) => a - b,
  );
}

async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * Load → receiver down for OUTAGE_MS (Tollgate restarted in the middle of it) → receiver back →
 * load a little longer; returns the data dir and the running Tollgate.
 */
async function outage(
  dir: string,
  yaml: string,
  receiver: { stop(): Promise<void>; start(): Promise<void> },
): Promise<{ tg: LiveTollgate; dataDir: string; ok: number }> {
  const dataDir = path.join(dir, 'data');
  let tg = await launchTollgate(dir, dataDir, yaml);
  const load = steadyLoad(() => tg.url('/x'));
  await sleep(1500);
  await receiver.stop();
  await sleep(OUTAGE_MS / 2);
  // a restart of Tollgate while the receiver is away: the cursor is in the store
  assert.equal(await tg.stop(), 0, tg.stderr());
  tg = await launchTollgate(dir, dataDir, yaml);
  await sleep(OUTAGE_MS / 2);
  await receiver.start();
  await sleep(1500);
  await load.stop();
  const { ok } = load.counts();
  assert.ok(ok > 100, `a steady load ran: ${ok} requests`);
  return { tg, dataDir, ok };
}

describe('sinks: syslog and PostgreSQL lose nothing while the receiver is away', () => {
  let backend: TestBackend;
  const dirs: string[] = [];

  before(async () => {
    buildDist();
    backend = await startBackend('b1');
  });
  after(async () => {
    await backend.close();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  const tempDir = (name: string) => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), `tollgate-sink-${name}-`));
    dirs.push(d);
    return d;
  };
  const routes = () => `routes: [{ name: r, pool: p }]
pools: [{ name: p, backends: [{ name: b1, address: ${backend.address} }] }]
`;

  it('syslog over TCP: rsyslog stopped for 10 s under load and Tollgate restarted meanwhile; every record reaches the file', async () => {
    const rsyslog: Rsyslog = await startRsyslog('tcp');
    const dir = tempDir('syslog');
    try {
      const { tg, dataDir } = await outage(
        dir,
        `${routes()}audit: { sinks: [{ type: syslog, address: 127.0.0.1:${rsyslog.port}, protocol: tcp }] }\n`,
        rsyslog,
      );
      try {
        const expected = storeSeqs(dataDir);
        const seen = () => {
          const seqs = new Set<number>();
          for (const l of rsyslog.lines()) {
            const m = /\[tollgate@32473 seq="(\d+)"/.exec(l);
            if (m !== null) seqs.add(Number(m[1]));
          }
          return seqs;
        };
        await until(
          'rsyslog to hold every record of the store',
          () => expected.every((s) => seen().has(s)),
          30_000,
        );
        const line = rsyslog.lines().find((l) => l.includes('kind="request"'))!;
        assert.match(
          line,
          /^<1[0-9][0-9]>1 \d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d) \S+ tollgate \d+ request \[tollgate@32473 seq="\d+" kind="request" request_id="[0-9a-f]{32}" status="200" route="r" backend="b1" termination="ok" client_ip="127\.0\.0\.1"\] /,
        );
        const json = line.slice(line.indexOf('] ') + 2).replace(/^\ufeff/, '');
        const rec = JSON.parse(json) as { schema: string; tollgate: { chain: { hash: string } } };
        assert.equal(rec.schema, 'tollgate.request/1');
        assert.match(rec.tollgate.chain.hash, /^[0-9a-f]{64}$/);
        const m = /\[tollgate@32473 seq="(\d+)"/.exec(line)!;
        assert.ok(Number(m[1]) > 0);
      } finally {
        await tg.stop();
      }
    } finally {
      await rsyslog.destroy();
    }
  });

  it('PostgreSQL: the server stopped for 10 s under load and Tollgate restarted meanwhile; every record arrives exactly once and query --store reads them', async () => {
    const pg: Postgres = await startPostgres();
    const dir = tempDir('pg');
    try {
      const { tg, dataDir } = await outage(
        dir,
        `${routes()}audit: { sinks: [{ type: postgres, url: "${pg.url}" }] }\n`,
        pg,
      );
      try {
        const expected = storeSeqs(dataDir);
        const count = () => Number(pg.psql('SELECT count(*) FROM tollgate_records'));
        await until(
          `PostgreSQL to hold ${expected.length} records`,
          () => count() >= expected.length,
          30_000,
        );
        assert.equal(count(), expected.length, 'none twice');
        assert.equal(
          Number(pg.psql('SELECT count(DISTINCT (instance, seq)) FROM tollgate_records')),
          expected.length,
        );
        const partitions = pg.psql(
          "SELECT count(*) FROM pg_inherits WHERE inhparent = 'tollgate_records'::regclass",
        );
        assert.ok(Number(partitions) >= 1, 'partitioned by day');
        const instances = Number(pg.psql('SELECT count(DISTINCT instance) FROM tollgate_records'));
        assert.equal(instances, 2, 'each process is its own instance: one before the restart, one after');
        const q = await cliAsync([
          'query',
          '--store',
          pg.url,
          '--route',
          'r',
          '--limit',
          '5',
          '--format',
          'json',
        ]);
        assert.equal(q.code, 0, q.stderr);
        const lines = q.stdout.trim().split('\n');
        assert.equal(lines.length, 5);
        const newest = readStore(dataDir).requests.at(-1)!;
        assert.equal(
          (JSON.parse(lines[0]!) as { http: { request: { id: string } } }).http.request.id,
          newest.http.request.id,
        );
        const table = await cliAsync(['query', '--store', pg.url, '--status', '5xx']);
        assert.equal(table.code, 0, table.stderr);
        assert.equal(table.stdout, 'no records match\n');
      } finally {
        await tg.stop();
      }
    } finally {
      await pg.destroy();
    }
  });

  it('syslog over TLS and over UDP deliver to rsyslog', async () => {
    const dir = tempDir('tls');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost',
      ].concat(['-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')]),
      { stdio: 'ignore' },
    );
    const certs = {
      ca: path.join(dir, 'cert.pem'),
      cert: path.join(dir, 'cert.pem'),
      key: path.join(dir, 'key.pem'),
    };
    const tlsLog = await startRsyslog('tls', certs);
    const udpLog = await startRsyslog('udp');
    const tg = await launchTollgate(
      dir,
      path.join(dir, 'data'),
      `${routes()}audit:
  sinks:
    - { type: syslog, address: 127.0.0.1:${tlsLog.port}, protocol: tls, tls: { ca: ${certs.ca}, server_name: localhost } }
    - { type: syslog, address: 127.0.0.1:${udpLog.port}, protocol: udp }
`,
    );
    try {
      for (let i = 0; i < 20; i++) {
        const res = await request(tg.url(`/t/${i}`));
        await res.body.dump();
      }
      const has = (log: Rsyslog) => log.lines().filter((l) => /kind="request"/.test(l)).length >= 20;
      await until('TLS delivery', () => has(tlsLog), 15_000);
      await until('UDP delivery', () => has(udpLog), 15_000);
      assert.ok(tlsLog.lines().some((l) => l.includes('/t/19')));
      assert.ok(udpLog.lines().some((l) => l.includes('/t/19')));
    } finally {
      await tg.stop();
      await tlsLog.destroy();
      await udpLog.destroy();
    }
  });
});
