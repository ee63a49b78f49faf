// One HTTP/1.1 connection: reading (the PROXY header, the parser), the body's
// intake (held whole up to --buffer-request-body, spooled, or streamed with
// backpressure), the deadlines the listener's sweep checks, keep-alive and
// pipelining. Each request's PEP 3333 side is an Exchange (exchange.ts) writing
// through an HttpResponse (http-response.ts).
//
// One request at a time. Pipelined requests stay buffered in the parser
// (bounded: the socket is paused) and are answered in order; the next one is
// not read while --buffer-response of output waits for the client.

import type net from 'node:net';
import { ByteQueue } from '../byte-queue.js';
import { GatewayError, OverloadError, RemoteProtocolError, codes } from '../errors.js';
import { BodyInput } from '../pipeline/input.js';
import type { Logger } from '../log.js';
import type { Environ, ErrorStream } from '../pipeline/types.js';
import { NEED_DATA, RequestParser, type RequestHead } from '../protocols/http1/parse.js';
import { CONTINUE, answerBytes, simpleResponse } from '../protocols/http1/serialize.js';
import { parseProxyHeader } from '../protocols/proxy/header.js';
import { httpDate } from './date.js';
import { UploadRate, type DeadlineKind } from './deadlines.js';
import { Exchange } from './exchange.js';
import { clientOf, httpEnviron, localEnds, refusedEnviron, type Peer } from './http-environ.js';
import { isHealthTarget } from './http-health.js';
import { HttpResponse, type HttpResponseOwner } from './http-response.js';
import type { ExchangeServer } from './exchange.js';
import type { Http2Options, HttpOptions } from './http-options.js';
import { Spool } from './spool.js';
import type { ListenerConnection } from './base.js';
import type { PerMessageDeflate } from '../protocols/websocket/deflate.js';
import type { WebSocketLink, WebSocketPeer } from '../pipeline/websocket.js';
import { webSocketUpgrade, type UpgradeHost } from './http-upgrade.js';
import { WebSocketSession } from './websocket-session.js';
import { PREFACE } from '../protocols/http2/message.js';

const WEBSOCKET_DEFAULTS = { maxMessage: 16 << 20, pingInterval: 20, pingTimeout: 20 };

const enum Phase {
  Head,
  Body,
  App,
  Closed,
}

const LINGER_MS = 2000;

/** What a connection needs of its listener (http.ts). */
export interface HttpConnectionHost extends ExchangeServer {
  readonly options: HttpOptions;
  readonly errors: ErrorStream;
  readonly keepAliveHint: string;
  readonly scheme: 'http' | 'https';
  readonly closing: boolean;
  /** --health: its path, and the exchange server whose app answers it (null: no --health). */
  readonly health: (ExchangeServer & { readonly path: string }) | null;
  /** Connections closed for sending no complete head in time (slowloris). */
  headerTimeouts: number;
  refusedProxy(address: string): void;
  connectionOnClose(conn: ListenerConnection): void;
  /** HTTP/2's limits; null: --http2 off. */
  readonly http2: Http2Options | null;
  /** An HTTP/2 client went past a cap (logged once a minute). */
  http2Calmed(address: string, why: string): void;
  /** The connection opened with the HTTP/2 preface: its socket goes to an HTTP/2 session. */
  toHttp2(conn: Connection, bytes: Buffer): void;
}

export class Connection implements HttpResponseOwner, Peer, UpgradeHost {
  deadline = 0;
  private deadlineKind: DeadlineKind | null = 'head';
  /** --min-upload-rate of a body streamed to the app. */
  private readonly rate = new UploadRate();
  private phase = Phase.Head;
  private readonly parser: RequestParser;
  /** The client: the socket's peer, or the source a PROXY protocol header named. */
  remoteAddr: string;
  remotePort: string;
  /** --proxy-protocol: the header's bytes so far, until it is whole (null: none expected, or read). */
  private proxyHead: Buffer | null = null;
  /** The socket's own address and port: read only when a request has no Host (a getsockname() per connection otherwise). */
  private local: [string, string] | null = null;
  /** The peer is a --forwarded-allow-ips proxy: its X-Forwarded-* headers are believed. */
  viaProxy: boolean;
  private closeAfter = false;
  private driving = false;
  private parserDead = false;

  // the request in flight
  private head: RequestHead | null = null;
  private exchange: Exchange | null = null;
  private environ: Environ | null = null;
  /** The body while it is held whole (up to --buffer-request-body), memory proportional to its bytes. */
  private readonly bodyParts = new ByteQueue();
  /** --spool-request-body: the body is going to a temporary file. */
  private spool: Spool | null = null;
  private bodyBytes = 0;
  private input: BodyInput | null = null;
  private bodyDone = false;
  private drainWaiter: (() => void) | null = null;
  /** After a 101: the connection is this WebSocket's. */
  private ws: WebSocketSession | null = null;
  /** h2c: the first bytes are still to be told apart from the HTTP/2 preface (false: --https, --http2 off, or told). */
  private sniff: boolean;
  /** The start of a preface that came in pieces. */
  private sniffed: Buffer | null = null;

  constructor(
    readonly socket: net.Socket,
    private readonly listener: HttpConnectionHost,
  ) {
    const { options } = listener;
    this.parser = new RequestParser(options.limits);
    const client = clientOf(socket, options.trustedProxies);
    this.remoteAddr = client.remoteAddr;
    this.remotePort = client.remotePort;
    this.viaProxy = client.viaProxy;
    this.sniff = listener.http2 !== null && !options.tls;
    this.setDeadline('head', options.headerTimeout);
    socket.on('data', (chunk: Buffer) => this.socketOnData(chunk));
    socket.on('drain', () => this.socketOnDrain());
    socket.on('error', () => {}); // 'close' follows
    socket.on('close', () => this.socketOnClose());
    if (options.proxyProtocol) {
      if (!this.viaProxy) {
        listener.refusedProxy(this.remoteAddr);
        socket.destroy();
        return;
      }
      this.proxyHead = Buffer.alloc(0);
    }
  }

  get localName(): string {
    return this.localAddress()[0];
  }

  get localPort(): string {
    return this.localAddress()[1];
  }

  private localAddress(): [string, string] {
    if (this.local === null) this.local = localEnds(this.socket);
    return this.local;
  }

  // --- what the response needs (HttpResponseOwner) ---

  get isClosed(): boolean {
    return this.phase === Phase.Closed;
  }

  get log(): Logger {
    return this.listener.log;
  }

  get bufferResponse(): number {
    return this.listener.options.bufferResponse;
  }

  get keepAliveHint(): string {
    return this.listener.keepAliveHint;
  }

  /** Whether the connection may carry another request after this response (framing aside). */
  mayKeepAlive(): boolean {
    return (
      this.head?.keepAlive === true &&
      this.bodyDone &&
      !this.closeAfter &&
      !this.listener.closing &&
      this.listener.options.keepaliveTimeout > 0
    );
  }

  /** The response is out: the next request (once the client has taken enough of it), or a graceful close. */
  responseDone(keepAlive: boolean): void {
    if (this.phase === Phase.Closed) return;
    if (!keepAlive) return this.closeGracefully();
    this.resetRequest();
    this.nextRequest();
  }

  abortConnection(): void {
    this.phase = Phase.Closed;
    this.socket.destroy();
  }

  private setDeadline(kind: DeadlineKind | null, seconds: number): void {
    this.deadlineKind = kind;
    this.deadline = kind === null ? 0 : Date.now() + seconds * 1000;
  }

  /**
   * The body's deadline: silence of --body-timeout; and once a worker waits on
   * the body (it streams), also the moment its average since streaming began
   * (or since we last resumed reading) would fall under --min-upload-rate.
   */
  private armBodyDeadline(): void {
    const { bodyTimeout, minUploadRate } = this.listener.options;
    this.deadlineKind = 'body';
    this.deadline = this.rate.deadline(bodyTimeout, minUploadRate, this.input !== null);
  }

  // --- reading ---

  private socketOnData(chunk: Buffer): void {
    if (this.phase === Phase.Closed) return; // lingering after an error: discard
    if (this.ws !== null) return this.ws.receive(chunk);
    if (this.proxyHead !== null) {
      const rest = this.readProxyHeader(chunk);
      if (rest === null) return;
      chunk = rest;
    }
    if (this.sniff) {
      const rest = this.sniffPreface(chunk);
      if (rest === null) return;
      chunk = rest;
    }
    if (this.deadlineKind === 'idle') this.setDeadline('head', this.listener.options.headerTimeout);
    else if (this.deadlineKind === 'body') {
      this.rate.add(chunk.length);
      this.armBodyDeadline();
    }
    this.parser.receive(chunk);
    this.drive();
  }

  /**
   * --proxy-protocol: gather the header (within --header-timeout, like a
   * request head); once whole, the client is its source and what follows it is
   * returned for the HTTP parser. null while it is incomplete or was refused.
   */
  private readProxyHeader(chunk: Buffer): Buffer | null {
    const buf = this.proxyHead!.length === 0 ? chunk : Buffer.concat([this.proxyHead!, chunk]);
    let header;
    try {
      header = parseProxyHeader(buf);
    } catch (err) {
      this.proxyHead = null;
      this.parserDead = true;
      this.onRequestError(err);
      return null;
    }
    if (header === NEED_DATA) {
      this.proxyHead = buf;
      return null;
    }
    this.proxyHead = null;
    if (header.source !== null) {
      this.remoteAddr = header.source.address;
      this.remotePort = String(header.source.port);
      // X-Forwarded-* are believed only if the client itself is a listed proxy
      this.viaProxy = this.listener.options.trustedProxies!.trusts(this.remoteAddr);
    }
    return buf.subarray(header.consumed);
  }

  /**
   * h2c with prior knowledge (RFC 9113 §3.3): a connection whose first bytes are the HTTP/2 preface is handed
   * to an HTTP/2 session, with them. Returns the bytes for the HTTP/1.1 parser, or null (handed over, or a
   * preface's start still incomplete).
   */
  private sniffPreface(chunk: Buffer): Buffer | null {
    const buf = this.sniffed === null ? chunk : Buffer.concat([this.sniffed, chunk]);
    const n = Math.min(buf.length, PREFACE.length);
    if (buf.compare(PREFACE, 0, n, 0, n) !== 0) {
      this.sniff = false;
      this.sniffed = null;
      return buf;
    }
    if (n < PREFACE.length) {
      this.sniffed = buf;
      return null;
    }
    this.sniff = false;
    this.sniffed = null;
    // the socket is the HTTP/2 session's from here: this connection lets go of it
    const { socket } = this;
    socket.pause();
    for (const event of ['data', 'drain', 'error', 'close']) socket.removeAllListeners(event);
    this.phase = Phase.Closed;
    this.deadline = 0;
    this.listener.toHttp2(this, buf);
    return null;
  }

  /** Pull parser events while the current state can use them. */
  private drive(): void {
    if (this.driving || this.parserDead) return; // re-entered from a synchronous response: the outer loop goes on
    this.driving = true;
    try {
      while (this.phase !== Phase.Closed) {
        if (this.phase === Phase.App && this.bodyDone) break; // pipelined: wait for the response
        const ev = this.parser.next();
        if (ev === NEED_DATA) break;
        if (ev.kind === 'data') this.onBodyData(ev.chunk);
        else if (ev.kind === 'end') this.onBodyEnd();
        else this.onHead(ev);
      }
    } catch (err) {
      this.parserDead = true;
      this.onRequestError(err);
      return;
    } finally {
      this.driving = false;
    }
    // bound what a client can make us hold: pipelined bytes, or a body the app reads slowly
    const backlog = this.parser.bufferedBytes + (this.input ? this.input.queuedBytes : 0);
    if (this.phase === Phase.App && backlog > this.listener.options.bufferRequestBody && !this.socket.isPaused()) {
      this.socket.pause();
      // we are the ones holding the upload back: its idle clock stops until we read again
      if (this.deadlineKind === 'body') this.setDeadline(null, 0);
    }
  }

  private onHead(head: RequestHead): void {
    const { listener } = this;
    const { options } = listener;
    this.head = head;
    const environ = (this.environ = httpEnviron(head, this, this.listener));
    if (environ.HTTP_UPGRADE !== undefined) {
      const upgrade = webSocketUpgrade(head, environ.HTTP_UPGRADE, this);
      if (upgrade !== null) environ['warpipe.websocket'] = upgrade;
    }
    // the client for the log: the forwarded one only from a listed proxy
    const client = this.viaProxy && typeof environ.REMOTE_ADDR === 'string' ? environ.REMOTE_ADDR : this.remoteAddr;
    const started = listener.observer === null ? 0 : performance.now(); // only the access log and metrics read it
    // --health: answered here, before the app chain (one comparison per request, none without it)
    const health = listener.health;
    const server = health !== null && isHealthTarget(head.target, health.path) ? health : listener;
    this.exchange = new Exchange(server, environ, new HttpResponse(this, head), client, listener.scheme, started);
    this.bodyDone = false;
    if (head.contentLength !== 0) {
      if (head.expectContinue) this.socket.write(CONTINUE);
      this.setDeadline('body', options.bodyTimeout);
    } else {
      this.setDeadline(null, 0);
    }
    this.phase = Phase.Body;
  }

  private onBodyData(chunk: Buffer): void {
    if (this.phase === Phase.Body) {
      this.bodyBytes += chunk.length;
      if (this.spool !== null) {
        this.spoolChunk(chunk);
        return;
      }
      this.bodyParts.push(chunk);
      if (this.bodyBytes > this.listener.options.bufferRequestBody) {
        if (this.startSpool()) return;
        // too large to hold: give the app a stream and keep feeding it
        const input = new BodyInput();
        for (let part = this.bodyParts.shift(); part !== undefined; part = this.bodyParts.shift()) input.push(part);
        input.onDrain = () => this.inputOnDrain();
        this.dispatch(input);
        if (!this.bodyDone && this.deadlineKind === 'body') {
          this.rate.restart();
          this.armBodyDeadline();
        }
      }
    } else if (this.input !== null) {
      this.input.push(chunk);
    }
  }

  /** Spool this body if it may be (--spool-request-body, known length within it); false to stream it. */
  private startSpool(): boolean {
    const { spoolRequestBody = 0, spoolDir = '' } = this.listener.options;
    const head = this.head!;
    if (spoolRequestBody <= 0 || head.chunked || head.contentLength > spoolRequestBody) return false;
    try {
      this.spool = new Spool(spoolDir, this.spoolOnFail);
    } catch (err) {
      this.listener.log.error(
        `cannot spool a request body to ${spoolDir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); ` +
          'streaming it to the app instead',
      );
      return false;
    }
    for (let part = this.bodyParts.shift(); part !== undefined; part = this.bodyParts.shift()) this.spoolChunk(part);
    return true;
  }

  private spoolChunk(chunk: Buffer): void {
    if (this.spool!.write(chunk, this.spoolOnRoom)) return;
    // the disk is behind: stop reading; the client is not to blame for the wait
    this.socket.pause();
    if (this.deadlineKind === 'body') this.setDeadline(null, 0);
  }

  private readonly spoolOnRoom = (): void => {
    if (this.phase !== Phase.Body || !this.socket.isPaused()) return;
    if (!this.bodyDone) this.setDeadline('body', this.listener.options.bodyTimeout);
    this.socket.resume();
  };

  /** A write to the spool failed while the body still comes (issue 11: a full disk hung the upload): 500 now. */
  private readonly spoolOnFail = (err: NodeJS.ErrnoException): void => {
    if (this.phase !== Phase.Body || this.spool === null) return; // complete: dispatchSpooled() reports it
    this.spool.discard();
    this.spool = null;
    this.spoolFailed(err);
  };

  private spoolFailed(err: NodeJS.ErrnoException): void {
    const dir = this.listener.options.spoolDir;
    this.listener.log.error(
      `cannot write a request body to a temporary file in ${dir} (${err.code ?? err.message}) while handling ${this.describe()}`,
    );
    this.exchange?.fail(new GatewayError(codes.SPOOL_FAILED, `request body spool failed: ${err.message}`, 500));
  }

  /** The spooled body is complete: call the app once it is all on disk. */
  private dispatchSpooled(): void {
    const spool = this.spool!;
    this.spool = null;
    this.phase = Phase.App; // busy: pipelined requests wait, as for any request in the app
    spool.finish().then(
      (input) => {
        if (this.phase === Phase.Closed) return spool.discard();
        this.phase = Phase.Body;
        this.dispatch(input);
      },
      (err: NodeJS.ErrnoException) => {
        spool.discard();
        if (this.phase !== Phase.Closed) this.spoolFailed(err);
      },
    );
  }

  private onBodyEnd(): void {
    this.bodyDone = true;
    if (this.deadlineKind === 'body') this.setDeadline(null, 0);
    if (this.spool !== null) return this.dispatchSpooled();
    if (this.phase === Phase.Body) {
      const body = this.bodyParts.take();
      if (this.head!.chunked) {
        // the whole body is here: tell apps its real length (Django trusts CONTENT_LENGTH)
        const environ = this.environ!;
        environ.CONTENT_LENGTH = String(body.length);
        delete environ.HTTP_TRANSFER_ENCODING;
      }
      this.dispatch(BodyInput.of(body));
    } else if (this.input !== null) {
      this.input.end();
    }
  }

  private inputOnDrain(): void {
    if (this.socket.isPaused() && this.phase !== Phase.Closed) {
      if (!this.bodyDone) {
        this.rate.restart(); // the time we held the upload back does not count against it
        this.armBodyDeadline();
      }
      this.socket.resume();
    }
  }

  // --- calling the app ---

  private dispatch(input: BodyInput): void {
    this.phase = Phase.App;
    this.input = input;
    this.exchange!.run(input);
  }

  /**
   * Between requests on a kept connection. A pipelined request is not read or
   * run while more than --buffer-response of our output waits for the client,
   * so a client that pipelines and never reads holds one response, not all of
   * them (issue 11); --send-timeout closes it if it takes nothing.
   */
  private nextRequest(): void {
    if (this.phase === Phase.Closed) return;
    if (this.socket.writableLength > this.listener.options.bufferResponse) {
      if (!this.socket.isPaused()) this.socket.pause();
      void this.socketDrained().then(() => this.nextRequest());
      return;
    }
    this.setDeadline('idle', this.listener.options.keepaliveTimeout);
    if (this.socket.isPaused()) this.socket.resume();
    if (this.parser.bufferedBytes > 0) this.drive();
  }

  socketDrained(): Promise<void> {
    this.setDeadline('send', this.listener.options.sendTimeout);
    return new Promise((resolve) => {
      this.drainWaiter = resolve;
    });
  }

  private socketOnDrain(): void {
    const wake = this.drainWaiter;
    if (wake) {
      this.drainWaiter = null;
      if (this.deadlineKind === 'send') this.setDeadline(null, 0);
      wake();
    }
  }

  private resetRequest(): void {
    this.phase = Phase.Head;
    this.head = null;
    this.exchange = null;
    this.environ = null;
    this.input = null;
    this.bodyBytes = 0;
    this.bodyDone = false;
  }

  private describe(): string {
    return this.exchange?.describe() ?? 'request';
  }

  /** The app accepted the WebSocket handshake: send the 101, and from now on the bytes are WebSocket frames. */
  upgradeTo(head: Buffer, deflate: PerMessageDeflate | null, peer: WebSocketPeer): WebSocketLink {
    const { options, log } = this.listener;
    const rest = this.parser.takeBuffered(); // a client may send its first frames right behind the handshake
    this.socket.write(head);
    this.exchange?.upgraded();
    this.setDeadline(null, 0); // pings (and --send-timeout) watch it now
    const what = `WebSocket ${this.remoteAddr} ${this.head?.target ?? ''}`;
    const settings = {
      ...WEBSOCKET_DEFAULTS,
      ...options.websocket,
      bufferResponse: options.bufferResponse,
      sendTimeout: options.sendTimeout,
    };
    const ws = (this.ws = new WebSocketSession(this.socket, peer, deflate, settings, log, what));
    if (this.socket.isPaused()) this.socket.resume();
    if (rest.length > 0) setImmediate(() => ws.receive(rest)); // once the app holds its link
    return ws;
  }

  // --- errors, timeouts, closing ---

  private onRequestError(err: unknown): void {
    if (!(err instanceof RemoteProtocolError) && !(err instanceof GatewayError)) {
      this.listener.log.error(`bug while reading a request: ${(err as Error).stack ?? String(err)}`);
    }
    const status = err instanceof GatewayError ? err.status : 400;
    this.listener.log.debug(`${status} to ${this.remoteAddr}: ${(err as Error).message}`);
    if (this.phase === Phase.App) {
      // the app is running with a streamed body: it sees the body fail; close after its response
      this.input?.fail(err as Error);
      this.closeAfter = true;
      return;
    }
    this.socket.write(simpleResponse(status, httpDate(), true));
    if (this.exchange !== null) this.exchange.answered(status);
    else this.recordRefused(status);
    this.closeGracefully();
  }

  /** A request refused before its head was complete: named by its request line, if that much was read. */
  private recordRefused(status: number): void {
    const { observer } = this.listener;
    if (observer === null) return;
    const line = this.parser.readRequestLine;
    const environ = line === null ? null : refusedEnviron(line.method, line.target, `HTTP/1.${line.minor}`);
    observer.record({
      environ,
      remoteAddr: this.remoteAddr,
      status,
      bytes: answerBytes(status),
      started: performance.now(),
      listener: this.listener.scheme,
    });
  }

  /** End our side, keep reading (and discarding) briefly so the client sees our last response. */
  private closeGracefully(): void {
    this.phase = Phase.Closed;
    this.spool?.discard();
    this.spool = null;
    // The request was read whole, nothing of another came, and the kernel took the whole answer:
    // close now, as nginx does when nothing more is to be read (its lingering_close heuristic),
    // not shut down and wait for the client's end (a shutdown, the client's FIN and its wake-up
    // were ~20 % of the gateway's CPU per Connection: close request). Otherwise linger.
    if (this.bodyDone && this.parser.idle && this.socket.writableLength === 0) {
      this.setDeadline(null, 0);
      this.socket.destroy();
      return;
    }
    this.setDeadline('linger', LINGER_MS / 1000);
    if (this.socket.isPaused()) this.socket.resume();
    this.socket.end();
  }

  /** Called by the sweep when `deadline` passed. */
  expire(): void {
    switch (this.deadlineKind) {
      case 'head':
        if (this.phase === Phase.Head && this.parser.bufferedBytes > 0) this.listener.headerTimeouts++;
        this.socket.destroy();
        return;
      case 'idle':
      case 'linger':
        this.socket.destroy();
        return;
      case 'body':
        this.deadline = 0;
        if (this.phase === Phase.Body) {
          this.socket.write(simpleResponse(408, httpDate(), true));
          this.exchange?.answered(408);
          this.closeGracefully();
        } else {
          const { bodyTimeout, minUploadRate } = this.listener.options;
          this.listener.log.info(
            `client ${this.remoteAddr}: upload idle for ${bodyTimeout}s` +
              `${minUploadRate > 0 ? ` or slower than ${minUploadRate} bytes/s` : ''} while a worker waited on it; closing`,
          );
          this.input?.fail(new RemoteProtocolError('ERR_HTTP_BODY_TIMEOUT', 'request body timed out', 408));
          this.closeAfter = true;
        }
        return;
      case 'send':
        this.listener.log.info(`client ${this.remoteAddr} accepted no data for ${this.listener.options.sendTimeout}s; closing`);
        this.exchange?.cut();
        this.abortConnection();
        return;
      case null:
        return;
    }
  }

  /**
   * Since when it has waited for its next request on a kept-alive connection (Date.now() ms), or
   * Infinity if it is not idle so (a request in flight, a head being read, output waiting): the
   * budget closes the one idle longest to make room (budget.ts).
   */
  get idleSince(): number {
    if (this.deadlineKind !== 'idle' || this.phase !== Phase.Head || this.parser.bufferedBytes > 0) return Infinity;
    return this.deadline - this.listener.options.keepaliveTimeout * 1000;
  }

  /**
   * The drain's grace ran out (Gateway.stop): the request in flight, if any, is cut off by the
   * server, and the connection closed. One whose head has not left is answered a real 503 (with
   * Retry-After); one already streaming is aborted, its access-log line keeping the status sent,
   * marked by `warpipe.cut` in its environ (the access log's $cut). Returns what was cut (null: nothing was in flight).
   */
  cutOff(): string | null {
    const ex = this.exchange;
    if (ex === null || ex.isOver || this.phase === Phase.Closed) {
      this.socket.destroy();
      return null;
    }
    ex.environ['warpipe.cut'] = 'shutdown';
    ex.fail(new OverloadError('the server is shutting down', 1));
    this.socket.destroy(); // the 503 went to the kernel; no linger
    return ex.describe();
  }

  /** Shutdown: close now if idle, else after the response in flight; a WebSocket is closed with 1001. */
  drain(): void {
    if (this.ws !== null) return this.ws.goingAway();
    this.closeAfter = true;
    if (this.phase === Phase.Head && this.parser.idle) this.closeGracefully();
  }

  private socketOnClose(): void {
    this.phase = Phase.Closed;
    this.deadline = 0;
    this.spool?.discard();
    this.spool = null;
    // a request it left before its answer was complete (nginx's 499); the app's body, if any, is closed
    this.exchange?.clientGone();
    this.ws?.socketClosed();
    // let go of the request: a closed socket stays reachable until V8's next full collection, and
    // with it all its listeners reach (the gateway listeners found each request promoted to the old
    // generation that way)
    this.head = null;
    this.exchange = null;
    this.environ = null;
    this.input = null;
    const wake = this.drainWaiter;
    this.drainWaiter = null;
    wake?.();
    this.listener.connectionOnClose(this);
  }
}
