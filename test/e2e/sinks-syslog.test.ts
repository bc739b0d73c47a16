import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { launchTollgate } from '../helpers/audit.js';
import type { Rsyslog } from '../helpers/services.js';
import { startRsyslog } from '../helpers/services.js';
import { outage, sinkSuite, storeSeqs, until } from '../helpers/sink-load.js';

/**
 * Network sinks (issue 6): each ships the store's records from its own cursor. Under a steady
 * load the receiver (rsyslog, PostgreSQL) is stopped for ten seconds and Tollgate itself is
 * restarted in the middle; afterwards every record of the store has arrived, and PostgreSQL,
 * which allows idempotence, holds none twice.
 */

describe('sinks: syslog loses nothing while rsyslog is away', () => {
  const { tempDir, routes } = sinkSuite();

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
