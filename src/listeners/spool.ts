// --spool-request-body: a request body too large to hold in memory, written to
// a temporary file while it arrives, so the app (and its worker) is called only
// once the whole body is in: a slow uploader then costs disk, not a worker
// (nginx's client_body_temp_path). The file is unlinked as soon as it is
// created, so nothing is left behind whatever happens to the gateway; it lives
// on as a descriptor until the app has read it.

import { randomBytes } from 'node:crypto';
import { close, openSync, read, unlinkSync, write } from 'node:fs';
import { join } from 'node:path';
import { BodyInput } from '../pipeline/input.js';

/** Writes not yet done before the listener stops reading from the client. */
const MAX_QUEUED = 1 << 20;
const READ_CHUNK = 64 * 1024;

export class Spool {
  private fd: number;
  /** Bytes handed to write(); the next one goes at this offset. */
  private size = 0;
  /** Bytes handed to write() and not yet on disk. */
  private queued = 0;
  private writing: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private onRoom: (() => void) | null = null;
  /** A read is on the threadpool: the descriptor is closed after it, never under it (it could be reused). */
  private reading = false;
  private discarded = false;

  /**
   * Create (and at once unlink) a file in `dir`. Throws if it cannot. A write
   * that fails later (a full disk) calls `onFail` once, at once: the listener
   * answers and discards the spool rather than wait on room that never comes.
   */
  constructor(
    dir: string,
    private readonly onFail: (err: NodeJS.ErrnoException) => void = () => {},
  ) {
    const path = join(dir, `warpipe-body-${randomBytes(8).toString('hex')}`);
    this.fd = openSync(path, 'wx+', 0o600);
    unlinkSync(path);
  }

  /** Append `chunk`; false when enough is queued that the caller should stop reading until `onRoom`. */
  write(chunk: Buffer, onRoom: () => void): boolean {
    const at = this.size;
    this.size += chunk.length;
    this.queued += chunk.length;
    this.writing = this.writing.then(() => this.writeAt(chunk, at));
    if (this.queued <= MAX_QUEUED) return true;
    this.onRoom = onRoom;
    return false;
  }

  private writeAt(chunk: Buffer, at: number): Promise<void> {
    if (this.failure !== null || this.discarded) return Promise.resolve();
    return new Promise((resolve) => {
      const step = (off: number): void => {
        write(this.fd, chunk, off, chunk.length - off, at + off, (err, n) => {
          if (err) {
            this.failure = err;
            this.onRoom = null;
            resolve();
            if (!this.discarded) this.onFail(err);
            return;
          }
          if (off + n < chunk.length) return step(off + n);
          this.queued -= chunk.length;
          if (this.queued <= MAX_QUEUED / 2 && this.onRoom) {
            const wake = this.onRoom;
            this.onRoom = null;
            wake();
          }
          resolve();
        });
      };
      step(0);
    });
  }

  /** Once every write is done: the body as a stream read back from the file (which closes it at the end), or the write error. */
  async finish(): Promise<BodyInput> {
    await this.writing;
    if (this.failure !== null) throw this.failure;
    const input = new BodyInput();
    let offset = 0;
    const pump = (): void => {
      if (this.reading || this.discarded) return;
      if (offset >= this.size) {
        input.end();
        this.discard();
        return;
      }
      if (input.queuedBytes >= READ_CHUNK * 4) return; // onDrain calls again
      this.reading = true;
      const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, this.size - offset));
      read(this.fd, buf, 0, buf.length, offset, (err, n) => {
        this.reading = false;
        if (this.discarded) return this.closeFd();
        if (err || n === 0) {
          input.fail(err ?? new Error('the spooled request body is shorter than what was written'));
          this.discard();
          return;
        }
        offset += n;
        input.push(n === buf.length ? buf : buf.subarray(0, n));
        pump();
      });
    };
    input.onDrain = pump;
    pump();
    return input;
  }

  /** Close the file (the request ended early, or the body was read): once no write or read is in flight. */
  discard(): void {
    if (this.discarded) return;
    this.discarded = true;
    this.onRoom = null;
    void this.writing.then(() => {
      if (!this.reading) this.closeFd();
    });
  }

  private closeFd(): void {
    if (this.fd < 0) return;
    close(this.fd, () => {});
    this.fd = -1;
  }
}
