import fs from 'node:fs';
import type { StoredRow } from '../../store/index.js';
import { withHash } from '../chain.js';
import { combinedLine } from '../combined.js';
import type { RequestRecord } from '../record.js';
import { FileAppender } from './file-appender.js';
import { LineBuffer } from './line-buffer.js';
import { fileSinkName } from './names.js';
import type { RecordSink } from './sink.js';

/** `jsonl`: every record (requests and admin events), with its seq and hash, one per line. */
export class JsonlSink implements RecordSink {
  readonly name: string;
  readonly #file: FileAppender;
  readonly #out = new LineBuffer();
  constructor(file: string, rotateBytes: number | null, keep: number) {
    this.name = fileSinkName('jsonl', file);
    this.#file = new FileAppender(file, rotateBytes, keep);
  }
  ship(rows: readonly StoredRow[]): void {
    const out = this.#out;
    out.clear();
    for (const r of rows) out.addLine(withHash(r.rec, r.hash));
    this.#file.append(out.bytes());
  }
  close(): void {
    this.#file.close();
  }
}

/** `combined`: requests only, in the NCSA combined format. */
export class CombinedSink implements RecordSink {
  readonly name: string;
  readonly #file: FileAppender;
  readonly #out = new LineBuffer();
  constructor(file: string) {
    this.name = fileSinkName('combined', file);
    this.#file = new FileAppender(file);
  }
  ship(rows: readonly StoredRow[]): void {
    const out = this.#out;
    out.clear();
    for (const r of rows)
      if (r.kind === 'request') out.addLine(combinedLine(JSON.parse(r.rec) as RequestRecord));
    if (out.bytes().length > 0) this.#file.append(out.bytes());
  }
  close(): void {
    this.#file.close();
  }
}

/** `stdout`: every record as a JSON line on standard output. */
export class StdoutSink implements RecordSink {
  readonly name = 'stdout';
  readonly #out = new LineBuffer();
  ship(rows: readonly StoredRow[]): void {
    const out = this.#out;
    out.clear();
    for (const r of rows) out.addLine(withHash(r.rec, r.hash));
    const buf = out.bytes();
    let off = 0;
    while (off < buf.length) off += fs.writeSync(1, buf, off, buf.length - off);
  }
  close(): void {}
}
