// A response body that an upstream fills as its bytes arrive (FastCGI
// records, a CGI script's stdout): an async iterable the listener drains, with
// an end that may carry the error that cut it short, and a high-water mark that
// pauses the upstream while a slow client lags (issue 11's family: a 300 MB CGI
// answer to a client that read nothing was held whole).

import { ByteStream } from '../byte-stream.js';
import type { GatewayError } from '../errors.js';
import { HOP_BY_HOP } from '../pipeline/response.js';
import type { Body, StartResponse } from '../pipeline/types.js';
import { CgiHeadParser } from '../protocols/cgi/response.js';
import { NEED_DATA } from '../protocols/need-data.js';

/** What a Feed holds back when its reader (a slow client) falls behind. */
export interface FeedSource {
  /** Stop sending (and stop timing the upstream: the wait is the client's). */
  pause(): void;
  resume(): void;
}

/** Bytes a Feed holds for a slow reader before its source is paused (--buffer-response's default). */
export const FEED_HIGH_WATER = 1 << 20;

/**
 * An upstream's body on its way to the client. `source` is paused while more
 * than `highWater` bytes wait for the reader and resumed under half of it.
 */
export class Feed extends ByteStream {
  /** PEP 3333 close(): set by the producer (e.g. to stop reading its source). */
  close: () => void = () => {};

  constructor(source: FeedSource | null = null, highWater = FEED_HIGH_WATER) {
    super(source === null ? null : { high: highWater, pause: () => source.pause(), resume: () => source.resume() });
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
    /** Paused while the body waits for a slow client (null: never). */
    private readonly source: FeedSource | null = null,
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
    const feed = new Feed(this.source);
    feed.close = this.onClose;
    feed.push(this.head.rest);
    this.feed = feed;
    this.settled = true;
    this.startResponse(
      h.status,
      h.headers.filter(([n]) => !HOP_BY_HOP.has(n.toLowerCase())),
    );
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
