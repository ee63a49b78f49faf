// SCGI and uwsgi listeners (--scgi, --uwsgi): warpipe as the backend of
// nginx's scgi_pass / uwsgi_pass. Both protocols carry one request per
// connection: a head of CGI variables (a netstring for SCGI, a uwsgi packet),
// then CONTENT_LENGTH bytes of body; the answer is written back as it comes
// (a CGI `Status:` head for SCGI, an HTTP status line for uwsgi) and the
// connection closes. Only the head codec and the status line differ.

import type net from 'node:net';
import { RemoteProtocolError } from '../errors.js';
import type { Logger } from '../log.js';
import type { App } from '../pipeline/types.js';
import { NEED_DATA } from '../protocols/need-data.js';
import { parseScgiHead, scgiHeadLength, type GatewayHead } from '../protocols/scgi/netstring.js';
import { parseUwsgiHead, uwsgiHeadLength } from '../protocols/uwsgi/packet.js';
import { reasonPhrase } from '../protocols/http1/serialize.js';
import { Listener, type ListenerShared } from './base.js';
import { GatewayDeadline, type DeadlineKind } from './deadlines.js';
import { CgiExchange, cgiEnviron, responseBytes, type CgiWire, type WholeResponse } from './cgi-exchange.js';

export interface GatewayCodec {
  readonly name: string;
  parseHead(buf: Buffer, maxBytes: number): GatewayHead | typeof NEED_DATA;
  /** Bytes the head takes, as far as `buf` (its start) tells: no parse is tried before that many came. */
  headLength(buf: Buffer): number;
  statusLine(status: string): string;
}

export const scgi: GatewayCodec = { name: 'scgi', parseHead: parseScgiHead, headLength: scgiHeadLength, statusLine: (s) => `Status: ${s}` };
export const uwsgi: GatewayCodec = {
  name: 'uwsgi',
  parseHead: parseUwsgiHead,
  headLength: uwsgiHeadLength,
  statusLine: (s) => `HTTP/1.1 ${s}`,
};

export interface StreamGatewayOptions {
  bufferRequestBody: number;
  /** Largest request body, bytes; larger gets 413. */
  maxBodyBytes: number;
  bufferResponse: number;
  /** Largest head (the CGI variables), bytes. */
  maxHeadBytes: number;
  /** Seconds a connection may take to send its head. */
  headerTimeout: number;
  /** Seconds the body may stay silent. */
  bodyTimeout: number;
  /** Seconds the client may leave --buffer-response of our output unread. */
  sendTimeout: number;
  /** Bytes/s a body streamed to an app that waits on it must average, after a grace of bodyTimeout (0: no floor). */
  minUploadRate: number;
}

export class StreamGatewayListener extends Listener<GatewayConnection> {
  // a client may shut its side down once the request is sent (SCGI and uwsgi carry one each)
  protected override readonly allowHalfOpen = true;

  constructor(
    readonly codec: GatewayCodec,
    readonly app: App,
    readonly options: StreamGatewayOptions,
    log: Logger,
    shared: ListenerShared = {},
  ) {
    super(log, shared);
  }

  protected connect(socket: net.Socket): GatewayConnection {
    return new GatewayConnection(socket, this);
  }

  protected override refuse(socket: net.Socket): void {
    this.answerAndClose(
      socket,
      `${this.codec.statusLine('503 Service Unavailable')}\r\nContent-Type: text/plain\r\nRetry-After: 1\r\n\r\nService Unavailable\n`,
    );
  }

  protected describe(where: string): string {
    return `${this.codec.name} ${where}`;
  }
}

/** The 'error' listener every socket needs ('close' follows and does the work): one function for all. */
const ignoreError = (): void => {};

class GatewayConnection implements CgiWire {
  readonly protocol: string;
  /** The head's chunks while it spans several reads (null: none held). */
  private head: Buffer[] | null = null;
  private headBytes = 0;
  /** No parse before this many head bytes came: a head trickled byte by byte is joined once, not per byte. */
  private headNeed = 1;
  private exchange: CgiExchange | null = null;
  /** Body bytes still to come. */
  private left = 0;
  private isClosed = false;
  /** We ended our side: the client has LINGER_SECONDS to end its own. */
  private ended = false;
  /** Who waits for the client to take our output ('drain' is listened to only once output waits: rarely). */
  private drainWaiters: (() => void)[] | null = null;
  /** When the listener's sweep closes it, and why (deadlines.ts). */
  private readonly clock: GatewayDeadline;

  constructor(
    readonly socket: net.Socket,
    private readonly listener: StreamGatewayListener,
  ) {
    this.protocol = listener.codec.name;
    this.clock = new GatewayDeadline(this.protocol, listener.options);
    this.setDeadline('head');
    socket.on('data', (chunk: Buffer) => this.socketOnData(chunk));
    socket.on('end', () => this.socketOnEnd());
    socket.on('error', ignoreError);
    socket.on('close', () => this.socketOnClose());
  }

  private socketOnClose(): void {
    this.setDeadline(null);
    this.isClosed = true;
    this.wakeDrainWaiters();
    this.exchange?.abort();
    // Let go of the request (its environ, exchange, body, response): a closed socket stays
    // reachable until V8's next full collection, and with it everything its listeners reach,
    // so each connection's request was promoted to the old generation instead of dying
    // young (a third of all the gateway allocated, in --trace-gc-nvp; scavenges of 10-50 ms)
    this.exchange = null;
    this.head = null;
    this.listener.connectionOnClose(this);
  }

  /** From now on, be told when the client has taken our output. */
  private watchDrain(): (() => void)[] {
    if (this.drainWaiters === null) {
      this.drainWaiters = [];
      this.socket.on('drain', () => {
        this.wakeDrainWaiters();
        this.flow();
      });
    }
    return this.drainWaiters;
  }

  private wakeDrainWaiters(): void {
    if (this.drainWaiters !== null && this.drainWaiters.length > 0) for (const wake of this.drainWaiters.splice(0)) wake();
  }

  /**
   * Every state has a deadline but one (an app at work: --timeout bounds it):
   * the whole head within --header-timeout of the accept, body silence under
   * --body-timeout, unread output taken within --send-timeout, and, once we
   * ended our side, a short linger for the client to end its own.
   */
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

  /**
   * Reading stops while the exchange holds more than --buffer-request-body of
   * body an app has not read (issue 11), and restarts under half of it; output
   * waiting on the client past --buffer-response gets the send deadline.
   */
  private flow(): void {
    if (this.isClosed || this.ended) return;
    const { bufferRequestBody, bufferResponse } = this.listener.options;
    const held = this.exchange?.heldBytes ?? 0;
    if (held > bufferRequestBody) {
      this.exchange!.stream();
      if (!this.socket.isPaused()) this.socket.pause();
    } else if (this.socket.isPaused() && held <= bufferRequestBody / 2) {
      this.socket.resume();
      this.clock.resumed();
    }
    const streaming = this.left > 0 && this.exchange !== null && this.exchange.started;
    this.clock.waiting(streaming);
    if (this.socket.writableLength > bufferResponse) {
      this.setDeadline('send');
      this.watchDrain();
    } else if (this.exchange === null) this.setDeadline('head');
    else this.setDeadline(this.left > 0 && !this.socket.isPaused() ? 'body' : null);
  }

  /** The client ended its side: fine once its request is whole (one per connection); before that it is gone. */
  private socketOnEnd(): void {
    if (this.exchange === null || this.left > 0) this.socket.destroy();
  }

  private socketOnData(chunk: Buffer): void {
    if (this.exchange !== null) return this.onBody(chunk);
    this.headBytes += chunk.length;
    let buf = chunk;
    if (this.head !== null) {
      this.head.push(chunk);
      if (this.headBytes < this.headNeed) return;
      buf = Buffer.concat(this.head, this.headBytes);
      this.head = [buf];
    } else if (this.headBytes < this.headNeed) {
      this.head = [chunk];
      return;
    }
    let head: GatewayHead | typeof NEED_DATA;
    let environ;
    try {
      head = this.listener.codec.parseHead(buf, this.listener.options.maxHeadBytes);
      if (head === NEED_DATA) {
        this.headNeed = Math.max(this.headBytes + 1, this.listener.codec.headLength(buf));
        this.head ??= [buf];
        return;
      }
      environ = cgiEnviron(head.params, this.listener.errors);
    } catch (err) {
      const status = err instanceof RemoteProtocolError ? err.status : 400;
      this.listener.log.debug(`${this.protocol}: ${(err as Error).message}`);
      const reason = reasonPhrase(status);
      this.head = null;
      this.write(Buffer.from(`${this.statusLine(`${status} ${reason}`)}\r\nContent-Type: text/plain\r\n\r\n${reason}\n`, 'latin1'));
      this.end();
      return;
    }
    this.head = null;
    this.left = Number(environ.CONTENT_LENGTH || 0);
    this.exchange = new CgiExchange(this.listener, environ, this);
    if (this.left === 0) this.exchange.onBodyEnd();
    if (buf.length > head.consumed) this.onBody(buf.subarray(head.consumed));
    else this.flow();
  }

  private onBody(chunk: Buffer): void {
    if (this.left <= 0) return; // nothing more belongs to the request
    this.clock.received(chunk.length);
    const part = chunk.length > this.left ? chunk.subarray(0, this.left) : chunk;
    this.left -= part.length;
    this.exchange!.onBody(part);
    if (this.left === 0) this.exchange!.onBodyEnd();
    this.flow();
  }

  // --- CgiWire ---

  write(data: Buffer): void {
    if (!this.isClosed && !this.ended) this.socket.write(data);
  }

  async backpressure(): Promise<void> {
    if (this.socket.writableLength > this.listener.options.bufferResponse) this.flow();
    while (!this.isClosed && this.socket.writableLength > this.listener.options.bufferResponse) {
      const waiters = this.watchDrain();
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  }

  bodyDrained(): void {
    this.flow();
  }

  end(last?: WholeResponse): void {
    if (this.ended) return;
    this.ended = true;
    if (last !== undefined && !this.isClosed) {
      const bufs = responseBytes(last);
      if (bufs.length === 1) this.socket.write(bufs[0]!);
      else {
        this.socket.cork();
        for (const b of bufs) this.socket.write(b);
        this.socket.uncork();
      }
    }
    // The request was read whole, so nothing more is to come, and the kernel took the whole
    // answer: close now, as uWSGI does; no shutdown and no wait for the client's own end
    // (a shutdown, its callback and the client's FIN cost ~13 us of gateway CPU per connection)
    if (this.exchange !== null && this.left === 0 && this.socket.writableLength === 0) {
      this.setDeadline(null);
      this.socket.destroy();
      return;
    }
    this.socket.end();
    // what the client still sends is read and dropped, so our answer is not reset away
    if (this.socket.isPaused()) this.socket.resume();
    this.setDeadline('linger');
  }

  destroy(): void {
    this.socket.destroy();
  }

  get closed(): boolean {
    return this.isClosed;
  }

  statusLine(status: string): string {
    return this.listener.codec.statusLine(status);
  }

  drain(): void {
    if (this.exchange === null) this.socket.destroy();
  }
}
