import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { freePort, launchTollgate } from '../helpers/audit.js';
import { otlpReceiver, outage, sinkSuite, storeSeqs, until } from '../helpers/sink-load.js';

/**
 * Network sinks (issue 6): each ships the store's records from its own cursor. Under a steady
 * load the receiver (rsyslog, PostgreSQL) is stopped for ten seconds and Tollgate itself is
 * restarted in the middle; afterwards every record of the store has arrived, and PostgreSQL,
 * which allows idempotence, holds none twice.
 */

describe('sinks: OTLP loses nothing while the receiver is away', () => {
  const { tempDir, routes } = sinkSuite();

  it('OTLP/HTTP protobuf: the receiver gone for 10 s under load and Tollgate restarted meanwhile; every record arrives, decoded with the OpenTelemetry definitions', async () => {
    const receiver = await otlpReceiver(true);
    const dir = tempDir('otlp');
    const { tg, dataDir } = await outage(
      dir,
      `${routes()}audit: { sinks: [{ type: otlp, endpoint: http://127.0.0.1:${receiver.port}/v1/logs, protocol: protobuf }] }\n`,
      receiver,
    );
    try {
      const expected = storeSeqs(dataDir);
      await until(
        'the receiver to hold every record of the store',
        () => expected.every((s) => receiver.seqs.has(s)),
        30_000,
      );
      const first = receiver.requests[0]!;
      assert.equal(first.type, 'application/x-protobuf');
      assert.equal(first.encoding, 'gzip');
      const rl = first.decoded.resourceLogs[0]!;
      const resource = Object.fromEntries(rl.resource.attributes.map((a) => [a.key, a.value.stringValue]));
      assert.equal(resource['service.name'], 'tollgate');
      assert.match(resource['service.instance.id'] ?? '', /:\d+$/);
      const all = receiver.requests.flatMap((r) =>
        r.decoded.resourceLogs.flatMap((x) => x.scopeLogs.flatMap((y) => y.logRecords)),
      );
      const req = all.find((l) =>
        l.attributes.some((a) => a.key === 'event.name' && a.value.stringValue === 'tollgate.request'),
      )!;
      const at = Object.fromEntries(
        req.attributes.map((a) => [a.key, a.value.stringValue ?? a.value.intValue?.toString()]),
      );
      assert.equal(at['http.request.method'], 'GET');
      assert.equal(at['url.path'], '/x');
      assert.equal(at['http.response.status_code'], '200');
      assert.equal(at['client.address'], '127.0.0.1');
      assert.equal(req.severityNumber, 9);
      const body = JSON.parse(req.body.stringValue) as { trace: { id: string }; span: { id: string } };
      assert.equal(Buffer.from(req.traceId).toString('hex'), body.trace.id);
      assert.equal(Buffer.from(req.spanId).toString('hex'), body.span.id);
      assert.equal(BigInt(req.timeUnixNano.toString()) > 0n, true);
    } finally {
      await tg.stop();
      await receiver.stop().catch(() => {});
    }
  });

  it('OTLP/HTTP JSON: honours a 503 with Retry-After, then delivers', async () => {
    const receiver = await otlpReceiver(true);
    const dir = tempDir('otlp-json');
    const adminPort = await freePort();
    const tg = await launchTollgate(
      dir,
      path.join(dir, 'data'),
      `${routes()}audit: { sinks: [{ type: otlp, endpoint: http://127.0.0.1:${receiver.port}/v1/logs, protocol: json }] }
admin: { address: 127.0.0.1:${adminPort}, metrics_public: true }
`,
    );
    try {
      const t0 = Date.now();
      for (let i = 0; i < 10; i++) await (await request(tg.url(`/j/${i}`))).body.dump();
      const expected = () => storeSeqs(path.join(dir, 'data'));
      await until(
        'JSON delivery',
        () => receiver.requests.length > 0 && expected().every((s) => receiver.seqs.has(s)),
        15_000,
      );
      assert.ok(Date.now() - t0 >= 1000, 'the first send was retried no sooner than Retry-After');
      assert.equal(receiver.requests[0]!.type, 'application/json');
      // the sink's own metrics: up again, and how many records it delivered
      const sink = `otlp:http://127.0.0.1:${receiver.port}/v1/logs`;
      let metrics = '';
      await until(
        'the sink metrics',
        () => metrics.includes(`tollgate_audit_sink_up{sink="${sink}"} 1`),
        5000,
        async () => {
          metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
        },
      );
      const delivered = new RegExp(
        `^tollgate_audit_records_total\\{sink="${sink.replace(/[.:/]/g, '\\$&')}"\\} (\\d+)$`,
        'm',
      ).exec(metrics);
      assert.ok(delivered !== null && Number(delivered[1]) >= 10, metrics);
    } finally {
      await tg.stop();
      await receiver.stop().catch(() => {});
    }
  });
});
