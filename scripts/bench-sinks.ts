/**
 * Per-sink throughput: fills a store with N realistic records (store-fill.ts), then sends them all
 * through each network sink in batches of 1,000, as the shipper does, to a real receiver on
 * loopback (a private rsyslog over TCP; a throwaway PostgreSQL), and prints records/s.
 *   node --import tsx scripts/bench-sinks.ts [N]
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { OtlpSink } from '../src/audit/sinks/otlp.js';
import { PostgresSink } from '../src/audit/sinks/postgres.js';
import { SyslogSink } from '../src/audit/sinks/syslog.js';
import { openStore } from '../src/store/index.js';
import { startPostgres, startRsyslog } from '../test/helpers/services.js';
import { fill } from './store-fill.js';

const N = Number(process.argv[2] ?? 100_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-bench-sinks-'));
const store = openStore(path.join(dir, 'audit.db'));
fill(store, N);

async function run(
  name: string,
  send: (rows: ReturnType<typeof store.rowsFrom>) => Promise<void>,
): Promise<void> {
  const t0 = performance.now();
  let n = 0;
  for (let from = 1; ; ) {
    const rows = store.rowsFrom(from, 1000);
    if (rows.length === 0) break;
    await send(rows);
    n += rows.length;
    from = rows[rows.length - 1]!.seq + 1;
  }
  const s = (performance.now() - t0) / 1000;
  console.log(
    `${name.padEnd(16)} ${n} records in ${s.toFixed(2)} s: ${Math.round(n / s).toLocaleString('en')} records/s`,
  );
}

const rsyslog = await startRsyslog('tcp');
const syslog = new SyslogSink({
  host: '127.0.0.1',
  port: rsyslog.port,
  protocol: 'tcp',
  facility: 16,
  appName: 'tollgate',
  caPem: null,
  serverName: null,
});
await run('syslog tcp', (rows) => syslog.send(rows));
await syslog.close();
// wait for rsyslog to have written them all: the receiver's side of the figure
const t0 = performance.now();
while (rsyslog.lines().length < N) await new Promise((r) => setTimeout(r, 100));
console.log(
  `rsyslog wrote all ${N} lines ${((performance.now() - t0) / 1000).toFixed(2)} s after the last send`,
);
await rsyslog.destroy();

// an OTLP/HTTP receiver on loopback that reads each request whole and answers 200
const receiver = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200);
    res.end();
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
const otlpPort = (receiver.address() as { port: number }).port;
for (const protocol of ['protobuf', 'json'] as const) {
  const otlp = new OtlpSink(`http://127.0.0.1:${otlpPort}/v1/logs`, protocol, 'bench');
  await run(`otlp ${protocol}`, (rows) => otlp.send(rows));
}
receiver.close();

const pg = await startPostgres();
const pgSink = new PostgresSink(pg.url, 'tollgate_records', 'bench');
await run('postgres', (rows) => pgSink.send(rows));
console.log(`postgres holds ${pg.psql('SELECT count(*) FROM tollgate_records')} rows`);
await pgSink.close();
await pg.destroy();
store.close();
fs.rmSync(dir, { recursive: true, force: true });
