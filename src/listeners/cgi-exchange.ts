// One request from a gateway protocol that carries the CGI environ itself
// (FastCGI, SCGI, uwsgi): the web server in front parsed the HTTP; we get its
// CGI variables and the body, hold or stream the body, and run the shared
// Exchange (exchange.ts) with a ResponseSink that writes a CGI-style response
// (`Status:` head, or an HTTP status line for uwsgi) to the connection's
// CgiWire. The protocols differ only in framing.

import { ByteQueue, GATHER_MIN, asBuffer } from '../byte-queue.js';
import { GatewayError, RemoteProtocolError, codes } from '../errors.js';
import { BodyInput } from '../pipeline/input.js';
import type { Environ, ErrorStream, Headers } from '../pipeline/types.js';
import { answerBytes, reasonPhrase } from '../protocols/http1/serialize.js';
import { Exchange, type ExchangeServer, type ResponseSink } from './exchange.js';

export interface CgiServer extends ExchangeServer {
  readonly errors: ErrorStream;
  readonly options: { bufferRequestBody: number; maxBodyBytes: number };
}

/**
 * A response whose whole body was in hand when its head was due (the common
 * case): the wire writes it together with its end, in one write where it fits.
 */
export interface WholeResponse {
  /** The CGI head, latin-1, ending with its blank line. */
  readonly head: string;
  readonly body: readonly Uint8Array[];
  readonly bodyBytes: number;
}

/**
 * A whole response as the buffers to write: one, head and body copied
 * together, under GATHER_MIN bytes of body (Node's pool serves the copy); else
 * the head, then the body's buffers as they are, for one gathered write.
 */
export function responseBytes(r: WholeResponse): Buffer[] {
  if (r.bodyBytes >= GATHER_MIN) {
    const out: Buffer[] = [Buffer.from(r.head, 'latin1')];
    for (const b of r.body) if (b.length > 0) out.push(asBuffer(b));
    return out;
  }
  const out = Buffer.allocUnsafe(r.head.length + r.bodyBytes);
  let off = out.write(r.head, 0, 'latin1');
  for (const b of r.body) {
    out.set(b, off);
    off += b.length;
  }
  return [out];
}

/** The connection one request's response goes to, framed for its protocol. */
export interface CgiWire {
  /** Response bytes, head first. */
  write(data: Buffer): void;
  /** Resolves once the connection's backlog is small enough for more. */
  backpressure(): Promise<void>;
  /** The response is complete; `last`, when given, is all of it (nothing was written before). */
  end(last?: WholeResponse): void;
  /** Break the connection: half a response cannot be taken back. */
  destroy(): void;
  readonly closed: boolean;
  /** The app has read what was queued of a streamed body: the connection may read again. */
  bodyDrained(): void;
  /** The first line of the head for `status` ("Status: 200 OK" for CGI, "HTTP/1.1 200 OK" for uwsgi). */
  statusLine(status: string): string;
  /** For log lines and the access log, e.g. "fastcgi". */
  readonly protocol: string;
}

// RFC 9110 §8.6: Content-Length = 1*DIGIT; empty is nginx's $content_length for no body
const CONTENT_LENGTH = /^[0-9]{0,15}$/;

/**
 * The environ from the CGI variables a web server sent, with the WSGI keys
 * added. Throws RemoteProtocolError (400) for a CONTENT_LENGTH that is not
 * decimal digits, or that comes twice: the body's length must mean one thing
 * (issue 11: `-1` held a connection forever; `0x10`, `1e3`, ` 5` were read as numbers),
 * and for a variable holding a NUL (it was the app's 500, with a stack in the log).
 */
export function cgiEnviron(params: readonly (readonly [string, string])[], errors: ErrorStream): Environ {
  const environ = {} as Environ;
  for (let i = 0; i < params.length; i++) {
    const [name, value] = params[i]!;
    if (name === 'CONTENT_LENGTH') {
      if (environ.CONTENT_LENGTH !== undefined) throw badLength('CONTENT_LENGTH given twice');
      if (!CONTENT_LENGTH.test(value)) throw badLength(`CONTENT_LENGTH ${JSON.stringify(value.slice(0, 20))}`);
    } else if (name === 'HTTP_PROXY') {
      continue; // httpoxy: a Proxy request header must never look like the proxy setting
    }
    // FastCGI and uwsgi give each string's length, so a NUL can come in one: no HTTP request holds one
    if (value.indexOf('\0') !== -1 || name.indexOf('\0') !== -1) {
      throw new RemoteProtocolError(codes.BAD_ENVIRON, `bad request: variable ${JSON.stringify(name.slice(0, 40))} holds a NUL`, 400);
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
  const https = environ.HTTPS;
  const secure = typeof https === 'string' && (https === 'on' || https === '1' || https.toLowerCase() === 'on');
  environ['wsgi.url_scheme'] = secure ? 'https' : String(environ.REQUEST_SCHEME ?? environ.UWSGI_SCHEME ?? 'http');
  environ['wsgi.errors'] = errors;
  return environ;
}

const EMPTY = Buffer.alloc(0);

const badLength = (why: string): RemoteProtocolError => new RemoteProtocolError(codes.BAD_CONTENT_LENGTH, `bad request: ${why}`, 400);

/**
 * A CGI-style response: a head of `statusLine` and the app's headers, then the
 * body as it comes. A body whole at once is held until the exchange is done
 * and leaves with the end: one write, and the wire may close at once.
 */
class CgiResponse implements ResponseSink {
  readonly finalStatusOnly = false;
  /** The whole response, between sendWhole and done. */
  private last: WholeResponse | null = null;
  constructor(private readonly wire: CgiWire) {}

  get closed(): boolean {
    return this.wire.closed;
  }

  private headText(status: string, headers: Headers): string {
    let head = this.wire.statusLine(status) + '\r\n';
    for (const [name, value] of headers) head += name + ': ' + value + '\r\n';
    return head + '\r\n';
  }

  sendWhole(status: string, _code: number, headers: Headers, chunks: Uint8Array[], total: number): number {
    this.last = { head: this.headText(status, headers), body: chunks, bodyBytes: total };
    return total;
  }

  sendHead(status: string, _code: number, headers: Headers, first: Uint8Array): number {
    // head and first bytes in one write (two, gathered, from GATHER_MIN up)
    for (const b of responseBytes({ head: this.headText(status, headers), body: [first], bodyBytes: first.length })) this.wire.write(b);
    return first.length;
  }

  sendBody(data: Uint8Array): number {
    this.wire.write(asBuffer(data));
    return data.length;
  }

  backpressure(): Promise<void> {
    return this.wire.backpressure();
  }

  endBody(): boolean {
    return true;
  }

  answer(status: number, retryAfter: number | null): number {
    const reason = reasonPhrase(status);
    const extra = retryAfter === null ? '' : `Retry-After: ${retryAfter}\r\n`;
    // done() follows: it leaves with the end, as a whole response does
    const head = `${this.wire.statusLine(`${status} ${reason}`)}\r\nContent-Type: text/plain\r\n${extra}\r\n${reason}\n`;
    this.last = { head, body: [], bodyBytes: 0 };
    return answerBytes(status);
  }

  abort(): void {
    this.last = null;
    this.wire.destroy();
  }

  done(): void {
    const last = this.last;
    this.last = null;
    if (last === null) this.wire.end();
    else this.wire.end(last);
  }
}

/** One FastCGI, SCGI or uwsgi request: its body held or streamed, its app run by an Exchange. */
export class CgiExchange {
  /** The body while it is held whole (up to --buffer-request-body). */
  private parts: ByteQueue | null = null;
  private bytes = 0;
  private input: BodyInput | null = null;
  private readonly exchange: Exchange;
  /** The web server aborted it, or the connection closed. */
  private aborted = false;
  /** Answered 413 before the app was called: the rest of the body is dropped. */
  private refused = false;
  private bodyEnded = false;

  constructor(
    private readonly server: CgiServer,
    environ: Environ,
    private readonly wire: CgiWire,
  ) {
    const started = server.observer === null ? 0 : performance.now();
    const remoteAddr = typeof environ.REMOTE_ADDR === 'string' ? environ.REMOTE_ADDR : ''; // the client the web server in front saw
    this.exchange = new Exchange(server, environ, new CgiResponse(wire), remoteAddr, wire.protocol, started);
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
    if (this.refused || this.aborted || this.exchange.isOver) return 0;
    return this.input === null ? (this.parts?.bytes ?? 0) : this.input.queuedBytes;
  }

  /** Its body is still coming. */
  get bodyOpen(): boolean {
    return !this.bodyEnded && !this.refused && !this.aborted && !this.exchange.isOver;
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
    this.wire.write(
      Buffer.from(`${this.wire.statusLine('413 Content Too Large')}\r\nContent-Type: text/plain\r\n\r\nContent Too Large\n`, 'latin1'),
    );
    this.exchange.answered(413, 18);
    this.wire.end();
  }

  /** Request body bytes, in order. */
  onBody(data: Buffer): void {
    if (this.refused || this.exchange.isOver) return;
    this.bytes += data.length;
    if (this.bytes > this.server.options.maxBodyBytes) {
      if (this.input)
        this.input.fail(new GatewayError(codes.BODY_TOO_LARGE, `request body over ${this.server.options.maxBodyBytes} bytes`, 413));
      else this.refuse();
      return;
    }
    if (this.input) {
      this.input.push(data);
      return;
    }
    (this.parts ??= new ByteQueue()).push(data);
    if (this.bytes > this.server.options.bufferRequestBody) this.stream();
  }

  /** The body is complete: call the app now if it was held whole. */
  onBodyEnd(): void {
    this.bodyEnded = true;
    if (this.refused || this.exchange.isOver) return;
    if (this.input) {
      this.input.end();
      return;
    }
    this.run(BodyInput.of(this.parts === null ? EMPTY : this.parts.take()));
  }

  /** Call the app now with the body as a stream: what is held so far, then the rest as it comes. */
  stream(): void {
    if (this.started || this.aborted) return;
    const input = new BodyInput();
    input.onDrain = () => this.wire.bodyDrained();
    const parts = this.parts;
    if (parts !== null) for (let part = parts.shift(); part !== undefined; part = parts.shift()) input.push(part);
    this.run(input);
  }

  private run(input: BodyInput): void {
    this.input = input;
    this.exchange.run(input);
  }

  /** The client aborted or the connection closed (or, with 503, we refused it midway): the app's response is dropped. */
  abort(status = 499): void {
    if (this.aborted) return;
    this.aborted = true;
    this.exchange.clientGone(status);
  }
}
