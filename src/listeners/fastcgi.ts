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

import type net from 'node:net';
import type { Logger } from '../log.js';
import type { App } from '../pipeline/types.js';
import { NEED_DATA } from '../protocols/need-data.js';
import { ProtocolStatus } from '../protocols/fastcgi/record.js';
import { Responder, type FcgiEvent } from '../protocols/fastcgi/responder.js';
import { Listener, type ListenerShared } from './base.js';
import { GatewayDeadline, type DeadlineKind } from './deadlines.js';
import { CgiExchange, cgiEnviron, type CgiWire, type WholeResponse } from './cgi-exchange.js';

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
  /** Seconds the client may leave --buffer-response of our output unread. */
  sendTimeout: number;
  /** Seconds a kept connection with no request may stay open. */
  idleTimeout: number;
  /** Bytes/s a body streamed to an app that waits on it must average, after a grace of bodyTimeout (0: no floor). */
  minUploadRate: number;
}

export class FastcgiListener extends Listener<FcgiConnection> {
  constructor(
    readonly app: App,
    readonly options: FastcgiOptions,
    log: Logger,
    shared: ListenerShared = {},
  ) {
    super(log, shared);
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
  /** The client asked us to close after a request it sent whole: once nothing is left, nothing more comes. */
  private clientDone = false;
  /** A request was ended before all of it came (refused, aborted, answered early): the client may still be sending. */
  private cutShort = false;
  private closed = false;
  /** We ended our side: what the client still sends is read and dropped, for a short linger. */
  private ended = false;
  private drainWaiters: (() => void)[] = [];
  /** No request has come whole yet: the head deadline runs from the accept. */
  private fresh = true;
  /** When the listener's sweep closes it, and why (deadlines.ts). */
  private readonly clock: GatewayDeadline;
  private overloadSaid = false;

  constructor(
    readonly socket: net.Socket,
    readonly listener: FastcgiListener,
  ) {
    const { options } = listener;
    this.clock = new GatewayDeadline('fastcgi', options);
    this.responder = new Responder({ maxParamsBytes: options.maxParamsBytes, maxRequests: options.maxRequests });
    this.setDeadline(this.deadlineFor());
    socket.on('data', (chunk: Buffer) => this.socketOnData(chunk));
    socket.on('drain', () => {
      for (const wake of this.drainWaiters.splice(0)) wake();
      this.flow();
    });
    socket.on('error', () => {});
    socket.on('close', () => this.socketOnClose());
  }

  private socketOnData(chunk: Buffer): void {
    if (this.ended) return; // the rest of a body nobody reads any more
    this.clock.received(chunk.length);
    this.responder.receive(chunk);
    try {
      for (let ev = this.responder.next(); ev !== NEED_DATA; ev = this.responder.next()) this.onEvent(ev);
    } catch (err) {
      this.listener.log.debug(`fastcgi: ${(err as Error).message}; closing the connection`);
      this.socket.destroy();
      return;
    }
    const replies = this.responder.takeReplies();
    // one buffer per read, however many management records it answered: a queued write costs far more than 16 bytes
    if (replies.length > 0) this.write(replies.length === 1 ? replies : [Buffer.concat(replies)]);
    this.flow();
  }

  /**
   * One byte budget per connection (issue 11). Reading stops while more than
   * --buffer-request-body of body waits in requests whose bodies are still
   * coming (their apps get them as streams, so none waits on bytes we no longer
   * read), or while more than --buffer-response of output waits for the client;
   * it restarts once both are back under (the body under half).
   *
   * FastCGI has no flow control per request, so on a multiplexed connection a
   * pause for one upload could starve another whose app waits for its bytes:
   * past the budget only the oldest upload goes on, and newer ones are refused
   * (FCGI_OVERLOADED), as is a new request while complete bodies on the
   * connection already hold more than the budget. nginx never multiplexes.
   */
  private flow(): void {
    if (this.closed || this.ended) return;
    if (this.closeWhenIdle && this.requests.size === 0 && this.responder.active === 0) return this.end();
    const { bufferRequestBody, bufferResponse } = this.listener.options;
    let open = 0;
    for (const ex of this.requests.values()) if (ex.bodyOpen) open += ex.heldBytes;
    const bodyFull = open > bufferRequestBody;
    if (bodyFull) {
      let oldest = true;
      for (const [id, ex] of this.requests) {
        if (!ex.bodyOpen) continue;
        if (oldest) ex.stream();
        else this.overload(id, ex);
        oldest = false;
      }
    }
    const outFull = this.socket.writableLength > bufferResponse;
    if (bodyFull || outFull) {
      if (!this.socket.isPaused()) this.socket.pause();
    } else if (this.socket.isPaused() && open <= bufferRequestBody / 2) {
      this.socket.resume();
      this.clock.resumed();
    }
    let streaming = false;
    for (const ex of this.requests.values()) if (ex.bodyOpen && ex.started) streaming = true;
    this.clock.waiting(streaming);
    this.setDeadline(this.deadlineFor());
  }

  /** Refuse request `id` midway: FCGI_OVERLOADED, its app's answer dropped, its further records ignored. */
  private overload(id: number, ex: CgiExchange | null): void {
    ex?.abort(503);
    this.requests.delete(id);
    const { bytes, keepConn, received } = this.responder.end(id, 0, ProtocolStatus.Overloaded);
    this.write(bytes);
    if (!received) this.cutShort = true;
    if (!keepConn) this.closeWhenIdle = true;
    if (!this.overloadSaid)
      this.listener.log.warning(
        'fastcgi: refused requests multiplexed past --buffer-request-body on one connection (FCGI_OVERLOADED; said once)',
      );
    this.overloadSaid = true;
  }

  private heldBytes(): number {
    let held = 0;
    for (const ex of this.requests.values()) held += ex.heldBytes;
    return held;
  }

  /**
   * Slow clients: a request's head must come whole within --header-timeout of
   * its first byte (of the accept, for the first), its STDIN may not stay
   * silent for --body-timeout, and what we send must be taken within
   * --send-timeout. While we hold the client back, or an app works, there is
   * none (the app has --timeout). An idle kept connection (FCGI_KEEP_CONN,
   * nothing begun) is closed after idleTimeout, longer than nginx keeps it.
   */
  private deadlineFor(): DeadlineKind | null {
    if (this.closed) return null;
    if (this.ended) return 'linger';
    if (this.socket.writableLength > this.listener.options.bufferResponse) return 'send';
    if (this.socket.isPaused()) return null;
    if (this.fresh) return 'head';
    const receiving = this.responder.receiving;
    if (receiving !== null) return receiving;
    return this.requests.size === 0 && this.responder.active === 0 ? 'idle' : null;
  }

  get deadline(): number {
    return this.clock.at;
  }

  private setDeadline(kind: DeadlineKind | null): void {
    this.clock.set(kind);
  }

  /** The sweep found the deadline passed. */
  expire(): void {
    const line = this.clock.expired();
    if (line) this.listener.log.info(line);
    this.socket.destroy();
  }

  private onEvent(ev: FcgiEvent): void {
    if (ev.kind === 'request') {
      this.fresh = false;
      const { listener } = this;
      if (this.heldBytes() > listener.options.bufferRequestBody) return this.overload(ev.id, null);
      let environ;
      try {
        environ = cgiEnviron(ev.params, listener.errors);
      } catch (err) {
        // this request is refused; the connection and its other requests go on
        listener.log.debug(`fastcgi: ${(err as Error).message}`);
        this.write(this.stdout(ev.id, Buffer.from('Status: 400 Bad Request\r\nContent-Type: text/plain\r\n\r\nBad Request\n', 'latin1')));
        this.finish(ev.id, 0);
        return;
      }
      const ex = new CgiExchange(listener, environ, new FcgiSink(this, ev.id));
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
    if (!this.closed && this.socket.writableLength > this.listener.options.bufferResponse) this.flow();
    while (!this.closed && this.socket.writableLength > this.listener.options.bufferResponse) {
      await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    }
  }

  /** An app took what was queued of its body: maybe read again. */
  bodyDrained(): void {
    this.flow();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Response bytes of request `id` as STDOUT records. */
  stdout(id: number, data: Buffer): Buffer[] {
    return this.responder.stdout(id, data);
  }

  /**
   * Request `id` is answered (`last`: the whole response, written with its end): END_REQUEST,
   * then close the connection unless the client keeps it.
   */
  finish(id: number, appStatus: number, last?: WholeResponse): void {
    this.requests.delete(id);
    const { bytes, keepConn, received } = this.responder.end(id, appStatus, ProtocolStatus.RequestComplete, last);
    this.write(bytes);
    if (!received) this.cutShort = true;
    if (!keepConn) {
      this.closeWhenIdle = true;
      this.clientDone = received;
    }
    this.flow();
  }

  /**
   * Close our side once nothing is left to answer. A client still sending (the
   * rest of an upload its app did not read, issue 11's soak found them held
   * for good) is read and dropped for a short linger, then cut off.
   */
  private end(): void {
    if (this.ended || this.closed) return;
    this.ended = true;
    // Every request came whole, the client wants no more (no FCGI_KEEP_CONN), and the kernel took
    // all we sent: close now, with no shutdown and no wait for the client's own end (nginx's
    // fastcgi_pass without fastcgi_keep_conn, its default, as SCGI and uwsgi do)
    if (this.clientDone && !this.cutShort && this.responder.bufferedBytes === 0 && this.socket.writableLength === 0) {
      this.setDeadline(null);
      this.socket.destroy();
      return;
    }
    this.socket.end();
    if (this.socket.isPaused()) this.socket.resume();
    this.setDeadline('linger');
  }

  drain(): void {
    this.closeWhenIdle = true;
    if (this.requests.size === 0) this.end();
  }

  private socketOnClose(): void {
    this.closed = true;
    this.setDeadline(null);
    for (const wake of this.drainWaiters.splice(0)) wake();
    for (const ex of this.requests.values()) ex.abort();
    this.requests.clear();
    this.listener.connectionOnClose(this);
  }
}

/** One request's response, framed as STDOUT records of its id. */
class FcgiSink implements CgiWire {
  readonly protocol = 'fastcgi';
  constructor(
    private readonly conn: FcgiConnection,
    private readonly id: number,
  ) {}
  write(data: Buffer): void {
    this.conn.write(this.conn.stdout(this.id, data));
  }
  backpressure(): Promise<void> {
    return this.conn.backpressure();
  }
  end(last?: WholeResponse): void {
    this.conn.finish(this.id, 0, last);
  }
  destroy(): void {
    this.conn.socket.destroy();
  }
  get closed(): boolean {
    return this.conn.isClosed;
  }
  bodyDrained(): void {
    this.conn.bodyDrained();
  }
  statusLine(status: string): string {
    return `Status: ${status}`;
  }
}
