const LINE_BUFFER_BYTES = 256 * 1024;

/**
 * Lines written as UTF-8 straight into one reused buffer. A batch joined into one string first
 * (`out += line`) has V8 flatten a string of a few hundred KiB per batch into fresh large-object
 * pages when it is encoded: that was ~0.4 page faults per record in the writer thread.
 */
export class LineBuffer {
  #buf = Buffer.allocUnsafeSlow(LINE_BUFFER_BYTES);
  #length = 0;

  /** Empties it; a buffer grown past 4× its usual size for one large batch is let go. */
  clear(): void {
    this.#length = 0;
    if (this.#buf.length > 4 * LINE_BUFFER_BYTES) this.#buf = Buffer.allocUnsafeSlow(LINE_BUFFER_BYTES);
  }

  add(text: string): void {
    const need = this.#length + 3 * text.length; // UTF-8 takes at most 3 bytes per UTF-16 unit
    if (need > this.#buf.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(need, 2 * this.#buf.length));
      this.#buf.copy(grown, 0, 0, this.#length);
      this.#buf = grown;
    }
    this.#length += this.#buf.write(text, this.#length, 'utf8');
  }

  /** `text`, then a newline. */
  addLine(text: string): void {
    this.add(text);
    this.add('\n');
  }

  /** What was added since the last clear (a view of the buffer: valid until the next add or clear). */
  bytes(): Buffer {
    return this.#buf.subarray(0, this.#length);
  }
}
