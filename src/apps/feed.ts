// A response body that an upstream fills as its bytes arrive (FastCGI
// records, a CGI script's stdout): an async iterable the listener drains, with
// an end that may carry the error that cut it short.

import type { GatewayError } from '../errors.js';
import { HOP_BY_HOP } from '../pipeline/response.js';
import type { Body, StartResponse } from '../pipeline/types.js';
import { CgiHeadParser } from '../protocols/cgi/response.js';
import { NEED_DATA } from '../protocols/need-data.js';

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

/**
 * An upstream's answer as it arrives (a CGI script's stdout, FastCGI STDOUT,
 * a uwsgi backend's HTTP response): once its head is whole, startResponse runs
 * and the request resolves with a Feed of the body; before that, a failure
 * rejects the request (the listener answers 5xx), after it, it aborts the body.
 */
export class UpstreamReply {
  private readonly head = new CgiHeadParser();
  private feed: Feed | null = null;
  private settled = false;

  constructor(
    private readonly startResponse: StartResponse,
    private readonly resolve: (body: Body) => void,
    private readonly reject: (err: Error) => void,
    /** PEP 3333 close() of the body: stop the upstream. */
    private readonly onClose: () => void,
  ) {}

  /** The head has come and the body is being handed on. */
  get started(): boolean {
    return this.feed !== null;
  }

  /** Bytes from the upstream: the head, then the body. Throws the parser's 502 on a bad head. */
  receive(chunk: Buffer): void {
    if (this.feed) return this.feed.push(chunk);
    const h = this.head.receive(chunk);
    if (h === NEED_DATA) return;
    const feed = new Feed();
    feed.close = this.onClose;
    feed.push(this.head.rest);
    this.feed = feed;
    this.settled = true;
    this.startResponse(h.status, h.headers.filter(([n]) => !HOP_BY_HOP.has(n.toLowerCase())));
    this.resolve(feed);
  }

  /** The upstream finished. Before any head that is a failure: `noHead` says which (and may log it). */
  end(noHead: () => GatewayError): void {
    if (this.feed) this.feed.end();
    else if (!this.settled) this.fail(noHead());
  }

  fail(err: GatewayError): void {
    if (this.feed) this.feed.end(err);
    else if (!this.settled) {
      this.settled = true;
      this.reject(err);
    }
  }
}
