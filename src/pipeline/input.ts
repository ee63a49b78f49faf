// `wsgi.input` for TypeScript apps and for the Python pool: the request body as
// an async iterable of chunks. A listener pushes what its codec decodes; the app
// pulls. `buffered` holds the whole body when the listener read all of it before
// calling the app (the common case), so the Python pool can send it inline.

import { ByteStream } from '../byte-stream.js';
import type { Input } from './types.js';

export class BodyInput extends ByteStream implements Input {
  buffered: Buffer | null = null;
  /** Called when the consumer has pulled everything queued (time to resume reading). */
  onDrain: (() => void) | null = null;

  /** A body that is already complete. */
  static of(body: Buffer): BodyInput {
    const input = new BodyInput();
    input.buffered = body;
    input.end();
    return input;
  }

  /** The body cannot be completed (client gone, bad chunk): readers get `err`. */
  fail(err: Error): void {
    this.end(err);
  }

  protected override taken(): void {
    if (this.queue.bytes === 0 && this.onDrain) this.onDrain();
  }

  override async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    if (this.buffered !== null) {
      if (this.buffered.length > 0) yield this.buffered;
      return;
    }
    yield* super[Symbol.asyncIterator]();
  }

  async readAll(): Promise<Buffer> {
    if (this.buffered !== null) return this.buffered;
    const parts: Uint8Array[] = [];
    for await (const chunk of this) parts.push(chunk);
    return Buffer.concat(parts);
  }
}
