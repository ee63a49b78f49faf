// One request's PEP 3333 server side, written once for every listener (HTTP/1.1,
// FastCGI, SCGI, uwsgi), after wsgiref's BaseHandler: call the app, take
// start_response (with the exc_info rules) and the legacy write(), iterate the
// body, close() it exactly once, turn an error into a response while no head has
// left and into an abort after, and tell the access log and metrics once.
//
// What differs per wire goes through a ResponseSink: how a head and body bytes
// are framed and written, how the gateway answers by itself, how a connection
// is broken. The sink also says when the body was cut short (an app that sent
// less than its Content-Length), since only the framing knows.

import type { RequestObserver } from '../access-log.js';
import { GatewayError, LocalProtocolError, OverloadError, codes } from '../errors.js';
import type { Logger } from '../log.js';
import { checkHeaders, checkStatus } from '../pipeline/response.js';
import {
  closeBody,
  type App,
  type Body,
  type Chunk,
  type Environ,
  type Headers,
  type RecyclingBody,
  type StartResponse,
  type WholeBody,
} from '../pipeline/types.js';
import type { BodyInput } from '../pipeline/input.js';
import { answerBytes } from '../protocols/http1/serialize.js';

/** Where one exchange's response goes, framed for its wire. */
export interface ResponseSink {
  /** The connection is gone: nothing more is sent, what the app still produces is dropped. */
  readonly closed: boolean;
  /** HTTP/1.1 sends interim responses itself: an app may not give a 1xx as its response. */
  readonly finalStatusOnly: boolean;
  /**
   * Head and whole body in one go. Returns the body bytes sent. Throws
   * LocalProtocolError, before writing anything, if the head cannot be framed.
   */
  sendWhole(status: string, code: number, headers: Headers, chunks: Uint8Array[], total: number): number;
  /**
   * The head of a streamed body, with its first (non-empty) bytes. Returns the body bytes sent. Throws like sendWhole.
   * `flushed`, as for sendBody.
   */
  sendHead(status: string, code: number, headers: Headers, first: Uint8Array, flushed?: () => void): number;
  /**
   * More body bytes; returns those sent (the framing may drop some). `flushed`, if given, is called once the sink
   * no longer holds `data` (it left the process), so that its buffer may be reused; never, if the sink cannot tell.
   */
  sendBody(data: Uint8Array, flushed?: () => void): number;
  /** Resolves when more may be produced (null: at once). */
  backpressure(): Promise<void> | null;
  /** The body is complete: finish its framing. False if it was cut short (the sink said why); the exchange then aborts. */
  endBody(): boolean;
  /** The gateway's own answer, before any head went out (500, 502, 503 with Retry-After, ...). Returns its body bytes. */
  answer(status: number, retryAfter: number | null): number;
  /** Break the connection: half a response cannot be taken back. */
  abort(): void;
  /** The response is complete and recorded (after endBody or answer): the connection goes on. */
  done(): void;
}

/**
 * A whole body longer than the app's own Content-Length: cut `bufs` (in place) to `limit` bytes, and say so.
 * Returns `limit`, the bytes that go out.
 */
export function truncateWhole(bufs: Uint8Array[], limit: number, log: Logger): number {
  log.error(`app sent more bytes than its Content-Length (${limit}); the excess was dropped`);
  let left = limit;
  for (let i = 0; i < bufs.length; i++) {
    const b = bufs[i]!;
    if (b.length > left) bufs[i] = b.subarray(0, left);
    left -= bufs[i]!.length;
  }
  return limit;
}

export interface ExchangeServer {
  readonly app: App;
  readonly log: Logger;
  readonly observer: RequestObserver | null;
}

/** Errors already told to the log where they happened: the worker's traceback, the timeout, the pool's overload count, the spool. */
function alreadyLogged(err: unknown): boolean {
  return (
    err instanceof OverloadError ||
    (err instanceof GatewayError &&
      (err.code === codes.APP_ABORTED || err.code === codes.WORKER_TIMEOUT || err.code === codes.SPOOL_FAILED))
  );
}

const notBytes = (): LocalProtocolError =>
  new LocalProtocolError(codes.BAD_RESPONSE_HEADER, 'app yielded a body chunk that is not bytes or a string');

const toBytes = (c: Chunk): Uint8Array => (typeof c === 'string' ? Buffer.from(c, 'latin1') : c);

export class Exchange {
  private status: string | null = null;
  private code = 0;
  private headers: Headers | null = null;
  private headSent = false;
  private body: Body | null = null;
  /** Response body bytes sent (the access log's $body_bytes_sent). */
  private sent = 0;
  private recorded = false;
  /** Over: answered, ended, aborted or its client gone. */
  private over = false;
  input: BodyInput | null = null;

  constructor(
    private readonly server: ExchangeServer,
    readonly environ: Environ,
    private readonly sink: ResponseSink,
    /** The client's address for the log (the environ's may be a forwarded one the listener did not trust). */
    private readonly remoteAddr: string,
    /** The access log's listener name. */
    private readonly listener: string,
    /** performance.now() when the request began (0: nobody reads it). */
    private readonly startedAt: number,
  ) {}

  /** Answered, ended, aborted, or its client gone: nothing more of it is sent. */
  get isOver(): boolean {
    return this.over;
  }

  /** "GET /path" for log lines. */
  describe(): string {
    const e = this.environ;
    return `${e.REQUEST_METHOD} ${e.REQUEST_URI ?? e.PATH_INFO}`;
  }

  /** Call the app with `input` as wsgi.input. */
  run(input: BodyInput): void {
    this.input = input;
    this.environ['wsgi.input'] = input;
    let result: Body | Promise<Body>;
    try {
      result = this.server.app(this.environ, this.startResponse);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (result instanceof Promise) result.then(this.onBody, this.fail);
    else this.onBody(result);
  }

  private readonly startResponse: StartResponse = (status, headers, excInfo) => {
    if (this.status !== null && !excInfo) {
      throw new LocalProtocolError(codes.START_RESPONSE_TWICE, 'startResponse called twice without excInfo');
    }
    if (excInfo && this.headSent) throw excInfo;
    const code = checkStatus(status);
    if (code < 200 && this.sink.finalStatusOnly)
      throw new LocalProtocolError(codes.BAD_STATUS, `app gave interim status ${status} as its response`);
    checkHeaders(headers);
    this.status = status;
    this.code = code;
    this.headers = headers;
    return this.write;
  };

  /** The legacy write() callable. */
  private readonly write = (chunk: Chunk): void => {
    if (this.status === null) throw new LocalProtocolError(codes.NO_START_RESPONSE, 'write() before startResponse');
    const buf = toBytes(chunk);
    if (buf.length === 0 || this.over || this.sink.closed) return;
    this.out(buf);
  };

  /** Body bytes of a streamed response; the head goes with the first of them. `flushed`: see ResponseSink.sendBody. */
  private out(buf: Uint8Array, flushed?: () => void): void {
    if (this.headSent) {
      this.sent += this.sink.sendBody(buf, flushed);
      return;
    }
    this.headSent = true;
    this.sent += this.sink.sendHead(this.status!, this.code, this.headers!, buf, flushed);
  }

  private readonly onBody = (body: Body): void => {
    this.body = body;
    if (this.over || this.sink.closed) return this.closeBody();
    try {
      // (an app's own `whole` that is not a function, or throws, is the app's error: a 500, not a crash)
      const whole = Array.isArray(body) ? (body as Chunk[]) : ((body as Partial<WholeBody>).whole?.() ?? null);
      if (whole === null) return void this.stream(body);
      this.sendWhole(whole);
    } catch (err) {
      this.fail(err);
    }
  };

  /** The common case: the whole body is in hand, so it goes out in one write with a Content-Length. */
  private sendWhole(chunks: Chunk[]): void {
    if (this.status === null) throw new LocalProtocolError(codes.NO_START_RESPONSE, 'app returned without calling startResponse');
    if (this.headSent) {
      for (const c of chunks) this.write(c);
      return this.end();
    }
    let total = 0;
    const bufs: Uint8Array[] = [];
    for (const c of chunks) {
      const b = toBytes(c);
      if (!(b instanceof Uint8Array)) throw notBytes();
      total += b.length;
      bufs.push(b);
    }
    this.sent += this.sink.sendWhole(this.status, this.code, this.headers!, bufs, total);
    this.headSent = true;
    this.end();
  }

  private async stream(body: Body): Promise<void> {
    // a body that reuses its buffers (static files) is told when the sink let go of each chunk
    const recycling = typeof (body as Partial<RecyclingBody>).recycle === 'function' ? (body as unknown as RecyclingBody) : null;
    try {
      for await (const c of body as AsyncIterable<Chunk>) {
        if (this.over || this.sink.closed) break;
        const buf = toBytes(c);
        if (!(buf instanceof Uint8Array)) throw notBytes();
        if (buf.length === 0) continue;
        if (this.status === null) throw new LocalProtocolError(codes.NO_START_RESPONSE, 'app yielded body before calling startResponse');
        this.out(buf, recycling === null ? undefined : () => recycling.recycle(buf));
        const wait = this.sink.backpressure();
        if (wait !== null) await wait;
      }
      if (this.over || this.sink.closed) return this.closeBody();
      if (this.status === null) throw new LocalProtocolError(codes.NO_START_RESPONSE, 'app returned without calling startResponse');
      if (!this.headSent) {
        this.headSent = true;
        this.sent += this.sink.sendWhole(this.status, this.code, this.headers!, [], 0);
      }
    } catch (err) {
      return this.fail(err);
    }
    this.end();
  }

  /** The body is fully produced: close the framing, record, close(), and let the connection go on. */
  private end(): void {
    this.over = true;
    if (!this.sink.endBody()) {
      this.record(this.code);
      this.closeBody();
      this.sink.abort();
      return;
    }
    this.record(this.code);
    this.closeBody();
    this.sink.done();
  }

  /** The app (or what stands for it: the pool, an upstream) failed. */
  readonly fail = (err: unknown): void => {
    this.closeBody();
    if (this.over || this.sink.closed) return this.record(499);
    this.over = true;
    if (alreadyLogged(err)) {
      // said where it happened
    } else if (err instanceof GatewayError && err.code === codes.WORKER_DIED) {
      this.server.log.error(`${err.message} while handling ${this.describe()}`);
    } else {
      this.logError(err, this.describe());
    }
    if (this.headSent) {
      this.record(this.code);
      this.sink.abort();
      return;
    }
    this.input?.fail(new GatewayError(codes.CLIENT_GONE, 'response already failed'));
    const status = err instanceof GatewayError && err.status >= 500 ? err.status : 500;
    this.headSent = true;
    const bytes = this.sink.answer(status, err instanceof OverloadError ? err.retryAfter : null);
    this.record(status, bytes);
    this.sink.done();
  };

  /** The client left (or the web server aborted the request): what the app still produces is dropped. */
  clientGone(status = 499): void {
    // (an error is made only for a body still coming: it costs a stack trace, and every
    // connection that closes after its answer comes here)
    if (this.input !== null && !this.input.complete) this.input.fail(new GatewayError(codes.CLIENT_GONE, 'client disconnected', status));
    this.record(status);
    if (this.over) return;
    // the pool wants to know: a queued request is dropped, an ASGI app hears http.disconnect
    (this.environ['warpipe.client_gone'] as { clientGone(): void } | undefined)?.clientGone();
    this.over = true;
    this.closeBody(); // a body still to come is closed when it arrives (onBody)
  }

  /** The connection was cut while the response was being sent (--send-timeout). */
  cut(): void {
    this.record(this.code);
    this.over = true;
    this.closeBody();
  }

  /** The app accepted a WebSocket: the 101 went out, the connection is the WebSocket's now; told to the log. */
  upgraded(): void {
    this.over = true;
    this.headSent = true;
    this.code = 101;
    this.record(101, 0);
  }

  /** Answered by the listener itself before the app ran (413, 408, ...): only told to the log. */
  answered(status: number, bytes = answerBytes(status)): void {
    this.over = true;
    this.record(status, bytes);
  }

  /** Tell the access log and the metrics, once; `bytes` for answers made here, not by the app. */
  record(status: number, bytes = this.sent): void {
    if (this.recorded) return;
    this.recorded = true;
    this.server.observer?.record({
      environ: this.environ,
      remoteAddr: this.remoteAddr,
      status,
      bytes,
      started: this.startedAt,
      listener: this.listener,
    });
  }

  /** PEP 3333: close() once, however the response ended. */
  private closeBody(): void {
    const body = this.body;
    this.body = null;
    closeBody(body, (err) => this.logError(err, 'close()'));
  }

  private logError(err: unknown, where: string): void {
    const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
    this.server.log.error(`Error handling ${where}: ${text}`);
  }
}
