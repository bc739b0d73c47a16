import fs from 'node:fs';
import type { StoredRow } from '../../store/index.js';
import { withHash } from '../chain.js';
import { combinedLine } from '../combined.js';
import type { RequestRecord } from '../record.js';
import { FileAppender } from './file-appender.js';
import { fileSinkName } from './names.js';
import type { RecordSink } from './sink.js';

/** `jsonl`: every record (requests and admin events), with its seq and hash, one per line. */
export class JsonlSink implements RecordSink {
  readonly name: string;
  readonly #file: FileAppender;
  constructor(file: string, rotateBytes: number | null, keep: number) {
    this.name = fileSinkName('jsonl', file);
    this.#file = new FileAppender(file, rotateBytes, keep);
  }
  ship(rows: readonly StoredRow[]): void {
    let out = '';
    for (const r of rows) out += `${withHash(r.rec, r.hash)}\n`;
    this.#file.append(out);
  }
  close(): void {
    this.#file.close();
  }
}

/** `combined`: requests only, in the NCSA combined format. */
export class CombinedSink implements RecordSink {
  readonly name: string;
  readonly #file: FileAppender;
  constructor(file: string) {
    this.name = fileSinkName('combined', file);
    this.#file = new FileAppender(file);
  }
  ship(rows: readonly StoredRow[]): void {
    let out = '';
    for (const r of rows)
      if (r.kind === 'request') out += `${combinedLine(JSON.parse(r.rec) as RequestRecord)}\n`;
    if (out !== '') this.#file.append(out);
  }
  close(): void {
    this.#file.close();
  }
}

/** `stdout`: every record as a JSON line on standard output. */
export class StdoutSink implements RecordSink {
  readonly name = 'stdout';
  ship(rows: readonly StoredRow[]): void {
    let out = '';
    for (const r of rows) out += `${withHash(r.rec, r.hash)}\n`;
    const buf = Buffer.from(out);
    let off = 0;
    while (off < buf.length) off += fs.writeSync(1, buf, off, buf.length - off);
  }
  close(): void {}
}
