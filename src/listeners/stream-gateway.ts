// SCGI and uwsgi listeners (--scgi, --uwsgi): warpipe as the backend of
// nginx's scgi_pass / uwsgi_pass. Both protocols carry one request per
// connection: a head of CGI variables (a netstring for SCGI, a uwsgi packet),
// then CONTENT_LENGTH bytes of body; the answer is written back as it comes
// (a CGI `Status:` head for SCGI, an HTTP status line for uwsgi) and the
// connection closes. Only the head codec and the status line differ.

import net from 'node:net';
import { RemoteProtocolError } from '../errors.js';
import type { Logger } from '../log.js';
import type { App } from '../pipeline/types.js';
import { NEED_DATA } from '../protocols/need-data.js';
import { parseScgiHead, scgiHeadLength, type GatewayHead } from '../protocols/scgi/netstring.js';
import { parseUwsgiHead, uwsgiHeadLength } from '../protocols/uwsgi/packet.js';
import { reasonPhrase } from '../protocols/http1/serialize.js';
import { Listener } from './base.js';
import { CgiExchange, cgiEnviron, type ResponseSink } from './cgi-exchange.js';

export interface GatewayCodec {
  readonly name: string;
  parseHead(buf: Buffer, maxBytes: number): GatewayHead | typeof NEED_DATA;
  /** Bytes the head takes, as far as `buf` (its start) tells: no parse is tried before that many came. */
  headLength(buf: Buffer): number;
  statusLine(status: string): string;
}

export const scgi: GatewayCodec = { name: 'scgi', parseHead: parseScgiHead, headLength: scgiHeadLength, statusLine: (s) => `Status: ${s}` };
export const uwsgi: GatewayCodec = { name: 'uwsgi', parseHead: parseUwsgiHead, headLength: uwsgiHeadLength, statusLine: (s) => `HTTP/1.1 ${s}` };

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
}

export class StreamGatewayListener extends Listener<GatewayConnection> {
  // a client may shut its side down once the request is sent (SCGI and uwsgi carry one each)
  protected override readonly allowHalfOpen = true;

  constructor(readonly codec: GatewayCodec, readonly app: App, readonly options: StreamGatewayOptions, log: Logger) {
    super(log);
  }

  protected connect(socket: net.Socket): GatewayConnection {
    return new GatewayConnection(socket, this);
  }

  protected override refuse(socket: net.Socket): void {
    this.answerAndClose(socket, `${this.codec.statusLine('503 Service Unavailable')}\r\nContent-Type: text/plain\r\nRetry-After: 1\r\n\r\nService Unavailable\n`);
  }

  protected describe(where: string): string {
    return `${this.codec.name} ${where}`;
  }
}

class GatewayConnection implements ResponseSink {
  readonly protocol: string;
  private head: Buffer[] = [];
  private headBytes = 0;
  /** No parse before this many head bytes came: a head trickled byte by byte is joined once, not per byte. */
  private headNeed = 1;
  private exchange: CgiExchange | null = null;
  /** Body bytes still to come. */
  private left = 0;
  private isClosed = false;
  private drainWaiters: (() => void)[] = [];
  /** The head's deadline (whole, from the accept), then the body's (silence between reads). */
  private timer: NodeJS.Timeout;

  constructor(readonly socket: net.Socket, private readonly listener: StreamGatewayListener) {
    this.protocol = listener.codec.name;
    this.timer = this.expireIn(listener.options.headerTimeout, 'head');
    socket.on('data', (chunk: Buffer) => this.socketOnData(chunk));
    socket.on('drain', () => {
      for (const wake of this.drainWaiters.splice(0)) wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(this.timer);
      this.isClosed = true;
      for (const wake of this.drainWaiters.splice(0)) wake();
      this.exchange?.abort();
      this.listener.connectionOnClose(this);
    });
  }

  private expireIn(seconds: number, what: string): NodeJS.Timeout {
    return setTimeout(() => {
      this.listener.log.info(`${this.protocol}: closing a connection whose request ${what} took longer than ${seconds}s`);
      this.socket.destroy();
    }, seconds * 1000);
  }

  private socketOnData(chunk: Buffer): void {
    if (this.exchange !== null) return this.onBody(chunk);
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (this.headBytes < this.headNeed) return;
    const buf = this.head.length === 1 ? chunk : Buffer.concat(this.head, this.headBytes);
    this.head = [buf];
    let head: GatewayHead | typeof NEED_DATA;
    try {
      head = this.listener.codec.parseHead(buf, this.listener.options.maxHeadBytes);
    } catch (err) {
      const status = err instanceof RemoteProtocolError ? err.status : 400;
      this.listener.log.debug(`${this.protocol}: ${(err as Error).message}`);
      const reason = reasonPhrase(status);
      this.socket.end(`${this.statusLine(`${status} ${reason}`)}\r\nContent-Type: text/plain\r\n\r\n${reason}\n`);
      return;
    }
    if (head === NEED_DATA) {
      this.headNeed = Math.max(this.headBytes + 1, this.listener.codec.headLength(buf));
      return;
    }
    clearTimeout(this.timer);
    this.head = [];
    const environ = cgiEnviron(head.params, this.listener.errors);
    this.left = Number(environ.CONTENT_LENGTH ?? 0) || 0;
    if (this.left > 0) this.timer = this.expireIn(this.listener.options.bodyTimeout, 'body');
    this.exchange = new CgiExchange(this.listener, environ, this);
    if (this.left === 0) this.exchange.onBodyEnd();
    if (buf.length > head.consumed) this.onBody(buf.subarray(head.consumed));
  }

  private onBody(chunk: Buffer): void {
    if (this.left <= 0) return; // nothing more belongs to the request
    const part = chunk.length > this.left ? chunk.subarray(0, this.left) : chunk;
    this.left -= part.length;
    if (this.left === 0) clearTimeout(this.timer);
    else this.timer.refresh();
    this.exchange!.onBody(part);
    if (this.left === 0) this.exchange!.onBodyEnd();
  }

  // --- ResponseSink ---

  write(data: Buffer): void {
    if (!this.isClosed) this.socket.write(data);
  }

  async backpressure(): Promise<void> {
    while (!this.isClosed && this.socket.writableLength > this.listener.options.bufferResponse) {
      await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    }
  }

  end(): void {
    this.socket.end();
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
