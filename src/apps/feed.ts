// A response body that an upstream fills as its bytes arrive (FastCGI
// records, a CGI script's stdout): an async iterable the listener drains, with
// an end that may carry the error that cut it short.

export class Feed implements AsyncIterable<Buffer> {
  private items: Buffer[] = [];
  private done = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  /** PEP 3333 close(): set by the producer (e.g. to stop reading its source). */
  close: () => void = () => {};

  push(b: Buffer): void {
    if (b.length > 0) this.items.push(b);
    this.signal();
  }

  /** No more bytes; with `err`, the listener aborts the response instead of ending it. */
  end(err: Error | null = null): void {
    this.done = true;
    this.failure = err;
    this.signal();
  }

  private signal(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (;;) {
      const item = this.items.shift();
      if (item) yield item;
      else if (this.failure) throw this.failure;
      else if (this.done) return;
      else await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}
