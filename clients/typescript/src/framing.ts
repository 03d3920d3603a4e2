// NDJSON framing, sans I/O (the same contract as protocol/agentvm_protocol/_jsonrpc.py):
// feed chunks with `push`, get back the complete lines. Work is O(bytes): each chunk is
// scanned for newlines once, and a partial line is kept as a list of chunks until its
// newline arrives. A line longer than `maxFrameBytes` throws `FrameTooLargeError`
// instead of growing memory without bound.

/** The peer sent a line longer than the advertised `maxFrameBytes`. */
export class FrameTooLargeError extends Error {
  override name = "FrameTooLargeError";
}

/** Splits a byte stream into newline-terminated lines (without the newline). */
export class LineSplitter {
  #parts: Buffer[] = [];
  #partLength = 0;

  constructor(public maxFrameBytes: number) {}

  /** Feed one chunk; returns every line it completes, in order. */
  push(chunk: Buffer): Buffer[] {
    const lines: Buffer[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      this.#check(this.#partLength + piece.length);
      lines.push(this.#partLength ? Buffer.concat([...this.#parts, piece]) : piece);
      this.#parts = [];
      this.#partLength = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.#check(this.#partLength + rest.length);
      this.#parts.push(rest);
      this.#partLength += rest.length;
    }
    return lines;
  }

  /** Bytes of an unterminated last line, if any (called at end of input). */
  end(): Buffer | null {
    if (!this.#partLength) return null;
    const last = Buffer.concat(this.#parts);
    this.#parts = [];
    this.#partLength = 0;
    return last;
  }

  #check(length: number): void {
    if (length > this.maxFrameBytes) {
      throw new FrameTooLargeError(`sidecar sent a line longer than maxFrameBytes (${this.maxFrameBytes})`);
    }
  }
}
