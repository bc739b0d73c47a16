/**
 * The shipper thread: sends the store's records to the network sinks (syslog, PostgreSQL), each
 * from its own cursor persisted in the store, so the store is the outbox. A sink that is down
 * falls behind (its lag is reported) and catches up when it is back, with exponential back-off in
 * between; a restart of Tollgate resumes from the cursor. One batch in flight per sink: memory is
 * bounded whatever the lag. Runs apart from the writer thread so a slow receiver never delays a
 * commit, and apart from the request thread so formatting and I/O never cost the proxy.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Store } from '../store/index.js';
import { openStore, STREAM_CACHE_KIB } from '../store/index.js';
import type { FromShipper, NetworkSinkConfig, ShipperConfig, ToShipper } from './shipper-protocol.js';
import { networkSinkName } from './sinks/names.js';
import type { NetworkSink } from './sinks/network-sink.js';
import { OtlpSink } from './sinks/otlp.js';
import { PostgresSink } from './sinks/postgres.js';
import { SyslogSink } from './sinks/syslog.js';

const config = workerData as ShipperConfig;
const post = (m: FromShipper) => parentPort!.postMessage(m);
let stopping = false;
const wakers = new Set<() => void>();

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      wakers.delete(done);
      resolve();
    };
    const t = setTimeout(done, ms);
    wakers.add(done);
  });
}

function createSink(s: NetworkSinkConfig): NetworkSink {
  const sink = buildSink(s);
  const expected = networkSinkName(s.type, s.options);
  if (sink.name !== expected) throw new Error(`sink ${sink.name} is named ${expected} by the writer`);
  return sink;
}

function buildSink(s: NetworkSinkConfig): NetworkSink {
  const o = s.options;
  if (s.type === 'syslog') {
    const address = String(o.address);
    const colon = address.lastIndexOf(':');
    return new SyslogSink({
      host: address.slice(0, colon).replace(/^\[|\]$/g, ''),
      port: Number(address.slice(colon + 1)),
      protocol: (o.protocol as 'tcp' | 'udp' | 'tls') ?? 'tcp',
      facility: (o.facility as number) ?? 16,
      appName: (o.app_name as string) ?? 'tollgate',
      caPem: (o.caPem as string | null) ?? null,
      serverName:
        ((o.tls as { server_name?: string } | undefined)?.server_name as string | undefined) ?? null,
    });
  }
  if (s.type === 'otlp')
    return new OtlpSink(String(o.endpoint), (o.protocol as 'json' | 'protobuf') ?? 'json', config.instance);
  return new PostgresSink(String(o.url), String(o.table ?? 'tollgate_records'), config.instance);
}

/** One sink's loop: read after the cursor, send, confirm, persist; back off on failure. */
async function run(store: Store, sink: NetworkSink): Promise<void> {
  let confirmed = store.cursor(sink.name);
  let position = confirmed;
  /** Rows sent but not yet confirmed (confirmAfterMs > 0): the last seq of each send and when. */
  const unconfirmed: { seq: number; at: number }[] = [];
  let backoff = config.backoffMs;
  let failing = false;
  let shipped = 0;
  let lastReport = 0;
  const confirm = (all: boolean) => {
    const limit = Date.now() - sink.confirmAfterMs;
    let to = confirmed;
    while (unconfirmed.length > 0 && (all || unconfirmed[0]!.at <= limit)) to = unconfirmed.shift()!.seq;
    if (to > confirmed) {
      store.setCursor(sink.name, to);
      confirmed = to;
    }
  };
  const report = (head: number, force: boolean) => {
    const now = Date.now();
    if (!force && now - lastReport < 500) return;
    lastReport = now;
    let lagSeconds = 0;
    if (head > confirmed) {
      const first = store.rowsFrom(confirmed + 1, 1)[0];
      if (first !== undefined) lagSeconds = Math.max(0, (now - first.ts) / 1000);
    }
    post({ type: 'lag', sink: sink.name, lag: Math.max(0, head - confirmed), lagSeconds, shipped });
  };
  while (!stopping) {
    let head = 0;
    try {
      head = store.last()?.seq ?? 0;
      if (position >= head) {
        confirm(false);
        report(head, false);
        await sleep(config.pollMs);
        continue;
      }
      const rows = store.rowsFrom(position + 1, config.batch);
      if (rows.length === 0) {
        // retention pruned past this cursor (it only does so when told sinks may lose rows): skip ahead
        position = head;
        continue;
      }
      await sink.send(rows);
      position = rows[rows.length - 1]!.seq;
      shipped += rows.length;
      unconfirmed.push({ seq: position, at: Date.now() });
      confirm(false);
      if (failing) {
        failing = false;
        post({ type: 'sink', sink: sink.name, error: null });
      }
      backoff = config.backoffMs;
      report(head, false);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (!failing) post({ type: 'sink', sink: sink.name, error: reason });
      failing = true;
      // whatever was not confirmed is sent again: duplicates rather than gaps
      unconfirmed.length = 0;
      position = confirmed;
      try {
        report(head, true);
      } catch {}
      // a receiver that says when to come back (429/503 Retry-After) is taken at its word
      const asked = (err as { retryAfterMs?: number }).retryAfterMs;
      await sleep(asked === undefined ? backoff : Math.min(60_000, Math.max(asked, config.backoffMs)));
      backoff = Math.min(config.maxBackoffMs, backoff * 2);
    }
  }
  // a clean stop: what was sent and not failed since is delivered as far as the protocol knows
  if (!failing) {
    if (sink.confirmAfterMs > 0 && unconfirmed.length > 0)
      await new Promise((r) => setTimeout(r, sink.confirmAfterMs));
    confirm(true);
  }
  await Promise.race([sink.close().catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
}

async function main(): Promise<void> {
  const store = openStore(config.storePath, { cacheKiB: STREAM_CACHE_KIB });
  const sinks = config.sinks.map(createSink);
  post({ type: 'ready' });
  parentPort!.on('message', (m: ToShipper) => {
    if (m.type === 'stop') {
      stopping = true;
      for (const w of [...wakers]) w();
    }
  });
  await Promise.all(sinks.map((s) => run(store, s)));
  store.close();
  post({ type: 'stopped' });
}

main().catch((err) => {
  post({ type: 'sink', sink: 'shipper', error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
