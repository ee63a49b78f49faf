// One request from a gateway protocol that carries the CGI environ itself
// (FastCGI, SCGI, uwsgi): the web server in front parsed the HTTP; we get its
// CGI variables and the body, call the app, and send a CGI-style response
// (`Status:` head, or an HTTP status line for uwsgi) through a ResponseSink
// that frames it for the protocol. The protocols differ only in framing, so
// this is the one place their PEP 3333 side lives.

import type { RequestObserver } from '../access-log.js';
import { GatewayError, LocalProtocolError, OverloadError, RemoteProtocolError, codes } from '../errors.js';
import type { Logger } from '../log.js';
import { ByteQueue } from '../byte-queue.js';
import { BodyInput } from '../pipeline/input.js';
import { checkHeaders, checkStatus } from '../pipeline/response.js';
import { closeBody, type App, type Body, type Chunk, type Environ, type ErrorStream, type StartResponse } from '../pipeline/types.js';
import { reasonPhrase } from '../protocols/http1/serialize.js';

export interface CgiServer {
  readonly app: App;
  readonly errors: ErrorStream;
  readonly log: Logger;
  readonly observer: RequestObserver | null;
  readonly options: { bufferRequestBody: number; maxBodyBytes: number };
}

/** Where one exchange's response goes, framed for its protocol. */
export interface ResponseSink {
  /** Response bytes, head first. */
  write(data: Buffer): void;
  /** Resolves once the connection's backlog is small enough for more. */
  backpressure(): Promise<void>;
  /** The response is complete. */
  end(): void;
  /** Break the connection: half a response cannot be taken back. */
  destroy(): void;
  readonly closed: boolean;
  /** The app has read what was queued of a streamed body: the connection may read again. */
  bodyDrained(): void;
  /** The first line of the head for `status` ("Status: 200 OK" for CGI, "HTTP/1.1 200 OK" for uwsgi). */
  statusLine(status: string): string;
  /** For log lines, e.g. "fastcgi". */
  readonly protocol: string;
}

// RFC 9110 §8.6: Content-Length = 1*DIGIT; empty is nginx's $content_length for no body
const CONTENT_LENGTH = /^[0-9]{0,15}$/;

/**
 * The environ from the CGI variables a web server sent, with the WSGI keys
 * added. Throws RemoteProtocolError (400) for a CONTENT_LENGTH that is not
 * decimal digits, or that comes twice: the body's length must mean one thing
 * (issue 11: `-1` held a connection forever; `0x10`, `1e3`, ` 5` were read as numbers).
 */
export function cgiEnviron(params: Iterable<readonly [string, string]>, errors: ErrorStream): Environ {
  const environ = {} as Environ;
  for (const [name, value] of params) {
    if (name === 'CONTENT_LENGTH') {
      if (environ.CONTENT_LENGTH !== undefined) throw badLength('CONTENT_LENGTH given twice');
      if (!CONTENT_LENGTH.test(value)) throw badLength(`CONTENT_LENGTH ${JSON.stringify(value.slice(0, 20))}`);
    }
    environ[name] = value;
  }
  // nginx's stock params: fastcgi_params sends the path as SCRIPT_NAME and no PATH_INFO;
  // scgi_params sends neither, only DOCUMENT_URI (decoded, like PATH_INFO)
  if (environ.PATH_INFO === undefined || environ.PATH_INFO === '') {
    environ.PATH_INFO = environ.SCRIPT_NAME || String(environ.DOCUMENT_URI ?? '');
    environ.SCRIPT_NAME = '';
  }
  environ.SCRIPT_NAME ??= '';
  environ.QUERY_STRING ??= '';
  environ.REQUEST_METHOD ??= 'GET';
  environ.SERVER_PROTOCOL ??= 'HTTP/1.1';
  const https = String(environ.HTTPS ?? '').toLowerCase();
  environ['wsgi.url_scheme'] = https === 'on' || https === '1' ? 'https' : String(environ.REQUEST_SCHEME ?? environ.UWSGI_SCHEME ?? 'http');
  environ['wsgi.errors'] = errors;
  delete environ.HTTP_PROXY; // httpoxy: a Proxy request header must never look like the proxy setting
  return environ;
}

const badLength = (why: string): RemoteProtocolError => new RemoteProtocolError(codes.BAD_CONTENT_LENGTH, `bad request: ${why}`, 400);

export class CgiExchange {
  /** The body while it is held whole (up to --buffer-request-body). */
  private readonly parts = new ByteQueue();
  private bytes = 0;
  private input: BodyInput | null = null;
  private status: string | null = null;
  private headers: [string, string][] | null = null;
  private headSent = false;
  private aborted = false;
  private body: Body | null = null;
  /** Answered 413 before the app was called: the rest of the body is dropped. */
  private refused = false;
  private readonly startedAt = performance.now();
  /** Response body bytes given to the sink. */
  private sent = 0;
  private unrecorded = true;
  /** Its response is over (sent, failed or aborted): body bytes still coming are dropped. */
  private finished = false;
  private bodyEnded = false;

  constructor(private readonly server: CgiServer, private readonly environ: Environ, private readonly sink: ResponseSink) {
    // the web server in front has its own limit; ours holds whatever it is
    if (Number(environ.CONTENT_LENGTH ?? 0) > server.options.maxBodyBytes) this.refuse();
  }

  /**
   * Request body bytes this exchange holds: collected before the app is
   * called, or queued for an app that reads slower than they come. The
   * connection stops reading while its exchanges hold more than
   * --buffer-request-body (issue 11: unread bodies were held whole).
   */
  get heldBytes(): number {
    if (this.refused || this.aborted || this.finished) return 0;
    return this.input === null ? this.parts.bytes : this.input.queuedBytes;
  }

  /** Its body is still coming. */
  get bodyOpen(): boolean {
    return !this.bodyEnded && !this.refused && !this.aborted && !this.finished;
  }

  /** The app runs, or has been answered for: nothing it holds waits for more body. */
  get started(): boolean {
    return this.input !== null || this.refused;
  }

  /** It was answered 413 at once (its declared body is too large). */
  get refusedEarly(): boolean {
    return this.refused && this.input === null;
  }

  private refuse(): void {
    this.refused = true;
    this.headSent = true;
    this.sink.write(Buffer.from(`${this.sink.statusLine('413 Content Too Large')}\r\nContent-Type: text/plain\r\n\r\nContent Too Large\n`, 'latin1'));
    this.recordRequest(413, 18);
    this.sink.end();
  }

  /** Request body bytes, in order. */
  onBody(data: Buffer): void {
    if (this.refused || this.finished) return;
    this.bytes += data.length;
    if (this.bytes > this.server.options.maxBodyBytes) {
      if (this.input) this.input.fail(new GatewayError(codes.BODY_TOO_LARGE, `request body over ${this.server.options.maxBodyBytes} bytes`, 413));
      else this.refuse();
      return;
    }
    if (this.input) {
      this.input.push(data);
      return;
    }
    this.parts.push(data);
    if (this.bytes > this.server.options.bufferRequestBody) this.stream();
  }

  /** The body is complete: call the app now if it was held whole. */
  onBodyEnd(): void {
    this.bodyEnded = true;
    if (this.refused || this.finished) return;
    if (this.input) {
      this.input.end();
      return;
    }
    this.dispatch(BodyInput.of(this.parts.take()));
  }

  /** Call the app now with the body as a stream: what is held so far, then the rest as it comes. */
  stream(): void {
    if (this.started || this.aborted) return;
    const input = new BodyInput();
    input.onDrain = () => this.sink.bodyDrained();
    for (let part = this.parts.shift(); part !== undefined; part = this.parts.shift()) input.push(part);
    this.dispatch(input);
  }

  /** The client aborted or the connection closed (or, with 503, we refused it midway): the app's response is dropped. */
  abort(status = 499): void {
    if (this.aborted) return;
    this.aborted = true;
    this.input?.fail(new GatewayError(codes.CLIENT_GONE, 'the web server aborted the request', status));
    this.recordRequest(status);
    if (this.input === null) this.close();
  }

  private dispatch(input: BodyInput): void {
    this.input = input;
    this.environ['wsgi.input'] = input;
    let result: Body | Promise<Body>;
    try {
      result = this.server.app(this.environ, this.startResponse);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (result instanceof Promise) result.then((b) => void this.send(b), (err: unknown) => this.fail(err));
    else void this.send(result);
  }

  private readonly startResponse: StartResponse = (status, headers, excInfo) => {
    if (this.status !== null && !excInfo) {
      throw new LocalProtocolError(codes.START_RESPONSE_TWICE, 'startResponse called twice without excInfo');
    }
    if (excInfo && this.headSent) throw excInfo;
    checkStatus(status);
    checkHeaders(headers);
    this.status = status;
    this.headers = headers;
    return (chunk: Chunk) => this.out(chunk);
  };

  /** Body bytes; the head goes first, with the first of them. */
  private out(chunk: Chunk): void {
    if (this.status === null) throw new LocalProtocolError(codes.NO_START_RESPONSE, 'body before startResponse');
    const data = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (data.length === 0 && this.headSent) return;
    if (this.aborted || this.sink.closed) return;
    if (!this.headSent) {
      let head = this.sink.statusLine(this.status) + '\r\n';
      for (const [name, value] of this.headers!) head += `${name}: ${value}\r\n`;
      this.sink.write(Buffer.from(head + '\r\n', 'latin1'));
      this.headSent = true;
    }
    if (data.length > 0) {
      this.sink.write(data);
      this.sent += data.length;
    }
  }

  private async send(body: Body): Promise<void> {
    this.body = body;
    try {
      if (Array.isArray(body)) {
        for (const c of body as Chunk[]) this.out(c);
      } else {
        for await (const c of body as AsyncIterable<Chunk>) {
          if (this.aborted) break;
          if (!(c instanceof Uint8Array) && typeof c !== 'string') {
            throw new LocalProtocolError(codes.BAD_RESPONSE_HEADER, 'app yielded a body chunk that is not bytes or a string');
          }
          this.out(c);
          await this.sink.backpressure();
        }
      }
      if (this.status === null) throw new LocalProtocolError(codes.NO_START_RESPONSE, 'app returned without calling startResponse');
      if (!this.headSent) this.out(Buffer.alloc(0));
    } catch (err) {
      this.fail(err);
      return;
    }
    this.close();
    if (this.aborted) return;
    this.recordRequest(parseInt(this.status!, 10));
    this.sink.end();
  }

  private fail(err: unknown): void {
    this.close();
    if (this.aborted || this.sink.closed) return this.recordRequest(499);
    if (!(err instanceof GatewayError && (err.code === codes.APP_ABORTED || err.code === codes.WORKER_TIMEOUT || err instanceof OverloadError))) {
      const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
      this.server.log.error(`Error handling ${this.environ.REQUEST_METHOD} ${this.environ.REQUEST_URI ?? this.environ.PATH_INFO} (${this.sink.protocol}): ${text}`);
    }
    if (this.headSent) {
      this.recordRequest(parseInt(this.status ?? '500', 10));
      this.sink.destroy();
      return;
    }
    this.input?.fail(new GatewayError(codes.CLIENT_GONE, 'response already failed'));
    const status = err instanceof GatewayError && err.status >= 500 ? err.status : 500;
    const reason = reasonPhrase(status);
    const extra = err instanceof OverloadError ? `Retry-After: ${err.retryAfter}\r\n` : '';
    this.headSent = true;
    this.sink.write(Buffer.from(`${this.sink.statusLine(`${status} ${reason}`)}\r\nContent-Type: text/plain\r\n${extra}\r\n${reason}\n`, 'latin1'));
    this.recordRequest(status, reason.length + 1);
    this.sink.end();
  }

  /** Tell the access log and the metrics, once. REMOTE_ADDR is the client the web server in front saw. */
  private recordRequest(status: number, bytes = this.sent): void {
    if (!this.unrecorded) return;
    this.unrecorded = false;
    const remoteAddr = typeof this.environ.REMOTE_ADDR === 'string' ? this.environ.REMOTE_ADDR : '';
    this.server.observer?.record({ environ: this.environ, remoteAddr, status, bytes, started: this.startedAt, listener: this.sink.protocol });
  }

  /** PEP 3333: close() once, however the response ended. */
  private close(): void {
    this.finished = true;
    const body = this.body;
    this.body = null;
    closeBody(body, (err) => this.server.log.error(`Error in close(): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
  }
}
