// One HTTP/2 stream: a request read from node:http2's stream (its body held
// whole up to --buffer-request-body, else streamed to the app with the stream's
// flow control as the backpressure), and the ResponseSink the shared Exchange
// writes through. What HTTP/1.1 does per connection is done here per stream:
// the deadlines (body silence, --min-upload-rate, --send-timeout), the 413/408/
// 400 answers, the app's Content-Length held to. A stream that fails is reset
// on its own; the connection and its other streams go on.

import http2, { type ServerHttp2Stream } from 'node:http2';
import { ByteQueue } from '../byte-queue.js';
import { GatewayError, LocalProtocolError, OverloadError, RemoteProtocolError, codes } from '../errors.js';
import { BodyInput } from '../pipeline/input.js';
import type { Environ, Headers } from '../pipeline/types.js';
import { headersObject, readRequest, responseHead, type Http2Request } from '../protocols/http2/message.js';
import { answerBytes, reasonPhrase } from '../protocols/http1/serialize.js';
import { UploadRate } from './deadlines.js';
import { Spool } from './spool.js';
import { Exchange, truncateWhole, type ResponseSink } from './exchange.js';
import { http2Environ, refusedEnviron, type Peer } from './http-environ.js';
import { isHealthTarget } from './http-health.js';
import type { HttpConnectionHost } from './http-connection.js';

const { NGHTTP2_NO_ERROR, NGHTTP2_INTERNAL_ERROR, NGHTTP2_CANCEL } = http2.constants;

const EMPTY = Buffer.alloc(0);

/** Node takes a raw header list in respond() (22.17+); false once it refused one. */
let rawHeaders = true;

const ignore = (): void => {};

/** What a stream needs of its connection (http2-connection.ts). */
export interface Http2StreamHost {
  readonly listener: HttpConnectionHost;
  readonly peer: Peer;
  /**
   * The stream ended before its response did, reset by the client (whatever the code, NO_ERROR too) or by nghttp2
   * for the client's protocol error (the rapid-reset cap); `code` is the RST_STREAM's.
   */
  streamReset(code: number): void;
  /** The stream is closed: forget it. */
  streamClosed(s: Http2Stream): void;
}

export class Http2Stream implements ResponseSink {
  readonly finalStatusOnly = true;
  /** Date.now() ms when expire() is due (0: none); the connection's sweep reads it. */
  deadline = 0;
  private kind: 'body' | 'send' | null = null;
  /** --min-upload-rate, and the body while it is held whole (up to --buffer-request-body): made only for a request with a body. */
  private rate: UploadRate | null = null;
  private req: Http2Request | null = null;
  private exchange: Exchange | null = null;
  private parts: ByteQueue | null = null;
  /** --spool-request-body: the body is going to a temporary file. */
  private spool: Spool | null = null;
  private bodyBytes = 0;
  private input: BodyInput | null = null;
  private bodyDone: boolean;
  private dispatched = false;
  // the response
  private noBody = false;
  /** Bytes the app still owes by its own Content-Length (-1: it gave none). */
  private remaining = -1;
  private ended = false;
  /** HEAD with no Content-Length from the app: its HEADERS wait for the end, with the body's length counted. */
  private deferred: { code: number; headers: Headers } | null = null;
  private counted = 0;
  private drainWaiter: (() => void) | null = null;
  private drainHeard = false;
  /** Bytes of the whole response node still held when the send deadline was last armed (awaitFlush). */
  private flushLeft = 0;
  /** Closed, or reset by us: nothing more goes out. */
  private gone = false;
  /** We reset it (the app failed, --send-timeout): not the client's doing. */
  private resetByUs = false;

  constructor(
    private readonly host: Http2StreamHost,
    readonly stream: ServerHttp2Stream,
    raw: string[],
  ) {
    this.bodyDone = stream.endAfterHeaders;
    stream.on('error', ignore); // 'close' follows, with the code
    stream.on('close', () => this.onClose());
    this.start(raw);
  }

  private start(raw: string[]): void {
    const { host, stream } = this;
    const { listener } = host;
    const started = listener.observer === null ? 0 : performance.now();
    let environ: Environ;
    try {
      const req = (this.req = readRequest(raw));
      environ = http2Environ(req, host.peer, listener);
    } catch (err) {
      return this.refuse(err, raw, started);
    }
    const req = this.req;
    const client = host.peer.viaProxy && typeof environ.REMOTE_ADDR === 'string' ? environ.REMOTE_ADDR : host.peer.remoteAddr;
    const health = listener.health;
    const server = health !== null && isHealthTarget(req.target, health.path) ? health : listener;
    this.exchange = new Exchange(server, environ, this, client, listener.scheme, started);
    const { limits, bodyTimeout } = listener.options;
    if (req.contentLength > limits.maxBodyBytes) return this.answerNow(413);
    if (this.bodyDone) return this.dispatch(BodyInput.of(EMPTY));
    if (req.expectContinue) stream.additionalHeaders({ ':status': 100 });
    this.rate = new UploadRate();
    this.parts = new ByteQueue();
    this.setDeadline('body', bodyTimeout);
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('end', () => this.onEnd());
  }

  private setDeadline(kind: 'body' | 'send' | null, seconds: number): void {
    this.kind = kind;
    this.deadline = kind === null ? 0 : Date.now() + seconds * 1000;
  }

  /** As HTTP/1.1's: silence of --body-timeout, and while the app waits on the body, --min-upload-rate. */
  private armBodyDeadline(): void {
    const { bodyTimeout, minUploadRate } = this.host.listener.options;
    this.kind = 'body';
    this.deadline = this.rate!.deadline(bodyTimeout, minUploadRate, this.input !== null);
  }

  // --- the request ---

  private onData(chunk: Buffer): void {
    if (this.gone) return;
    const { options } = this.host.listener;
    this.bodyBytes += chunk.length;
    if (this.bodyBytes > options.limits.maxBodyBytes) return this.tooLarge();
    if (this.kind === 'body') {
      this.rate!.add(chunk.length);
      this.armBodyDeadline();
    }
    const input = this.input;
    if (input !== null) {
      input.push(chunk);
      if (input.queuedBytes > options.bufferRequestBody && !this.stream.isPaused()) {
        this.stream.pause(); // its window stays shut until the app reads: HTTP/2's flow control is the backpressure
        if (this.kind === 'body') this.setDeadline(null, 0);
      }
      return;
    }
    if (this.spool !== null) return this.spoolChunk(chunk);
    this.parts!.push(chunk);
    if (this.bodyBytes <= options.bufferRequestBody || this.startSpool()) return;
    // too large to hold: give the app a stream and keep feeding it
    const streamed = new BodyInput();
    for (let part = this.parts!.shift(); part !== undefined; part = this.parts!.shift()) streamed.push(part);
    streamed.onDrain = () => this.inputOnDrain();
    this.dispatch(streamed);
    this.rate!.restart();
    this.armBodyDeadline();
  }

  /** --spool-request-body: a body of a known length within it goes to a temporary file; false to stream it to the app. */
  private startSpool(): boolean {
    const { spoolRequestBody = 0, spoolDir = '' } = this.host.listener.options;
    const length = this.req!.contentLength;
    if (spoolRequestBody <= 0 || length < 0 || length > spoolRequestBody) return false;
    try {
      this.spool = new Spool(spoolDir, (err) => this.spoolFailed(err));
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      this.host.listener.log.error(`cannot spool a request body to ${spoolDir} (${why}); streaming it to the app instead`);
      return false;
    }
    for (let part = this.parts!.shift(); part !== undefined; part = this.parts!.shift()) this.spoolChunk(part);
    return true;
  }

  private spoolChunk(chunk: Buffer): void {
    if (this.spool!.write(chunk, this.spoolOnRoom)) return;
    this.stream.pause(); // the disk is behind: the stream's window stays shut, and the client is not to blame for the wait
    if (this.kind === 'body') this.setDeadline(null, 0);
  }

  private readonly spoolOnRoom = (): void => {
    if (this.gone || !this.stream.isPaused()) return;
    if (!this.bodyDone) this.setDeadline('body', this.host.listener.options.bodyTimeout);
    this.stream.resume();
  };

  /** A write to the spool failed (a full disk): 500 now, whether or not the body is all in. */
  private spoolFailed(err: NodeJS.ErrnoException): void {
    const spool = this.spool;
    if (spool === null || this.gone) return;
    this.spool = null;
    spool.discard();
    const dir = this.host.listener.options.spoolDir;
    this.host.listener.log.error(`cannot write an HTTP/2 request body to a temporary file in ${dir} (${err.code ?? err.message})`);
    this.exchange?.fail(new GatewayError(codes.SPOOL_FAILED, `request body spool failed: ${err.message}`, 500));
  }

  private onEnd(): void {
    this.bodyDone = true;
    if (this.kind === 'body') this.setDeadline(null, 0);
    if (this.gone) return;
    if (this.input !== null) return this.input.end();
    const spool = this.spool;
    if (spool !== null) {
      // the whole body is on disk: the app is called now, reading it back
      this.spool = null;
      spool.finish().then(
        (input) => (this.gone ? spool.discard() : this.dispatch(input)),
        (err: NodeJS.ErrnoException) => {
          this.spool = spool;
          this.spoolFailed(err);
        },
      );
      return;
    }
    const body = this.parts!.take();
    // the whole body is here: tell apps its length when the client did not (Django trusts CONTENT_LENGTH)
    if (this.req!.contentLength < 0) this.exchange!.environ.CONTENT_LENGTH = String(body.length);
    this.dispatch(BodyInput.of(body));
  }

  private inputOnDrain(): void {
    if (!this.stream.isPaused() || this.gone) return;
    if (!this.bodyDone) {
      this.rate!.restart(); // the time we held the upload back does not count against it
      this.armBodyDeadline();
    }
    this.stream.resume();
  }

  private dispatch(input: BodyInput): void {
    this.dispatched = true;
    this.input = input;
    this.exchange!.run(input);
  }

  /** The body outgrew --limit-request-body: 413 while the app has not started, else its body fails. */
  private tooLarge(): void {
    const err = new RemoteProtocolError(codes.BODY_TOO_LARGE, 'request body too large', 413);
    if (!this.dispatched) return this.answerNow(413);
    this.input?.fail(err);
    this.resetByUs = true;
    this.stream.close(NGHTTP2_CANCEL);
  }

  /** A request warpipe refuses before an exchange (bad pseudo-headers, :authority vs Host): its status, logged by its request line. */
  private refuse(err: unknown, raw: readonly string[], started: number): void {
    if (!(err instanceof RemoteProtocolError)) this.host.listener.log.error(`bug while reading an HTTP/2 request: ${(err as Error).stack}`);
    const status = err instanceof GatewayError ? err.status : 400;
    this.host.listener.log.debug(`${status} to ${this.host.peer.remoteAddr}: ${(err as Error).message}`);
    const pick = (name: string): string => {
      for (let i = 0; i < raw.length; i += 2) if (raw[i] === name) return raw[i + 1]!;
      return '';
    };
    const environ = refusedEnviron(pick(':method'), pick(':path'), 'HTTP/2');
    const { listener } = this.host;
    this.exchange = new Exchange(listener, environ, this, this.host.peer.remoteAddr, listener.scheme, started);
    this.answerNow(status);
  }

  /** Answer with the gateway's own short response now, before the app ran; the rest of the request is not read. */
  private answerNow(status: number): void {
    const bytes = this.answer(status, null);
    this.exchange?.answered(status, bytes);
  }

  // --- the response (ResponseSink) ---

  get closed(): boolean {
    return this.gone || this.stream.destroyed;
  }

  /** HEADERS, turning node's refusal of a field into the app's error (a 500 while nothing was sent). */
  private respond(raw: string[], endStream: boolean): void {
    try {
      if (rawHeaders) {
        try {
          // node's raw header list (Node 22.17+) skips the copy and checks of a header object: 8 % of the gateway's CPU under h2load
          this.stream.respond(raw as unknown as http2.OutgoingHttpHeaders, { endStream });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ERR_INVALID_ARG_TYPE' || this.stream.headersSent) throw err;
          rawHeaders = false; // an older Node: objects from now on
          this.stream.respond(headersObject(raw), { endStream });
        }
      } else {
        this.stream.respond(headersObject(raw), { endStream });
      }
    } catch (err) {
      if (this.stream.headersSent || this.stream.destroyed) throw err;
      throw new LocalProtocolError(codes.BAD_RESPONSE_HEADER, `the response cannot be sent over HTTP/2: ${(err as Error).message}`);
    }
    if (endStream) this.ended = true;
  }

  sendWhole(_status: string, code: number, headers: Headers, bufs: Uint8Array[], total: number): number {
    const head = responseHead(this.req!.method, code, headers, total);
    this.noBody = head.noBody;
    if (head.noBody || total === 0) {
      this.respond(head.raw, true);
      return 0;
    }
    if (head.appLength >= 0 && total > head.appLength) total = truncateWhole(bufs, head.appLength, this.host.listener.log);
    this.remaining = head.appLength >= 0 ? head.appLength - total : -1;
    this.respond(head.raw, false);
    const last = bufs.length - 1;
    for (let i = 0; i < last; i++) if (bufs[i]!.length > 0) this.stream.write(bufs[i]);
    if (this.remaining <= 0) {
      // the last DATA frame carries END_STREAM
      this.stream.end(bufs[last]);
      this.ended = true;
      this.awaitFlush();
    } else {
      this.stream.write(bufs[last]);
    }
    return total;
  }

  sendHead(_status: string, code: number, headers: Headers, first: Uint8Array, flushed?: () => void): number {
    const method = this.req!.method;
    const head = responseHead(method, code, headers, -1);
    if (method === 'HEAD' && head.appLength < 0) {
      this.deferred = { code, headers };
      this.counted = first.length;
      return 0;
    }
    this.noBody = head.noBody;
    this.remaining = head.appLength;
    this.respond(head.raw, head.noBody);
    return this.sendBody(first, flushed);
  }

  sendBody(buf: Uint8Array, flushed?: () => void): number {
    if (this.deferred !== null) {
      this.counted += buf.length;
      return 0;
    }
    if (this.noBody || this.ended) return 0;
    let data = buf;
    if (this.remaining >= 0) {
      if (data.length > this.remaining) {
        if (this.remaining === 0) return 0;
        this.host.listener.log.error('app sent more bytes than its Content-Length; the excess was dropped');
        data = data.subarray(0, this.remaining);
      }
      this.remaining -= data.length;
    }
    // (the callback runs once node let go of the bytes, sent or failed: either way they are no longer held)
    this.stream.write(data, flushed === undefined ? undefined : () => flushed());
    return data.length;
  }

  backpressure(): Promise<void> | null {
    if (this.closed || this.stream.writableLength <= this.host.listener.options.bufferResponse) return null;
    this.setDeadline('send', this.host.listener.options.sendTimeout);
    if (!this.drainHeard) {
      this.drainHeard = true; // listened for only by a stream that waits on its client: most never do
      this.stream.on('drain', () => this.onDrain());
    }
    return new Promise((resolve) => {
      this.drainWaiter = resolve;
    });
  }

  /**
   * The whole response is with node, the worker free; a client that opens no window for it is cut by
   * --send-timeout all the same (else the stream, and what node holds of it, stays for good).
   */
  private awaitFlush(): void {
    if (this.gone || this.stream.writableLength === 0) return;
    this.flushLeft = this.stream.writableLength;
    this.setDeadline('send', this.host.listener.options.sendTimeout);
  }

  private onDrain(): void {
    const wake = this.drainWaiter;
    if (wake === null) return;
    this.drainWaiter = null;
    if (this.kind === 'send') this.setDeadline(null, 0);
    wake();
  }

  endBody(): boolean {
    const d = this.deferred;
    if (d !== null) {
      this.deferred = null;
      this.respond(responseHead('HEAD', d.code, d.headers, this.counted).raw, true);
      return true;
    }
    if (this.remaining > 0 && !this.noBody) {
      this.host.listener.log.error(`app sent ${this.remaining} bytes less than its Content-Length; resetting the stream`);
      return false;
    }
    if (!this.ended) {
      this.ended = true;
      this.stream.end();
      this.awaitFlush();
    }
    return true;
  }

  answer(status: number, retryAfter: number | null): number {
    const body = `${reasonPhrase(status)}\n`;
    const headers: http2.OutgoingHttpHeaders = {
      ':status': status,
      server: 'warpipe',
      'content-type': 'text/plain; charset=utf-8',
      'content-length': body.length,
    };
    if (retryAfter !== null) headers['retry-after'] = String(retryAfter);
    if (this.stream.headersSent || this.stream.destroyed) return 0;
    const head = this.req?.method === 'HEAD';
    this.stream.respond(headers, { endStream: head });
    if (!head) this.stream.end(body, 'latin1');
    this.ended = true;
    // the rest of the request is not wanted: RST_STREAM(NO_ERROR) once the answer is out (RFC 9113 §8.1)
    if (!this.bodyDone) this.stream.close(NGHTTP2_NO_ERROR);
    return answerBytes(status);
  }

  abort(): void {
    if (this.stream.destroyed) return;
    this.resetByUs = true;
    this.stream.close(NGHTTP2_INTERNAL_ERROR);
  }

  done(): void {
    // the response is complete; a request body nobody read is refused now (RST_STREAM NO_ERROR after the last DATA)
    if (!this.bodyDone && !this.stream.destroyed) this.stream.close(NGHTTP2_NO_ERROR);
  }

  // --- deadlines, closing ---

  /** Called by the connection's sweep when `deadline` passed. */
  expire(): void {
    const { options, log } = this.host.listener;
    switch (this.kind) {
      case 'body':
        this.deadline = 0;
        if (!this.dispatched) {
          this.answerNow(408);
        } else {
          log.info(
            `client ${this.host.peer.remoteAddr}: HTTP/2 upload idle for ${options.bodyTimeout}s` +
              `${options.minUploadRate > 0 ? ` or slower than ${options.minUploadRate} bytes/s` : ''} while a worker waited on it; ` +
              'resetting the stream',
          );
          this.input?.fail(new RemoteProtocolError('ERR_HTTP_BODY_TIMEOUT', 'request body timed out', 408));
          this.resetByUs = true;
          this.stream.close(NGHTTP2_CANCEL);
        }
        return;
      case 'send':
        if (this.drainWaiter === null && this.stream.writableLength < this.flushLeft) {
          // the client took some of the response meanwhile: a new deadline for the rest, if any
          this.setDeadline(null, 0);
          this.awaitFlush();
          return;
        }
        this.deadline = 0;
        log.info(`client ${this.host.peer.remoteAddr} accepted no data on an HTTP/2 stream for ${options.sendTimeout}s; resetting it`);
        this.exchange?.cut();
        this.resetByUs = true;
        this.stream.close(NGHTTP2_CANCEL);
        return;
      case null:
        return;
    }
  }

  /**
   * The drain's grace ran out: a stream whose head has not left is answered 503 (with Retry-After); one
   * already streaming is reset. Returns what was cut (null: nothing was in flight).
   */
  cutOff(): string | null {
    const ex = this.exchange;
    if (ex === null || ex.isOver || this.closed) return null;
    ex.environ['warpipe.cut'] = 'shutdown';
    ex.fail(new OverloadError('the server is shutting down', 1));
    return ex.describe();
  }

  private onClose(): void {
    // (a stream ending as it should comes after its exchange is over: a client's RST_STREAM(NO_ERROR) before that is a reset too)
    const reset = !this.gone && !this.resetByUs && this.exchange?.isOver !== true;
    this.spool?.discard();
    this.spool = null;
    this.gone = true;
    this.deadline = 0;
    this.kind = null;
    // a request its client left before its answer was complete (nginx's 499); the app's body, if any, is closed
    this.exchange?.clientGone();
    this.exchange = null;
    this.input = null;
    const wake = this.drainWaiter;
    this.drainWaiter = null;
    wake?.();
    if (reset) this.host.streamReset(this.stream.rstCode ?? NGHTTP2_NO_ERROR);
    this.host.streamClosed(this);
  }
}
