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
      const fd = fs.openSync(this.path, 'a+', 0o640);
      this.#size = wholeLines(fd, fs.fstatSync(fd).size);
      this.#fd = fd;
    }
    return this.#fd;
  }

  /**
   * Appends whole lines or nothing: when a write fails part-way (ENOSPC, EIO), the bytes already
   * written are cut off again before the error is thrown, so the sink's retry of the same rows
   * leaves no torn line and no duplicate.
   */
  append(buf: Buffer): void {
    const fd = this.#open();
    let off = 0;
    try {
      while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      if (off > 0) {
        try {
          fs.ftruncateSync(fd, this.#size);
        } catch {
          this.close(); // reopening cuts the torn tail (wholeLines)
        }
      }
      throw err;
    }
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

/**
 * The size of the file up to its last newline, cutting a torn last line (left by a crash or a
 * failed truncate in the middle of an append): the sink ships those rows again from its cursor.
 */
function wholeLines(fd: number, size: number): number {
  if (size === 0) return 0;
  const tail = Buffer.alloc(Math.min(size, 64 * 1024));
  let end = size;
  while (end > 0) {
    const n = Math.min(tail.length, end);
    fs.readSync(fd, tail, 0, n, end - n);
    const nl = tail.lastIndexOf(10, n - 1);
    if (nl !== -1) {
      end = end - n + nl + 1;
      break;
    }
    end -= n;
  }
  if (end !== size) fs.ftruncateSync(fd, end);
  return end;
}
