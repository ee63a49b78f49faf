// `wsgi.input` for TypeScript apps and for the Python pool: the request body as
// an async iterable of chunks. A listener pushes what its codec decodes; the app
// pulls. `buffered` holds the whole body when the listener read all of it before
// calling the app (the common case), so the Python pool can send it inline.

import { ByteQueue } from '../byte-queue.js';
import type { Input } from './types.js';

export class BodyInput implements Input {
  buffered: Buffer | null = null;
  /** Called when the consumer has pulled everything queued (time to resume reading). */
  onDrain: (() => void) | null = null;

  private readonly queue = new ByteQueue();
  private ended = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;

  /** A body that is already complete. */
  static of(body: Buffer): BodyInput {
    const input = new BodyInput();
    input.buffered = body;
    input.ended = true;
    return input;
  }

  /** Bytes pushed but not yet pulled; a listener pauses its socket when this grows. */
  get queuedBytes(): number {
    return this.queue.bytes;
  }

  push(chunk: Buffer): void {
    if (this.ended) return;
    this.queue.push(chunk);
    this.signal();
  }

  end(): void {
    this.ended = true;
    this.signal();
  }

  /** The body cannot be completed (client gone, bad chunk): readers get `err`. */
  fail(err: Error): void {
    if (this.ended) return;
    this.failure = err;
    this.ended = true;
    this.signal();
  }

  get complete(): boolean {
    return this.ended && this.failure === null;
  }

  private signal(): void {
    const wake = this.wake;
    if (wake) {
      this.wake = null;
      wake();
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.buffered !== null) {
      if (this.buffered.length > 0) yield this.buffered;
      return;
    }
    for (;;) {
      const chunk = this.queue.shift();
      if (chunk !== undefined) {
        if (this.queue.bytes === 0 && this.onDrain) this.onDrain();
        yield chunk;
        continue;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  async readAll(): Promise<Buffer> {
    if (this.buffered !== null) return this.buffered;
    const parts: Uint8Array[] = [];
    for await (const chunk of this) parts.push(chunk);
    return Buffer.concat(parts);
  }
}
