// FastCGI listener (--fastcgi ADDRESS): warpipe as the backend of nginx's
// fastcgi_pass (or any FastCGI client), in the responder role. net.Server ->
// Responder -> environ -> App -> CGI response in STDOUT records.
//
// The environ is the PARAMS the web server sent, as they are, with the WSGI
// keys added; so one app behaves the same behind HTTP and behind FastCGI as
// long as the server sends the CGI variables (nginx's fastcgi_params does).
// One exception, for nginx's default fastcgi_params: with no PATH_INFO, the
// request path came in SCRIPT_NAME (nginx's $fastcgi_script_name); it becomes
// PATH_INFO, and SCRIPT_NAME empty, as the HTTP listener would have it.
//
// A body up to --buffer-request-body is collected whole before the app runs
// (nginx buffers uploads itself, so this is the usual case); a larger one
// streams. Response bytes go out as they come, with the socket's backlog
// bounded by --buffer-response. Several requests may share a connection
// (multiplexing): each is its own Exchange.

import net from 'node:net';
import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import { GatewayError, LocalProtocolError, OverloadError, codes } from '../errors.js';
import type { Logger } from '../log.js';
import type { Address } from '../config/load.js';
import { BodyInput } from '../pipeline/input.js';
import { checkHeaders, checkStatus } from '../pipeline/response.js';
import type { App, Body, Chunk, Environ, ErrorStream, StartResponse } from '../pipeline/types.js';
import { NEED_DATA } from '../protocols/need-data.js';
import { Responder, type FcgiEvent } from '../protocols/fastcgi/responder.js';
import { reasonPhrase } from '../protocols/http1/serialize.js';

export interface FastcgiOptions {
  bufferRequestBody: number;
  bufferResponse: number;
  /** Largest PARAMS block of one request (the CGI head), bytes. */
  maxParamsBytes: number;
  /** Requests one connection may multiplex at once. */
  maxRequests: number;
}

export class FastcgiListener {
  readonly servers: net.Server[] = [];
  readonly connections = new Set<FcgiConnection>();
  closing = false;
  readonly errors: ErrorStream = { write: (text: string) => this.log.error(text.replace(/\n$/, '')) };
  private drained: (() => void) | null = null;

  constructor(readonly app: App, readonly options: FastcgiOptions, readonly log: Logger) {}

  /** Bind `address`; resolves with a printable description of where we listen. */
  listen(address: Address, socketMode: number): Promise<string> {
    const server = net.createServer((socket) => {
      if (this.closing) socket.destroy();
      else this.connections.add(new FcgiConnection(socket, this));
    });
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      const ready = (): void => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error(`fastcgi listener error: ${err.message}`));
        if (address.kind === 'unix') {
          chmodSync(address.path, socketMode);
          resolve(`fastcgi unix:${address.path}`);
        } else {
          const a = server.address() as net.AddressInfo;
          resolve(a.family === 'IPv6' ? `fastcgi [${a.address}]:${a.port}` : `fastcgi ${a.address}:${a.port}`);
        }
      };
      if (address.kind === 'unix') {
        if (existsSync(address.path) && lstatSync(address.path).isSocket()) unlinkSync(address.path);
        server.listen(address.path, ready);
      } else {
        server.listen({ host: address.host, port: address.port, backlog: 2048 }, ready);
      }
    });
  }

  connectionOnClose(conn: FcgiConnection): void {
    this.connections.delete(conn);
    if (this.drained && this.connections.size === 0) this.drained();
  }

  /** Stop accepting; idle connections close now, busy ones after their requests. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    const done = new Promise<void>((resolve) => (this.drained = resolve));
    for (const conn of this.connections) conn.drain();
    if (this.connections.size > 0) await done;
  }

  destroyAll(): void {
    for (const conn of this.connections) conn.socket.destroy();
  }
}

class FcgiConnection {
  private readonly responder: Responder;
  private readonly requests = new Map<number, FcgiExchange>();
  private closeWhenIdle = false;
  private closed = false;
  private drainWaiters: (() => void)[] = [];

  constructor(readonly socket: net.Socket, readonly listener: FastcgiListener) {
    const { options } = listener;
    this.responder = new Responder({ maxParamsBytes: options.maxParamsBytes, maxRequests: options.maxRequests });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.socketOnData(chunk));
    socket.on('drain', () => {
      for (const wake of this.drainWaiters.splice(0)) wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => this.socketOnClose());
  }

  private socketOnData(chunk: Buffer): void {
    this.responder.receive(chunk);
    try {
      for (let ev = this.responder.next(); ev !== NEED_DATA; ev = this.responder.next()) this.onEvent(ev);
    } catch (err) {
      this.listener.log.debug(`fastcgi: ${(err as Error).message}; closing the connection`);
      this.socket.destroy();
      return;
    }
    const replies = this.responder.takeReplies();
    if (replies.length > 0) this.write(replies);
  }

  private onEvent(ev: FcgiEvent): void {
    if (ev.kind === 'request') {
      this.requests.set(ev.id, new FcgiExchange(this, ev.id, ev.params));
      return;
    }
    const ex = this.requests.get(ev.id);
    if (!ex) return;
    if (ev.kind === 'stdin') ex.onStdin(ev.data);
    else if (ev.kind === 'stdin-end') ex.onStdinEnd();
    else ex.abort();
  }

  write(bufs: Buffer[]): void {
    if (this.closed) return;
    if (bufs.length === 1) {
      this.socket.write(bufs[0]!);
      return;
    }
    this.socket.cork();
    for (const b of bufs) this.socket.write(b);
    this.socket.uncork();
  }

  /** Resolves once the socket's backlog is below --buffer-response (or it closed). */
  async backpressure(): Promise<void> {
    while (!this.closed && this.socket.writableLength > this.listener.options.bufferResponse) {
      await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Response bytes of request `id` as STDOUT records. */
  stdout(id: number, data: Buffer): Buffer[] {
    return this.responder.stdout(id, data);
  }

  /** Request `id` is answered: END_REQUEST, then close the connection unless the client keeps it. */
  finish(id: number, appStatus: number): void {
    this.requests.delete(id);
    const { bytes, keepConn } = this.responder.end(id, appStatus);
    this.write(bytes);
    if (!keepConn) this.closeWhenIdle = true;
    if (this.closeWhenIdle && this.requests.size === 0 && this.responder.active === 0) this.socket.end();
  }

  drain(): void {
    this.closeWhenIdle = true;
    if (this.requests.size === 0) this.socket.end();
  }

  private socketOnClose(): void {
    this.closed = true;
    for (const wake of this.drainWaiters.splice(0)) wake();
    for (const ex of this.requests.values()) ex.abort();
    this.requests.clear();
    this.listener.connectionOnClose(this);
  }
}

/** One request on a connection: its environ, body, app call and response. */
class FcgiExchange {
  private readonly environ: Environ;
  private parts: Buffer[] = [];
  private bytes = 0;
  private input: BodyInput | null = null;
  private status: string | null = null;
  private headers: [string, string][] | null = null;
  private headSent = false;
  private aborted = false;
  private body: Body | null = null;

  constructor(private readonly conn: FcgiConnection, private readonly id: number, params: [string, string][]) {
    const environ = {} as Environ;
    for (const [name, value] of params) environ[name] = value;
    if (environ.PATH_INFO === undefined || environ.PATH_INFO === '') {
      environ.PATH_INFO = environ.SCRIPT_NAME ?? '';
      environ.SCRIPT_NAME = '';
    }
    environ.SCRIPT_NAME ??= '';
    environ.QUERY_STRING ??= '';
    environ.REQUEST_METHOD ??= 'GET';
    environ.SERVER_PROTOCOL ??= 'HTTP/1.1';
    const https = String(environ.HTTPS ?? '').toLowerCase();
    environ['wsgi.url_scheme'] = https === 'on' || https === '1' ? 'https' : String(environ.REQUEST_SCHEME ?? 'http');
    environ['wsgi.errors'] = conn.listener.errors;
    delete environ.HTTP_PROXY; // httpoxy: a Proxy request header must never look like the proxy setting
    this.environ = environ;
  }

  onStdin(data: Buffer): void {
    if (this.input) {
      this.input.push(data);
      return;
    }
    this.parts.push(data);
    this.bytes += data.length;
    if (this.bytes > this.conn.listener.options.bufferRequestBody) {
      const input = new BodyInput();
      for (const part of this.parts) input.push(part);
      this.parts = [];
      this.dispatch(input);
    }
  }

  onStdinEnd(): void {
    if (this.input) {
      this.input.end();
      return;
    }
    const body = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.bytes);
    this.parts = [];
    this.dispatch(BodyInput.of(body));
  }

  private dispatch(input: BodyInput): void {
    this.input = input;
    this.environ['wsgi.input'] = input;
    let result: Body | Promise<Body>;
    try {
      result = this.conn.listener.app(this.environ, this.startResponse);
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

  /** Body bytes (the head goes first, with them). */
  private out(chunk: Chunk): void {
    if (this.status === null) throw new LocalProtocolError(codes.NO_START_RESPONSE, 'body before startResponse');
    const data = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    if (data.length === 0 && this.headSent) return;
    const bufs: Buffer[] = [];
    if (!this.headSent) {
      let head = `Status: ${this.status}\r\n`;
      for (const [name, value] of this.headers!) head += `${name}: ${value}\r\n`;
      bufs.push(Buffer.from(head + '\r\n', 'latin1'));
      this.headSent = true;
    }
    if (data.length > 0) bufs.push(Buffer.from(data.buffer, data.byteOffset, data.length));
    if (!this.aborted) this.conn.write(bufs.flatMap((b) => this.conn.stdout(this.id, b)));
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
          await this.conn.backpressure();
        }
      }
      if (this.status === null) throw new LocalProtocolError(codes.NO_START_RESPONSE, 'app returned without calling startResponse');
      if (!this.headSent) this.out(Buffer.alloc(0));
    } catch (err) {
      this.fail(err);
      return;
    }
    this.close();
    if (!this.aborted) this.conn.finish(this.id, 0);
  }

  private fail(err: unknown): void {
    this.close();
    if (this.aborted || this.conn.isClosed) return;
    if (!(err instanceof GatewayError && (err.code === codes.APP_ABORTED || err.code === codes.WORKER_TIMEOUT))) {
      const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
      this.conn.listener.log.error(`Error handling ${this.environ.REQUEST_METHOD} ${this.environ.REQUEST_URI ?? this.environ.PATH_INFO} (fastcgi): ${text}`);
    }
    if (this.headSent) {
      // half a response cannot be taken back: the web server sees the connection break
      this.conn.socket.destroy();
      return;
    }
    this.input?.fail(new GatewayError(codes.CLIENT_GONE, 'response already failed'));
    const status = err instanceof GatewayError && err.status >= 500 ? err.status : 500;
    const extra = err instanceof OverloadError ? `Retry-After: ${err.retryAfter}\r\n` : '';
    const reason = reasonPhrase(status);
    const head = `Status: ${status} ${reason}\r\nContent-Type: text/plain\r\n${extra}\r\n${reason}\n`;
    this.headSent = true;
    this.conn.write(this.conn.stdout(this.id, Buffer.from(head, 'latin1')));
    this.conn.finish(this.id, 0);
  }

  /** The client aborted the request or the connection closed: the app's response is dropped. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.input?.fail(new GatewayError(codes.CLIENT_GONE, 'the web server aborted the request', 499));
    if (this.input === null) this.close();
    if (!this.conn.isClosed) this.conn.finish(this.id, 1);
  }

  /** PEP 3333: close() once. */
  private close(): void {
    const body = this.body;
    this.body = null;
    if (body && typeof body.close === 'function') {
      try {
        const p = body.close();
        if (p instanceof Promise) p.catch(() => {});
      } catch {
        // logged by the app's own error path, if anywhere
      }
    }
  }
}

