import type { ServerResponse } from 'node:http';
import { withHash } from '../audit/index.js';
import type { Store, StoredRow } from '../store/index.js';

/** Rows read from the store per pass. */
const PAGE = 2000;
/** A client that has not taken this much is cut off; it resumes with `Last-Event-ID`. */
const MAX_UNSENT_BYTES = 4 * 1024 * 1024;
const HEARTBEAT_MS = 15_000;

interface Subscriber {
  next: number;
  match: (row: StoredRow) => boolean;
  res: ServerResponse;
}

/**
 * Follows the chained store for live views (`GET /api/v1/stream`, `tollgate tail`): the store is
 * the outbox, so what a follower sees is exactly what was committed, with its seq and hash, and a
 * client that reconnects with `Last-Event-ID: SEQ` misses nothing. One poll serves every
 * subscriber and runs only while there is one.
 */
export class RecordFollower {
  readonly #store: Store;
  readonly #intervalMs: number;
  readonly #subs = new Set<Subscriber>();
  #timer: NodeJS.Timeout | null = null;
  #heartbeat: NodeJS.Timeout | null = null;

  constructor(store: Store, intervalMs = 200) {
    this.#store = store;
    this.#intervalMs = intervalMs;
  }

  /** The seq the next committed record will have. */
  nextSeq(): number {
    return (this.#store.last()?.seq ?? 0) + 1;
  }

  /** Streams matching rows from `from` on as Server-Sent Events until the client leaves. */
  follow(res: ServerResponse, from: number, match: (row: StoredRow) => boolean): void {
    const sub: Subscriber = { next: from, match, res };
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    this.#subs.add(sub);
    res.on('close', () => this.#drop(sub));
    if (this.#timer === null) {
      this.#timer = setInterval(() => this.#poll(), this.#intervalMs);
      this.#heartbeat = setInterval(() => this.#beat(), HEARTBEAT_MS);
    }
    this.#poll();
  }

  /** Ends every stream (shutdown). Idempotent. */
  close(): void {
    for (const s of [...this.#subs]) {
      s.res.end();
      this.#drop(s);
    }
  }

  #drop(sub: Subscriber): void {
    this.#subs.delete(sub);
    if (this.#subs.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      clearInterval(this.#heartbeat!);
      this.#timer = null;
      this.#heartbeat = null;
    }
  }

  #beat(): void {
    for (const s of this.#subs) s.res.write(': keep-alive\n\n');
  }

  #poll(): void {
    for (;;) {
      let from = Number.POSITIVE_INFINITY;
      for (const s of this.#subs) if (s.next < from) from = s.next;
      if (from === Number.POSITIVE_INFINITY) return;
      let rows: StoredRow[];
      try {
        rows = this.#store.rowsFrom(from, PAGE);
      } catch {
        return; // the store is busy or failing: try again on the next tick
      }
      if (rows.length === 0) return;
      const last = rows[rows.length - 1]!.seq;
      for (const s of [...this.#subs]) {
        if (s.next > last) continue;
        let out = '';
        for (const r of rows) {
          if (r.seq < s.next || !s.match(r)) continue;
          out += `id: ${r.seq}\nevent: ${r.kind}\ndata: ${withHash(r.rec, r.hash)}\n\n`;
        }
        s.next = last + 1;
        if (out === '') {
          // let the client resume from here after a reconnect without rescanning
          s.res.write(`id: ${last}\n\n`);
          continue;
        }
        s.res.write(out);
        if (s.res.writableLength > MAX_UNSENT_BYTES) {
          s.res.end();
          this.#drop(s);
        }
      }
      if (rows.length < PAGE) return;
    }
  }
}
