/**
 * The audit writer (a worker thread; DESIGN "The audit path"). It owns the store's one writer
 * connection and the chain: it numbers records, extends the hash chain, commits each batch in
 * one transaction (group commit), signs checkpoints, prunes by retention, and ships new rows to
 * every sink from its persisted cursor. It never drops a batch: a batch that cannot be committed
 * is kept, in order, and retried until the store takes it.
 */

import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { systemEvent } from '../core/index.js';
import type { Store, StoredRow } from '../store/index.js';
import { openStore, STREAM_CACHE_KIB } from '../store/index.js';
import { buildAdminRecord } from './admin-record.js';
import { chainHash, GENESIS, sealLine, signAnchor, signCheckpoint } from './chain.js';
import { CombinedSink, JsonlSink, StdoutSink } from './sinks/file-sinks.js';
import type { RecordSink } from './sinks/sink.js';
import type { FromWriter, ToWriter, WriterConfig } from './writer-protocol.js';
import { FIELDS } from './writer-protocol.js';

const config = workerData as WriterConfig;
const port = parentPort!;

function post(m: FromWriter): void {
  port.postMessage(m);
}

function keyPair(dataDir: string): string {
  const priv = path.join(dataDir, 'chain-key.pem');
  const pub = path.join(dataDir, 'chain-key.pub.pem');
  if (!fs.existsSync(priv)) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(priv, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    fs.writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  }
  return fs.readFileSync(priv, 'utf8');
}

/** Appends a line, starting a new one first if a crash left the file without a final newline. */
function appendLine(file: string, line: string): void {
  let prefix = '';
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const last = Buffer.alloc(1);
      if (size > 0 && fs.readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 10) prefix = '\n';
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // no file yet
  }
  fs.appendFileSync(file, `${prefix}${line}\n`, { mode: 0o644 });
}

interface Batch {
  id: number;
  lines: string;
  meta: (string | number | null)[];
  urgent: boolean;
}

/** The longest a record waits for its group commit (durability: batched), and the size that commits at once. */
const COMMIT_WINDOW_MS = 30;
const COMMIT_ROWS = 2000;

class Writer {
  #store: Store | null = null;
  #seq = 0;
  #hash = GENESIS;
  #queue: Batch[] = [];
  #failing: string | null = null;
  #queuedRows = 0;
  /** Rows committed since the last ship, kept for sinks that are caught up. */
  #recent: StoredRow[] = [];
  /** Each sink's cursor, as last written to the store. */
  readonly #cursors = new Map<string, number>();
  #commitTimer: NodeJS.Timeout | null = null;
  #retry: NodeJS.Timeout | null = null;
  readonly #key: string;
  #sinks: RecordSink[] = [];
  #sinkErrors = new Map<string, string>();
  #lastCheckpointSeq = 0;
  #timers: NodeJS.Timeout[] = [];

  constructor() {
    this.#key = keyPair(config.dataDir);
    for (const s of config.sinks) {
      if (s.type === 'jsonl') this.#sinks.push(new JsonlSink(s.path!, s.rotateBytes ?? null, s.keep ?? 5));
      else if (s.type === 'combined') this.#sinks.push(new CombinedSink(s.path!));
      else if (s.type === 'stdout') this.#sinks.push(new StdoutSink());
    }
    this.#openStore();
    if (config.checkpointIntervalMs > 0)
      this.#timers.push(setInterval(() => this.#checkpoint('interval'), config.checkpointIntervalMs));
    this.#timers.push(setInterval(() => this.#ship(), 200));
    if (config.retentionMs > 0) this.#timers.push(setInterval(() => this.#prune(), 10_000));
    if (config.heartbeatMs > 0) this.#timers.push(setInterval(() => this.#heartbeat(), config.heartbeatMs));
  }

  /**
   * A heartbeat event, chained like any record, while the store takes writes: a stopped writer,
   * a store that cannot be written or a process that was paused leaves a silence in the trail
   * that `verify` reports. Batch id 0: nobody on the request thread waits for it.
   */
  #heartbeat(): void {
    if (this.#store === null || this.#failing !== null) return;
    const now = Date.now();
    const e = systemEvent('audit_heartbeat', 'success', null, {
      interval_ms: config.heartbeatMs,
      last_seq: this.#seq,
    });
    const line = JSON.stringify(buildAdminRecord(e, config.instance, now));
    const meta = ['admin', now, null, null, null, null, null, null, 'tollgate', 'audit_heartbeat'];
    this.enqueue({ id: 0, lines: line, meta, urgent: false });
  }

  #openStore(): boolean {
    try {
      this.#store ??= openStore(config.storePath, { cacheKiB: STREAM_CACHE_KIB });
      const last = this.#store.last();
      this.#seq = last?.seq ?? 0;
      this.#hash = last?.hash ?? this.#store.anchor()?.hash ?? GENESIS;
      this.#lastCheckpointSeq = this.#store.lastCheckpoint()?.seq ?? 0;
      return true;
    } catch (err) {
      this.#store = null;
      this.#fail(err);
      return false;
    }
  }

  /**
   * Group commit: batches that arrive within COMMIT_WINDOW_MS share one transaction (a commit
   * of 200 rows costs little more than one of 20: the index pages are written once), so a
   * record is committed at most COMMIT_WINDOW_MS plus one commit after it arrives. An urgent
   * batch (someone waits for it: durability strict) or a large queue commits at once.
   */
  enqueue(b: Batch): void {
    this.#queue.push(b);
    this.#queuedRows += b.meta.length / FIELDS;
    if (this.#failing !== null) return;
    if (b.urgent || this.#queuedRows >= COMMIT_ROWS) this.#drainNow();
    else this.#commitTimer ??= setTimeout(() => this.#drainNow(), COMMIT_WINDOW_MS);
  }

  /** Someone waits for what is queued: commit without waiting for the window. */
  commitNow(): void {
    if (this.#failing === null && this.#queue.length > 0) this.#drainNow();
  }

  #drainNow(): void {
    if (this.#commitTimer !== null) clearTimeout(this.#commitTimer);
    this.#commitTimer = null;
    this.#drain();
  }

  #drain(): void {
    while (this.#queue.length > 0) {
      if (this.#store === null && !this.#openStore()) return;
      const seq0 = this.#seq;
      const hash0 = this.#hash;
      try {
        const take = this.#queue.length;
        const rows: StoredRow[] = [];
        for (let i = 0; i < take; i++) {
          const b = this.#queue[i]!;
          for (const r of this.#rows(b.lines, b.meta)) rows.push(r);
        }
        this.#store!.insertBatch(rows);
        if (this.#sinks.length > 0)
          this.#recent = this.#recent.length === 0 ? rows : this.#recent.concat(rows);
        for (const b of this.#queue.splice(0, take)) {
          this.#queuedRows -= b.meta.length / FIELDS;
          if (b.id > 0) post({ type: 'ack', id: b.id, count: b.meta.length / FIELDS, lastSeq: this.#seq });
        }
        if (this.#failing !== null) {
          const reason = this.#failing;
          this.#failing = null;
          post({ type: 'recovered', reason });
        }
      } catch (err) {
        this.#seq = seq0;
        this.#hash = hash0;
        this.#fail(err);
        return;
      }
    }
    this.#ship();
  }

  #rows(text: string, flat: (string | number | null)[]): StoredRow[] {
    const rows: StoredRow[] = [];
    const lines = text.split('\n');
    for (let i = 0, k = 0; i < flat.length; i += FIELDS, k++) {
      const seq = ++this.#seq;
      const rec = sealLine(lines[k]!, seq);
      const hash = chainHash(this.#hash, rec);
      this.#hash = hash;
      rows.push({
        seq,
        kind: flat[i] as 'request' | 'admin',
        ts: flat[i + 1] as number,
        rec,
        hash,
        requestId: flat[i + 2] as string | null,
        clientIp: flat[i + 3] as string | null,
        status: flat[i + 4] as number | null,
        route: flat[i + 5] as string | null,
        backend: flat[i + 6] as string | null,
        termination: flat[i + 7] as string | null,
        userName: flat[i + 8] as string | null,
        action: flat[i + 9] as string | null,
      });
    }
    return rows;
  }

  #fail(err: unknown): void {
    const reason =
      err instanceof Error
        ? `${(err as NodeJS.ErrnoException).code ?? err.name}: ${err.message}`
        : String(err);
    if (this.#failing === null) post({ type: 'failure', reason, queued: this.#queuedRecords() });
    this.#failing = reason;
    if (this.#retry === null) {
      this.#retry = setTimeout(() => {
        this.#retry = null;
        this.#drain();
      }, config.retryMs);
    }
  }

  #queuedRecords(): number {
    let n = 0;
    for (const b of this.#queue) if (b.id > 0) n += b.meta.length / FIELDS;
    return n;
  }

  /** Ships rows after each sink's cursor; a failing sink keeps its cursor and is retried next time. */
  #ship(): void {
    const store = this.#store;
    if (store === null) return;
    const recent = this.#recent;
    this.#recent = [];
    for (const sink of this.#sinks) {
      try {
        for (let guard = 0; guard < 100; guard++) {
          let from = this.#cursors.get(sink.name);
          if (from === undefined) {
            from = store.cursor(sink.name);
            this.#cursors.set(sink.name, from);
          }
          if (from >= this.#seq) break;
          // the common case: the sink is caught up to the rows just committed — ship them from memory
          const rows =
            recent.length > 0 && recent[0]!.seq === from + 1 ? recent : store.rowsFrom(from + 1, 2000);
          if (rows.length === 0) break;
          sink.ship(rows);
          const to = rows[rows.length - 1]!.seq;
          store.setCursor(sink.name, to);
          this.#cursors.set(sink.name, to);
        }
        if (this.#sinkErrors.delete(sink.name)) post({ type: 'sink', sink: sink.name, error: null });
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        if (!this.#sinkErrors.has(sink.name)) post({ type: 'sink', sink: sink.name, error: reason });
        this.#sinkErrors.set(sink.name, reason);
      }
    }
    const lags: Record<string, number> = {};
    for (const sink of this.#sinks) lags[sink.name] = this.#seq - (this.#cursors.get(sink.name) ?? 0);
    post({ type: 'lag', lags, lastSeq: this.#seq });
  }

  #checkpoint(reason: string): void {
    const store = this.#store;
    if (store === null || this.#failing !== null || this.#seq === 0 || this.#seq === this.#lastCheckpointSeq)
      return;
    const ts = Date.now();
    const signature = signCheckpoint(this.#key, this.#seq, this.#hash, ts);
    const c = { seq: this.#seq, hash: this.#hash, ts, signature, reason };
    try {
      store.addCheckpoint(c);
      appendLine(path.join(config.dataDir, 'checkpoints.jsonl'), JSON.stringify(c));
      this.#lastCheckpointSeq = this.#seq;
    } catch (err) {
      this.#fail(err);
    }
  }

  #prune(): void {
    const store = this.#store;
    if (store === null || this.#failing !== null) return;
    try {
      // small transactions, at most ~100 ms of pruning per run, so batches never wait long
      const sign = (last: { seq: number; hash: string }) => {
        const ts = Date.now();
        return { ts, signature: signAnchor(this.#key, last.seq, last.hash, ts) };
      };
      const started = Date.now();
      let deleted = 0;
      for (;;) {
        // never past a record some configured sink has not shipped (or confirmed) yet
        let shipped = Number.POSITIVE_INFINITY;
        for (const name of [...this.#sinks.map((x) => x.name), ...config.networkSinks])
          shipped = Math.min(shipped, this.#cursors.get(name) ?? store.cursor(name));
        const n = store.prune(Date.now() - config.retentionMs, 1000, sign, 2, shipped);
        deleted += n;
        if (n === 0 || Date.now() - started > 100) break;
      }
      if (deleted > 0) post({ type: 'pruned', count: deleted });
    } catch (err) {
      this.#fail(err);
    }
  }

  stop(): void {
    for (const t of this.#timers) clearInterval(t);
    if (this.#commitTimer !== null) clearTimeout(this.#commitTimer);
    if (this.#retry !== null) clearTimeout(this.#retry);
    if (this.#failing === null) this.#drain();
    this.#ship();
    this.#checkpoint('shutdown');
    for (const s of this.#sinks) s.close();
    this.#store?.close();
    post({ type: 'stopped', lastSeq: this.#seq, unwritten: this.#queuedRecords() });
  }
}

const writer = new Writer();
port.on('message', (m: ToWriter) => {
  if (m.type === 'batch') writer.enqueue({ id: m.id, lines: m.lines, meta: m.meta, urgent: m.urgent });
  else if (m.type === 'commit') writer.commitNow();
  else if (m.type === 'stop') {
    writer.stop();
    port.close();
  }
});
post({ type: 'ready' });
