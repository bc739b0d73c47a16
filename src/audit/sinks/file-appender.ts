import fs from 'node:fs';
import path from 'node:path';

/**
 * Synchronous appends to a file, with optional size rotation (FILE → FILE.1 → … → FILE.<keep>).
 * Used by sinks inside the writer thread, where blocking I/O blocks no request.
 */
export class FileAppender {
  readonly path: string;
  readonly #rotateBytes: number | null;
  readonly #keep: number;
  #fd: number | null = null;
  #size = 0;

  constructor(file: string, rotateBytes: number | null = null, keep = 5) {
    this.path = file;
    this.#rotateBytes = rotateBytes;
    this.#keep = keep;
  }

  #open(): number {
    if (this.#fd === null) {
      fs.mkdirSync(path.dirname(this.path), { recursive: true });
      this.#fd = fs.openSync(this.path, 'a', 0o640);
      this.#size = fs.fstatSync(this.#fd).size;
    }
    return this.#fd;
  }

  append(data: string): void {
    const fd = this.#open();
    const buf = Buffer.from(data);
    let off = 0;
    while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
    this.#size += buf.length;
    if (this.#rotateBytes !== null && this.#size >= this.#rotateBytes) this.#rotate();
  }

  #rotate(): void {
    this.close();
    fs.rmSync(`${this.path}.${this.#keep}`, { force: true });
    for (let i = this.#keep - 1; i >= 1; i--) {
      if (fs.existsSync(`${this.path}.${i}`)) fs.renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
    }
    fs.renameSync(this.path, `${this.path}.1`);
    this.#open(); // the live file exists again at once (for `tail -F` and log shippers)
  }

  close(): void {
    if (this.#fd !== null) fs.closeSync(this.#fd);
    this.#fd = null;
  }
}
