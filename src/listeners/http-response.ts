// One HTTP/1.1 response on the wire: the ResponseSink the shared Exchange writes
// through. The framing decision is protocols/http1/framing.ts's; what is done
// here is the writing: a whole body in one write with its head, a streamed one
// chunked (or to the close for HTTP/1.0), the app's Content-Length held to
// (excess dropped, a shortfall aborts), HEAD without a length counted so its
// head can tell it, and the gateway's own short answers.

import type net from 'node:net';
import { GATHER_MIN } from '../byte-queue.js';
import type { Logger } from '../log.js';
import type { Headers } from '../pipeline/types.js';
import { type Framing, frameResponse } from '../protocols/http1/framing.js';
import type { RequestHead } from '../protocols/http1/parse.js';
import { CRLF, LAST_CHUNK, answerBytes, chunkPrefix, simpleResponse } from '../protocols/http1/serialize.js';
import { httpDate } from './date.js';
import { truncateWhole, type ResponseSink } from './exchange.js';

/** What a response needs of its connection. */
export interface HttpResponseOwner {
  readonly socket: net.Socket;
  /** The connection is closed (or closing after an error): nothing more is written. */
  readonly isClosed: boolean;
  readonly log: Logger;
  readonly bufferResponse: number;
  readonly keepAliveHint: string;
  /** Whether the connection may carry another request after this response, framing aside. */
  mayKeepAlive(): boolean;
  /** Resolves when the socket drained (under --send-timeout). */
  socketDrained(): Promise<void>;
  /** The response is out: the next request, or a graceful close. */
  responseDone(keepAlive: boolean): void;
  /** Break the connection now. */
  abortConnection(): void;
}

/**
 * The last head framed for each frozen header list, with what it was framed for. The static file app
 * answers every request for a file with one frozen list, so its head is made (and encoded) once a second
 * per file and request shape instead of once per request: framing and encoding the head were 6 % of the
 * gateway's profile serving a 1 KiB file.
 */
interface FramedHead {
  framing: Framing;
  bytes: Buffer;
  status: string;
  knownLength: number;
  date: string;
  mayKeepAlive: boolean;
  keepAliveHint: string;
  head: boolean;
  minor: 0 | 1;
}
const framedHeads = new WeakMap<Headers, FramedHead>();

const bytesOf = (head: string | Buffer): Buffer => (typeof head === 'string' ? Buffer.from(head, 'latin1') : head);

const hasContentLength = (headers: Headers): boolean => headers.some(([n]) => n.length === 14 && n.toLowerCase() === 'content-length');

export class HttpResponse implements ResponseSink {
  readonly finalStatusOnly = true;
  private noBody = false;
  private chunked = false;
  /** Bytes the app still owes by its own Content-Length (-1: it gave none). */
  private remaining = -1;
  private keepAlive = false;
  /** HEAD with no Content-Length from the app: its head waits for the end, with the body's length counted. */
  private deferred: { status: string; code: number; headers: Headers } | null = null;
  private counted = 0;

  constructor(
    private readonly conn: HttpResponseOwner,
    private readonly req: RequestHead,
  ) {}

  get closed(): boolean {
    return this.conn.isClosed;
  }

  /** The head: a string, or for a frozen header list the bytes kept from the last identical framing (FramedHead). */
  private frame(status: string, code: number, headers: Headers, knownLength: number): string | Buffer {
    const date = httpDate();
    const mayKeepAlive = this.conn.mayKeepAlive();
    const keepAliveHint = this.conn.keepAliveHint;
    const ctx = { date, mayKeepAlive, keepAliveHint };
    if (!Object.isFrozen(headers)) return this.took(frameResponse(this.req, status, code, headers, knownLength, ctx)).head;
    const head = this.req.method === 'HEAD';
    const minor = this.req.minor;
    let m = framedHeads.get(headers);
    if (
      m === undefined ||
      m.date !== date ||
      m.status !== status ||
      m.knownLength !== knownLength ||
      m.mayKeepAlive !== mayKeepAlive ||
      m.keepAliveHint !== keepAliveHint ||
      m.head !== head ||
      m.minor !== minor
    ) {
      const framing = frameResponse(this.req, status, code, headers, knownLength, ctx);
      m = { framing, bytes: Buffer.from(framing.head, 'latin1'), status, knownLength, date, mayKeepAlive, keepAliveHint, head, minor };
      framedHeads.set(headers, m);
    }
    this.took(m.framing);
    return m.bytes;
  }

  private took<F extends Framing>(f: F): F {
    this.noBody = f.noBody;
    this.chunked = f.chunked;
    this.remaining = f.remaining;
    this.keepAlive = f.keepAlive;
    return f;
  }

  sendWhole(status: string, code: number, headers: Headers, bufs: Uint8Array[], total: number): number {
    const head = this.frame(status, code, headers, total);
    const socket = this.conn.socket;
    if (this.noBody) {
      socket.write(bytesOf(head));
      return 0;
    }
    if (this.remaining >= 0 && total > this.remaining) total = truncateWhole(bufs, this.remaining, this.conn.log);
    if (total >= GATHER_MIN) {
      // the head, then the body's buffers as they are: one writev, no copy
      socket.cork();
      socket.write(bytesOf(head));
      for (const b of bufs) if (b.length > 0) socket.write(b);
      socket.uncork();
    } else {
      const out = Buffer.allocUnsafe(head.length + total);
      if (typeof head === 'string') out.write(head, 0, 'latin1');
      else out.set(head, 0);
      let off = head.length;
      for (const b of bufs) {
        out.set(b, off);
        off += b.length;
      }
      socket.write(out);
    }
    if (this.remaining >= 0) this.remaining -= total;
    return total;
  }

  sendHead(status: string, code: number, headers: Headers, first: Uint8Array, flushed?: () => void): number {
    if (this.req.method === 'HEAD' && !hasContentLength(headers)) {
      this.deferred = { status, code, headers };
      this.counted = first.length;
      return 0;
    }
    // head and first chunk leave in one packet
    const socket = this.conn.socket;
    socket.cork();
    socket.write(bytesOf(this.frame(status, code, headers, -1)));
    const n = this.sendBody(first, flushed);
    socket.uncork();
    return n;
  }

  sendBody(buf: Uint8Array, flushed?: () => void): number {
    if (this.deferred !== null) {
      this.counted += buf.length;
      return 0;
    }
    if (this.noBody) return 0;
    let data = buf;
    if (this.remaining >= 0) {
      if (data.length > this.remaining) {
        if (this.remaining === 0) return 0;
        this.conn.log.error(`app sent more bytes than its Content-Length; the excess was dropped`);
        data = data.subarray(0, this.remaining);
      }
      this.remaining -= data.length;
    }
    const socket = this.conn.socket;
    if (this.chunked) {
      socket.cork();
      socket.write(chunkPrefix(data.length), 'latin1');
      socket.write(data, flushed);
      socket.write(CRLF);
      socket.uncork();
    } else {
      // (the callback runs once the socket let go of the bytes, written or failed: either way they are no longer held)
      socket.write(data, flushed);
    }
    return data.length;
  }

  backpressure(): Promise<void> | null {
    return this.conn.socket.writableLength > this.conn.bufferResponse ? this.conn.socketDrained() : null;
  }

  endBody(): boolean {
    const d = this.deferred;
    if (d !== null) {
      this.deferred = null;
      this.conn.socket.write(bytesOf(this.frame(d.status, d.code, d.headers, this.counted)));
      return true;
    }
    if (this.remaining > 0 && !this.noBody) {
      this.conn.log.error(`app sent ${this.remaining} bytes less than its Content-Length; aborting the connection`);
      return false;
    }
    if (this.chunked) this.conn.socket.write(LAST_CHUNK);
    return true;
  }

  answer(status: number, retryAfter: number | null): number {
    const keep = this.conn.mayKeepAlive();
    let extra = retryAfter === null ? '' : `Retry-After: ${retryAfter}\r\n`;
    if (keep) extra += (this.req.minor === 0 ? 'Connection: keep-alive\r\n' : '') + this.conn.keepAliveHint;
    this.conn.socket.write(simpleResponse(status, httpDate(), !keep, extra));
    this.keepAlive = keep;
    return answerBytes(status);
  }

  abort(): void {
    this.conn.abortConnection();
  }

  done(): void {
    this.conn.responseDone(this.keepAlive);
  }
}
