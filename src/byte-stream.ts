// An async stream of bytes over a ByteQueue: a producer pushes, then ends
// (with the error that cut it short, if one did); one consumer iterates.
// Written once for wsgi.input (BodyInput), an upstream's answer (Feed) and the
// Python pool's response bodies, which differ only in what they do when bytes
// pile up: a Flow pauses the producer past `high` bytes unread and resumes it
// at `high / 2`, so a reader that lags costs the gateway `high`, not the body.

import { ByteQueue } from './byte-queue.js';

/** What a stream holds back when its reader falls behind. */
export interface Flow {
  /** Bytes waiting past which the producer is paused (resumed at half). */
  readonly high: number;
  pause(): void;
  resume(): void;
}

export class ByteStream implements AsyncIterable<Buffer> {
  protected readonly queue = new ByteQueue();
  private ended = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private paused = false;

  constructor(private readonly flow: Flow | null = null) {}

  /** Bytes pushed and not yet taken. */
  get queuedBytes(): number {
    return this.queue.bytes;
  }

  /** Ended without an error. */
  get complete(): boolean {
    return this.ended && this.failure === null;
  }

  /** Bytes; ignored once the stream ended. */
  push(chunk: Uint8Array): void {
    if (this.ended) return;
    this.queue.push(chunk);
    const flow = this.flow;
    if (flow !== null && !this.paused && this.queue.bytes > flow.high) {
      this.paused = true;
      flow.pause();
    }
    this.signal();
  }

  /** No more bytes; with `err`, the reader gets it once what came before is read. Only the first end counts. */
  end(err: Error | null = null): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = err;
    this.signal();
  }

  /** Everything queued, once it ended without an error (null before, or after an error); the queue is left empty. */
  takeAll(): Buffer[] | null {
    return this.complete ? this.queue.takeParts() : null;
  }

  /** Drop what is queued and end (the reader is gone). */
  discard(): void {
    this.queue.clear();
    this.end();
  }

  /** After each chunk taken by the reader (BodyInput resumes its socket when the queue is empty). */
  protected taken(): void {}

  private signal(): void {
    const wake = this.wake;
    if (wake) {
      this.wake = null;
      wake();
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    for (;;) {
      const chunk = this.queue.shift();
      if (chunk !== undefined) {
        if (this.paused && this.queue.bytes <= this.flow!.high >> 1) {
          this.paused = false;
          this.flow!.resume();
        }
        this.taken();
        yield chunk;
        continue;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}
