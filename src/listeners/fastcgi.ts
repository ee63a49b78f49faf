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
import type { Logger } from '../log.js';
import type { App } from '../pipeline/types.js';
import { NEED_DATA } from '../protocols/need-data.js';
import { Responder, type FcgiEvent } from '../protocols/fastcgi/responder.js';
import { Listener } from './base.js';
import { CgiExchange, cgiEnviron, type ResponseSink } from './cgi-exchange.js';

export interface FastcgiOptions {
  bufferRequestBody: number;
  /** Largest request body, bytes; larger gets 413. */
  maxBodyBytes: number;
  bufferResponse: number;
  /** Largest PARAMS block of one request (the CGI head), bytes. */
  maxParamsBytes: number;
  /** Requests one connection may multiplex at once. */
  maxRequests: number;
  /** Seconds a connection may take from its first byte (or its accept) to a request's whole PARAMS. */
  headerTimeout: number;
  /** Seconds a request's STDIN may stay silent. */
  bodyTimeout: number;
}

export class FastcgiListener extends Listener<FcgiConnection> {
  constructor(readonly app: App, readonly options: FastcgiOptions, log: Logger) {
    super(log);
  }

  protected connect(socket: net.Socket): FcgiConnection {
    return new FcgiConnection(socket, this);
  }

  protected describe(where: string): string {
    return `fastcgi ${where}`;
  }
}

class FcgiConnection {
  private readonly responder: Responder;
  private readonly requests = new Map<number, CgiExchange>();
  private closeWhenIdle = false;
  private closed = false;
  private drainWaiters: (() => void)[] = [];
  /** No request has come whole yet: the head deadline runs from the accept. */
  private fresh = true;
  private deadline: NodeJS.Timeout | null = null;
  private deadlineKind: 'head' | 'body' | null = null;

  constructor(readonly socket: net.Socket, readonly listener: FastcgiListener) {
    const { options } = listener;
    this.responder = new Responder({ maxParamsBytes: options.maxParamsBytes, maxRequests: options.maxRequests });
    this.setDeadline();
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
    this.setDeadline();
  }

  /**
   * Slow clients: a request's head must come whole within --header-timeout of
   * its first byte (of the accept, for the first), and its STDIN may not stay
   * silent for --body-timeout. An idle kept connection (FCGI_KEEP_CONN, nothing
   * begun) has no deadline, as with php-fpm and uWSGI: nginx's pool closes it.
   */
  private setDeadline(): void {
    const kind = this.closed ? null : this.fresh ? 'head' : this.responder.receiving;
    if (kind === this.deadlineKind && kind !== 'body') return; // a head's deadline is for the whole head
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = null;
    this.deadlineKind = kind;
    if (kind === null) return;
    const { headerTimeout, bodyTimeout } = this.listener.options;
    const seconds = kind === 'head' ? headerTimeout : bodyTimeout;
    this.deadline = setTimeout(() => {
      this.listener.log.info(`fastcgi: closing a connection whose request ${kind} took longer than ${seconds}s`);
      this.socket.destroy();
    }, seconds * 1000);
  }

  private onEvent(ev: FcgiEvent): void {
    if (ev.kind === 'request') {
      this.fresh = false;
      const { listener } = this;
      const ex = new CgiExchange(listener, cgiEnviron(ev.params, listener.errors), new FcgiSink(this, ev.id));
      if (!ex.refusedEarly) this.requests.set(ev.id, ex);
      return;
    }
    const ex = this.requests.get(ev.id);
    if (!ex) {
      // aborted before its params were whole (no exchange yet): spec §5.4, it still gets END_REQUEST
      if (ev.kind === 'abort') this.finish(ev.id, 1);
      return;
    }
    if (ev.kind === 'stdin') ex.onBody(ev.data);
    else if (ev.kind === 'stdin-end') ex.onBodyEnd();
    else {
      // spec §5.4: an aborted request still ends with END_REQUEST
      ex.abort();
      this.finish(ev.id, 1);
    }
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
    this.setDeadline();
    for (const wake of this.drainWaiters.splice(0)) wake();
    for (const ex of this.requests.values()) ex.abort();
    this.requests.clear();
    this.listener.connectionOnClose(this);
  }
}

/** One request's response, framed as STDOUT records of its id. */
class FcgiSink implements ResponseSink {
  readonly protocol = 'fastcgi';
  constructor(private readonly conn: FcgiConnection, private readonly id: number) {}
  write(data: Buffer): void {
    this.conn.write(this.conn.stdout(this.id, data));
  }
  backpressure(): Promise<void> {
    return this.conn.backpressure();
  }
  end(): void {
    this.conn.finish(this.id, 0);
  }
  destroy(): void {
    this.conn.socket.destroy();
  }
  get closed(): boolean {
    return this.conn.isClosed;
  }
  statusLine(status: string): string {
    return `Status: ${status}`;
  }
}
