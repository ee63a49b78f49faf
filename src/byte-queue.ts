// A FIFO of byte chunks whose memory is proportional to the bytes it holds,
// however a peer cut them (issue 11). A chunk is kept as it is (a view, no
// copy) only when it is large and carries most of the buffer it views, or
// when it is all the queue holds; the rest -- a million 1-byte chunked-body pieces or FastCGI STDIN records, a
// 4 KiB record that would pin a 64 KiB read -- is copied into shared blocks.
// Queued that way, 1 MB of 1-byte pieces costs about 1 MB, not a million
// Buffer objects (~120 bytes each) and the reads they pin.
//
// Used behind wsgi.input (BodyInput), the bodies listeners hold before calling
// the app, and the FastCGI PARAMS of a request.

/** Chunks shorter than this are copied into a block. */
const SMALL = 4096;
const BLOCK = 16 * 1024;
/** A view that pins a buffer more than this many times its own size is copied. */
const MAX_PIN = 4;

export class ByteQueue {
  /** Bytes pushed and not yet shifted. */
  bytes = 0;
  private parts: Buffer[] = [];
  private first = 0;
  /** The block small chunks are copied into; [blockFrom, blockUsed) of it is queued and not yet in `parts`. */
  private block: Buffer | null = null;
  private blockFrom = 0;
  private blockUsed = 0;

  push(chunk: Uint8Array): void {
    const n = chunk.length;
    if (n === 0) return;
    const lone = this.bytes === 0;
    this.bytes += n;
    // the usual case, a body in one piece, is neither copied nor given a block
    if (lone && n < SMALL && this.block === null) return void this.parts.push(asBuffer(chunk));
    if (n < SMALL) {
      let block = this.block;
      if (block === null || this.blockUsed + n > block.length) {
        this.seal();
        block = this.block = Buffer.allocUnsafeSlow(BLOCK);
        this.blockFrom = this.blockUsed = 0;
      }
      block.set(chunk, this.blockUsed);
      this.blockUsed += n;
      return;
    }
    this.seal();
    const own = chunk.buffer.byteLength > MAX_PIN * n ? Buffer.from(chunk) : asBuffer(chunk);
    this.parts.push(own);
  }

  /** The oldest chunk (small ones come back joined), or undefined when empty. */
  shift(): Buffer | undefined {
    if (this.first === this.parts.length) this.seal();
    if (this.first === this.parts.length) return undefined;
    const chunk = this.parts[this.first]!;
    this.parts[this.first++] = EMPTY;
    if (this.first === this.parts.length) {
      this.parts.length = 0;
      this.first = 0;
    } else if (this.first >= 64 && this.first * 2 >= this.parts.length) {
      this.parts.splice(0, this.first);
      this.first = 0;
    }
    this.bytes -= chunk.length;
    return chunk;
  }

  /** Everything queued as one buffer (no copy when it is one chunk); the queue is left empty. */
  take(): Buffer {
    this.seal();
    const parts = this.first === 0 ? this.parts : this.parts.slice(this.first);
    const whole = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.bytes);
    this.clear();
    return whole;
  }

  /** Everything queued, as the chunks it is held in (none joined); the queue is left empty. */
  takeParts(): Buffer[] {
    this.seal();
    const parts = this.first === 0 ? this.parts : this.parts.slice(this.first);
    this.clear();
    return parts;
  }

  clear(): void {
    this.parts = [];
    this.first = 0;
    this.block = null;
    this.blockFrom = this.blockUsed = 0;
    this.bytes = 0;
  }

  /** Move the block's queued bytes into `parts`, so that order is kept. */
  private seal(): void {
    if (this.blockUsed > this.blockFrom) {
      this.parts.push(this.block!.subarray(this.blockFrom, this.blockUsed));
      this.blockFrom = this.blockUsed;
    }
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Bytes at least this long are written after their frame's or response's head as
 * they are (a gathered write), not copied behind it: under it Node's buffer pool
 * serves the copy; above it a copy is a buffer of its own, and that churn of
 * memory outside V8's heap sets off its garbage collector (issue 12: a 10 KiB
 * echo cost 1.5x the gateway CPU).
 */
export const GATHER_MIN = 4096;

/** A Buffer view of `b` (no copy). */
export const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length));
