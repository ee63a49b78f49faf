// HTTP/1.1 listener: net.Server -> RequestParser -> environ -> App -> bytes.
//
// One request at a time per connection. Pipelined requests stay buffered in
// the parser (bounded: the socket is paused) and are answered in order. A
// request body up to `bufferRequestBody` is read whole before the app is
// called, so slow uploads cost no worker; larger bodies stream with
// backpressure. Response bytes are handed to the socket as they come, and the
// body iterator is only paused once `bufferResponse` bytes wait for a slow
// client, so workers are released early.
//
// Timeouts are deadlines checked by one sweep timer per listener, so the
// per-request path sets no timers.

import net from 'node:net';
import tls from 'node:tls';
import { GatewayError, LocalProtocolError, OverloadError, RemoteProtocolError, codes } from '../errors.js';
import type { Logger } from '../log.js';
import { addHeaders, decodePath, splitHost, splitTarget } from '../pipeline/environ.js';
import { applyForwarded, type TrustedProxies } from '../pipeline/forwarded.js';
import { parseProxyHeader } from '../protocols/proxy/header.js';
import { ByteQueue } from '../byte-queue.js';
import { BodyInput } from '../pipeline/input.js';
import { checkHeaders, checkStatus } from '../pipeline/response.js';
import { closeBody, type App, type Body, type Chunk, type Environ, type Headers, type StartResponse, type WholeBody } from '../pipeline/types.js';
import { NEED_DATA, RequestParser, type Limits, type RequestHead } from '../protocols/http1/parse.js';
import { frameResponse } from '../protocols/http1/framing.js';
import { CONTINUE, CRLF, LAST_CHUNK, chunkPrefix, reasonPhrase, simpleResponse } from '../protocols/http1/serialize.js';
import { httpDate } from './date.js';
import { Listener } from './base.js';
import { Spool } from './spool.js';

export interface HttpOptions {
  limits: Limits;
  bufferRequestBody: number;
  /**
   * Bodies of a known length over bufferRequestBody and up to this are written
   * to a temporary file in spoolDir as they arrive, and the app is called once
   * the whole body is in (0: never; they stream to the app).
   */
  spoolRequestBody?: number;
  spoolDir?: string;
  bufferResponse: number;
  headerTimeout: number; // seconds, like every timeout here
  bodyTimeout: number;
  /**
   * Bytes/s a body streamed to a worker must average (after a grace of
   * bodyTimeout), so a client cannot hold a worker by trickling (0: no floor).
   */
  minUploadRate: number;
  keepaliveTimeout: number;
  sendTimeout: number;
  serverSoftware: string;
  /** --forwarded-allow-ips: peers whose X-Forwarded-For/-Proto (and PROXY headers) are believed. */
  trustedProxies?: TrustedProxies;
  /** --proxy-protocol: every connection starts with a PROXY protocol header from one of trustedProxies. */
  proxyProtocol?: boolean;
  /** --https: serve TLS with this certificate and key (PEM), HTTP/1.1 inside. */
  tls?: { cert: Buffer; key: Buffer };
}

const enum Phase { Head, Body, App, Closed }
const enum Deadline { None, Header, Idle, Body, Send, Linger }

const SWEEP_MS = 250;

/** Body bytes of a simpleResponse() answer (its reason phrase and a newline), for the access log. */
const answerBytes = (status: number): number => reasonPhrase(status).length + 1;
const LINGER_MS = 2000;

const OVER_BUDGET = 'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 20\r\n'
  + 'Retry-After: 1\r\nConnection: close\r\n\r\nService Unavailable\n';

export class HttpListener extends Listener<Connection> {
  /** Connections closed for sending no complete head in time (slowloris), since start / since last log. */
  headerTimeouts = 0;
  private reportedHeaderTimeouts = 0;
  private readonly sweeper: NodeJS.Timeout;
  /**
   * Sent on every kept-alive response, so clients that honour it (undici, Node's
   * Agent, browsers) retire an idle connection before warpipe closes it instead
   * of sending their next request into a closing socket.
   */
  readonly keepAliveHint: string;

  constructor(readonly app: App, readonly options: HttpOptions, log: Logger) {
    super(log);
    this.keepAliveHint = `Keep-Alive: timeout=${Math.floor(options.keepaliveTimeout)}\r\n`;
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  private refusedProxies = 0;

  /** --proxy-protocol: a connection from a peer not in --forwarded-allow-ips was closed (said once a minute at most). */
  refusedProxy(address: string): void {
    if (this.refusedProxies++ > 0) return;
    this.log.warning(`--proxy-protocol: closed a connection from ${address}, which is not in --forwarded-allow-ips (said once a minute)`);
    setTimeout(() => {
      const more = this.refusedProxies - 1;
      this.refusedProxies = 0;
      if (more > 0) this.log.warning(`--proxy-protocol: closed ${more} more connection(s) from addresses not in --forwarded-allow-ips`);
    }, 60_000).unref();
  }

  protected connect(socket: net.Socket): Connection {
    return new Connection(socket, this);
  }

  protected override refuse(socket: net.Socket): void {
    this.answerAndClose(socket, OVER_BUDGET);
  }

  protected describe(where: string): string {
    return where.startsWith('unix:') ? `${where}${this.options.tls ? ' (TLS)' : ''}` : `${this.scheme}://${where}`;
  }

  /** 'https' with --https (the environ's wsgi.url_scheme, the access log's and metrics' listener name), else 'http'. */
  get scheme(): 'http' | 'https' {
    return this.options.tls ? 'https' : 'http';
  }

  private tlsServers: tls.Server[] = [];

  protected override createServer(onConnection: (socket: net.Socket) => void): net.Server {
    const t = this.options.tls;
    if (!t) return super.createServer(onConnection);
    const server = tls.createServer({
      cert: t.cert, key: t.key, ALPNProtocols: ['http/1.1'], minVersion: 'TLSv1.2',
      // a client that never finishes its handshake is a slowloris too
      handshakeTimeout: this.options.headerTimeout * 1000,
    }, onConnection);
    server.on('tlsClientError', (err, socket) => {
      this.log.debug(`TLS handshake failed: ${err.message}`);
      socket.destroy(); // with a listener here, Node leaves that to us
    });
    this.tlsServers.push(server);
    return server;
  }

  /** A new certificate and key (SIGHUP): connections from now on get them; open ones keep theirs. */
  setCertificate(cert: Buffer, key: Buffer): void {
    for (const server of this.tlsServers) server.setSecureContext({ cert, key });
  }

  override async close(): Promise<void> {
    await super.close();
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const now = Date.now();
    for (const conn of this.connections) if (conn.deadline !== 0 && now >= conn.deadline) conn.expire();
    if (this.headerTimeouts !== this.reportedHeaderTimeouts) {
      const n = this.headerTimeouts - this.reportedHeaderTimeouts;
      this.reportedHeaderTimeouts = this.headerTimeouts;
      this.log.warning(
        `closed ${n} connection${n > 1 ? 's' : ''} that sent no complete request head within ` +
          `${this.options.headerTimeout}s (${this.headerTimeouts} since start)`,
      );
    }
  }
}


class Connection {
  deadline = 0;
  private deadlineKind = Deadline.Header;
  /** A streamed body's rate window: since when, and how many bytes came in it. */
  private rateFrom = 0;
  private rateBytes = 0;
  private phase = Phase.Head;
  private readonly parser: RequestParser;
  /** The client: the socket's peer, or the source a PROXY protocol header named. */
  private remoteAddr: string;
  private remotePort: string;
  /** --proxy-protocol: the header's bytes so far, until it is whole (null: none expected, or read). */
  private proxyHead: Buffer | null = null;
  private readonly localName: string;
  private readonly localPort: string;
  /** The peer is a --forwarded-allow-ips proxy: its X-Forwarded-* headers are believed. */
  private viaProxy: boolean;
  private closeAfter = false;
  private driving = false;
  private parserDead = false;

  // the request in flight
  private head: RequestHead | null = null;
  /** performance.now() when its head was read (the access log's $request_time). */
  private startedAt = 0;
  /** Response body bytes written for it (the access log's $body_bytes_sent). */
  private sent = 0;
  /** Not yet told to the access log and the metrics. */
  private unrecorded = false;
  private environ: Environ | null = null;
  /** The body while it is held whole (up to --buffer-request-body), memory proportional to its bytes. */
  private readonly bodyParts = new ByteQueue();
  /** --spool-request-body: the body is going to a temporary file. */
  private spool: Spool | null = null;
  private bodyBytes = 0;
  private input: BodyInput | null = null;
  private bodyDone = false;

  // its response
  private status: string | null = null;
  private code = 0;
  private headers: Headers | null = null;
  private headSent = false;
  private chunked = false;
  private noBody = false;
  /** Bytes the app still owes by its own Content-Length (-1: it gave none). */
  private remaining = -1;
  /** Body bytes counted for a HEAD response whose length the app did not give. */
  private remainingForHead = 0;
  private drainWaiter: (() => void) | null = null;
  private body: Body | null = null;
  private keepAlive = false;

  constructor(readonly socket: net.Socket, private readonly listener: HttpListener) {
    const { options } = listener;
    this.parser = new RequestParser(options.limits);
    this.remoteAddr = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort === undefined ? '' : String(socket.remotePort);
    this.localName = socket.localAddress ?? 'localhost';
    this.localPort = socket.localPort === undefined ? '' : String(socket.localPort);
    // a unix socket's peer got past its --socket-mode: with --forwarded-allow-ips set, it is a proxy of ours
    const trusted = options.trustedProxies;
    this.viaProxy = trusted !== undefined && (socket.remoteAddress === undefined || trusted.trusts(this.remoteAddr));
    this.setDeadline(Deadline.Header, options.headerTimeout);
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

  private setDeadline(kind: Deadline, seconds: number): void {
    this.deadlineKind = kind;
    this.deadline = kind === Deadline.None ? 0 : Date.now() + seconds * 1000;
  }

  /**
   * The body's deadline: silence of --body-timeout; and once a worker waits on
   * the body (it streams), also the moment its average since streaming began
   * (or since we last resumed reading) would fall under --min-upload-rate.
   */
  private armBodyDeadline(): void {
    const { bodyTimeout, minUploadRate } = this.listener.options;
    let at = Date.now() + bodyTimeout * 1000;
    if (this.input !== null && minUploadRate > 0) at = Math.min(at, this.rateFrom + (bodyTimeout + this.rateBytes / minUploadRate) * 1000);
    this.deadlineKind = Deadline.Body;
    this.deadline = at;
  }

  private restartRate(): void {
    this.rateFrom = Date.now();
    this.rateBytes = 0;
  }

  // --- reading ---

  private socketOnData(chunk: Buffer): void {
    if (this.phase === Phase.Closed) return; // lingering after an error: discard
    if (this.proxyHead !== null) {
      const rest = this.readProxyHeader(chunk);
      if (rest === null) return;
      chunk = rest;
    }
    if (this.deadlineKind === Deadline.Idle) this.setDeadline(Deadline.Header, this.listener.options.headerTimeout);
    else if (this.deadlineKind === Deadline.Body) {
      this.rateBytes += chunk.length;
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
      if (this.deadlineKind === Deadline.Body) this.setDeadline(Deadline.None, 0);
    }
  }

  private onHead(head: RequestHead): void {
    const { options } = this.listener;
    this.head = head;
    if (this.listener.observer !== null) this.startedAt = performance.now(); // only the access log and metrics read it
    this.unrecorded = true;
    this.environ = this.buildEnviron(head);
    this.bodyDone = false;
    if (head.contentLength !== 0) {
      if (head.expectContinue) this.socket.write(CONTINUE);
      this.setDeadline(Deadline.Body, options.bodyTimeout);
    } else {
      this.setDeadline(Deadline.None, 0);
    }
    this.phase = Phase.Body;
  }

  private buildEnviron(head: RequestHead): Environ {
    const target = splitTarget(head.target, head.method);
    const host = target.authority ?? head.host;
    const [serverName, serverPort] = host ? splitHost(host, this.listener.options.tls ? '443' : '80') : [this.localName, this.localPort];
    const environ: Environ = {
      REQUEST_METHOD: head.method,
      SCRIPT_NAME: '',
      PATH_INFO: decodePath(target.path),
      QUERY_STRING: target.query,
      REQUEST_URI: head.target,
      RAW_URI: head.target,
      SERVER_NAME: serverName,
      SERVER_PORT: serverPort,
      SERVER_PROTOCOL: head.minor === 1 ? 'HTTP/1.1' : 'HTTP/1.0',
      REMOTE_ADDR: this.remoteAddr,
      // RFC 3875 §4.1.9: without a reverse lookup per request, the address stands in for the name
      REMOTE_HOST: this.remoteAddr,
      REMOTE_PORT: this.remotePort,
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_SOFTWARE: this.listener.options.serverSoftware,
      'wsgi.url_scheme': this.listener.scheme,
      'wsgi.input': null as unknown as BodyInput, // set at dispatch
      'wsgi.errors': this.listener.errors,
    };
    addHeaders(environ, head.headers);
    if (this.listener.options.tls) environ.HTTPS = 'on';
    if (target.authority !== null) environ.HTTP_HOST = target.authority;
    if (this.viaProxy) applyForwarded(environ, this.listener.options.trustedProxies!);
    return environ;
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
        if (!this.bodyDone && this.deadlineKind === Deadline.Body) {
          this.restartRate();
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
      this.listener.log.error(`cannot spool a request body to ${spoolDir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); streaming it to the app instead`);
      return false;
    }
    for (let part = this.bodyParts.shift(); part !== undefined; part = this.bodyParts.shift()) this.spoolChunk(part);
    return true;
  }

  private spoolChunk(chunk: Buffer): void {
    if (this.spool!.write(chunk, this.spoolOnRoom)) return;
    // the disk is behind: stop reading; the client is not to blame for the wait
    this.socket.pause();
    if (this.deadlineKind === Deadline.Body) this.setDeadline(Deadline.None, 0);
  }

  private readonly spoolOnRoom = (): void => {
    if (this.phase !== Phase.Body || !this.socket.isPaused()) return;
    if (!this.bodyDone) this.setDeadline(Deadline.Body, this.listener.options.bodyTimeout);
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
    this.listener.log.error(`cannot write a request body to a temporary file in ${dir} (${err.code ?? err.message}) while handling ${this.describe()}`);
    this.onAppError(new GatewayError(codes.SPOOL_FAILED, `request body spool failed: ${err.message}`, 500));
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
    if (this.deadlineKind === Deadline.Body) this.setDeadline(Deadline.None, 0);
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
        this.restartRate(); // the time we held the upload back does not count against it
        this.armBodyDeadline();
      }
      this.socket.resume();
    }
  }

  // --- calling the app ---

  private dispatch(input: BodyInput): void {
    this.phase = Phase.App;
    this.input = input;
    const environ = this.environ!;
    environ['wsgi.input'] = input;
    let result: Body | Promise<Body>;
    try {
      result = this.listener.app(environ, this.startResponse);
    } catch (err) {
      this.onAppError(err);
      return;
    }
    if (result instanceof Promise) result.then(this.onBody, this.onAppError);
    else this.onBody(result);
  }

  private readonly startResponse: StartResponse = (status, headers, excInfo) => {
    if (this.status !== null && !excInfo) {
      throw new LocalProtocolError(codes.START_RESPONSE_TWICE, 'startResponse called twice without excInfo');
    }
    if (excInfo && this.headSent) throw excInfo;
    const code = checkStatus(status);
    if (code < 200) throw new LocalProtocolError(codes.BAD_STATUS, `app gave interim status ${status} as its response`);
    checkHeaders(headers);
    this.status = status;
    this.code = code;
    this.headers = headers;
    return this.write;
  };

  /** The legacy write() callable. */
  private readonly write = (chunk: Chunk): void => {
    if (this.status === null) throw new LocalProtocolError(codes.NO_START_RESPONSE, 'write() before startResponse');
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    if (buf.length === 0) return;
    if (!this.headSent) this.sendHead(-1);
    this.sendChunk(buf);
  };

  private readonly onBody = (body: Body): void => {
    this.body = body;
    if (this.phase === Phase.Closed) {
      this.finish();
      return;
    }
    const whole = Array.isArray(body) ? (body as Chunk[]) : (body as Partial<WholeBody>).whole?.() ?? null;
    if (whole === null) {
      void this.sendStream(body);
      return;
    }
    try {
      this.sendWhole(whole);
    } catch (err) {
      this.onAppError(err);
    }
  };

  /** The common case: the whole body is in hand, so it goes out in one write with a Content-Length. */
  private sendWhole(chunks: Chunk[]): void {
    if (this.status === null) return this.onAppError(new LocalProtocolError(codes.NO_START_RESPONSE, 'app returned without calling startResponse'));
    if (this.headSent) {
      for (const c of chunks) this.write(c);
      return this.endResponse();
    }
    let total = 0;
    const bufs: Uint8Array[] = [];
    for (const c of chunks) {
      const b = typeof c === 'string' ? Buffer.from(c, 'latin1') : c;
      if (!(b instanceof Uint8Array)) return this.onAppError(new LocalProtocolError(codes.BAD_RESPONSE_HEADER, 'app yielded a body chunk that is not bytes or a string'));
      total += b.length;
      bufs.push(b);
    }
    const head = this.headString(total);
    if (this.noBody) {
      this.socket.write(Buffer.from(head, 'latin1'));
    } else {
      if (this.remaining >= 0 && total > this.remaining) total = this.truncate(bufs, this.remaining);
      const out = Buffer.allocUnsafe(head.length + total);
      out.write(head, 0, 'latin1');
      let off = head.length;
      for (const b of bufs) {
        out.set(b, off);
        off += b.length;
      }
      this.socket.write(out);
      this.sent += total;
      if (this.remaining >= 0) this.remaining -= total;
    }
    this.headSent = true;
    this.endResponse();
  }

  private truncate(bufs: Uint8Array[], limit: number): number {
    this.listener.log.error(`app sent more bytes than its Content-Length (${limit}); the excess was dropped`);
    let left = limit;
    for (let i = 0; i < bufs.length; i++) {
      const b = bufs[i]!;
      if (b.length > left) bufs[i] = b.subarray(0, left);
      left -= bufs[i]!.length;
    }
    return limit;
  }

  private async sendStream(body: Body): Promise<void> {
    try {
      for await (const c of body as AsyncIterable<Chunk>) {
        if (this.phase === Phase.Closed) break;
        const buf = typeof c === 'string' ? Buffer.from(c, 'latin1') : c;
        if (!(buf instanceof Uint8Array)) throw new LocalProtocolError(codes.BAD_RESPONSE_HEADER, 'app yielded a body chunk that is not bytes or a string');
        if (buf.length === 0) continue;
        if (this.status === null) throw new LocalProtocolError(codes.NO_START_RESPONSE, 'app yielded body before calling startResponse');
        if (!this.headSent) {
          if (this.noBodyFor(this.head!)) {
            // HEAD with no Content-Length: count the body, send the head at the end
            this.remainingForHead += buf.length;
            continue;
          }
          // head and first chunk leave in one packet
          this.socket.cork();
          this.sendHead(-1);
          this.sendChunk(buf);
          this.socket.uncork();
        } else {
          this.sendChunk(buf);
        }
        if (this.socket.writableLength > this.listener.options.bufferResponse) await this.socketDrained();
      }
    } catch (err) {
      this.onAppError(err);
      return;
    }
    if (this.phase === Phase.Closed) return this.finish();
    if (this.status === null) return this.onAppError(new LocalProtocolError(codes.NO_START_RESPONSE, 'app returned without calling startResponse'));
    if (!this.headSent) this.sendHead(this.remainingForHead);
    this.endResponse();
  }

  private noBodyFor(head: RequestHead): boolean {
    return head.method === 'HEAD' && this.headers !== null && !this.headers.some(([n]) => n.length === 14 && n.toLowerCase() === 'content-length');
  }

  private sendHead(knownLength: number): void {
    this.socket.write(Buffer.from(this.headString(knownLength), 'latin1'));
    this.headSent = true;
  }

  /** Whether the connection may carry another request after this response (framing aside). */
  private mayKeepAlive(): boolean {
    return this.head !== null && this.head.keepAlive && this.bodyDone && !this.closeAfter &&
      !this.listener.closing && this.listener.options.keepaliveTimeout > 0;
  }

  /** The status line and header section (protocols/http1/framing.ts); sets the framing and keep-alive. */
  private headString(knownLength: number): string {
    const f = frameResponse(this.head!, this.status!, this.code, this.headers!, knownLength, {
      date: httpDate(), mayKeepAlive: this.mayKeepAlive(), keepAliveHint: this.listener.keepAliveHint,
    });
    this.noBody = f.noBody;
    this.chunked = f.chunked;
    if (f.remaining >= 0) this.remaining = f.remaining;
    this.keepAlive = f.keepAlive;
    return f.head;
  }

  private sendChunk(buf: Uint8Array): void {
    if (this.noBody) return;
    let data = buf;
    if (this.remaining >= 0) {
      if (data.length > this.remaining) {
        if (this.remaining === 0) return;
        data = this.truncateOne(data);
      }
      this.remaining -= data.length;
    }
    this.sent += data.length;
    if (this.chunked) {
      this.socket.cork();
      this.socket.write(chunkPrefix(data.length), 'latin1');
      this.socket.write(data);
      this.socket.write(CRLF);
      this.socket.uncork();
    } else {
      this.socket.write(data);
    }
  }

  private truncateOne(data: Uint8Array): Uint8Array {
    this.listener.log.error(`app sent more bytes than its Content-Length; the excess was dropped`);
    return data.subarray(0, this.remaining);
  }

  private socketDrained(): Promise<void> {
    this.setDeadline(Deadline.Send, this.listener.options.sendTimeout);
    return new Promise((resolve) => {
      this.drainWaiter = resolve;
    });
  }

  private socketOnDrain(): void {
    const wake = this.drainWaiter;
    if (wake) {
      this.drainWaiter = null;
      if (this.deadlineKind === Deadline.Send) this.setDeadline(Deadline.None, 0);
      wake();
    }
  }

  /** The body is fully produced: close the framing, call close(), move on. */
  private endResponse(): void {
    if (this.remaining > 0 && !this.noBody) {
      this.listener.log.error(`app sent ${this.remaining} bytes less than its Content-Length; aborting the connection`);
      this.recordRequest(this.code);
      this.abort();
      return;
    }
    if (this.chunked) this.socket.write(LAST_CHUNK);
    this.recordRequest(this.code);
    this.finish();
    if (this.phase === Phase.Closed) return;
    if (!this.keepAlive) {
      this.closeGracefully();
      return;
    }
    this.resetRequest();
    this.nextRequest();
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
    this.setDeadline(Deadline.Idle, this.listener.options.keepaliveTimeout);
    if (this.socket.isPaused()) this.socket.resume();
    if (this.parser.bufferedBytes > 0) this.drive();
  }

  private resetRequest(): void {
    this.phase = Phase.Head;
    this.head = null;
    this.environ = null;
    this.input = null;
    this.bodyBytes = 0;
    this.bodyDone = false;
    this.status = null;
    this.code = 0;
    this.headers = null;
    this.headSent = false;
    this.chunked = false;
    this.noBody = false;
    this.remaining = -1;
    this.remainingForHead = 0;
    this.body = null;
    this.sent = 0;
    this.unrecorded = false;
  }

  /** Always call the body's close(), once (PEP 3333). */
  private finish(): void {
    const body = this.body;
    this.body = null;
    closeBody(body, (err) => this.logAppError(err, 'close()'));
  }

  private readonly onAppError = (err: unknown): void => {
    this.finish();
    if (this.phase === Phase.Closed) return;
    const status = err instanceof GatewayError && err.status >= 500 ? err.status : 500;
    if (err instanceof GatewayError && (err.code === codes.APP_ABORTED || err.code === codes.WORKER_TIMEOUT || err.code === codes.SPOOL_FAILED || err instanceof OverloadError)) {
      // already logged where it happened (the worker's traceback, the timeout, the pool's overload count)
    } else if (err instanceof GatewayError && err.code === codes.WORKER_DIED) {
      this.listener.log.error(`${err.message} while handling ${this.describe()}`);
    } else {
      this.logAppError(err, this.describe());
    }
    if (this.headSent) {
      this.recordRequest(this.code);
      this.abort();
      return;
    }
    this.input?.fail(new GatewayError(codes.CLIENT_GONE, 'response already failed'));
    this.recordRequest(status, answerBytes(status));
    const close = !this.mayKeepAlive();
    let extra = err instanceof OverloadError ? `Retry-After: ${err.retryAfter}\r\n` : '';
    if (!close) extra += (this.head!.minor === 0 ? 'Connection: keep-alive\r\n' : '') + this.listener.keepAliveHint;
    this.socket.write(simpleResponse(status, httpDate(), close, extra));
    this.headSent = true;
    if (close) {
      this.closeGracefully();
      return;
    }
    this.keepAlive = true;
    this.resetRequest();
    this.nextRequest();
  };

  /** Tell the access log and the metrics about the request, once; `bytes` for answers made here, not by the app. */
  private recordRequest(status: number, bytes = this.sent): void {
    if (!this.unrecorded) return;
    this.unrecorded = false;
    const remoteAddr = this.viaProxy && typeof this.environ?.REMOTE_ADDR === 'string' ? this.environ.REMOTE_ADDR : this.remoteAddr;
    this.listener.observer?.record({ environ: this.environ, remoteAddr, status, bytes, started: this.startedAt, listener: this.listener.scheme });
  }

  private describe(): string {
    const h = this.head;
    return h ? `${h.method} ${h.target}` : 'request';
  }

  private logAppError(err: unknown, where: string): void {
    const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
    this.listener.log.error(`Error handling ${where}: ${text}`);
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
    if (this.head === null) {
      // refused before its head was complete: name it by its request line, if that much was read
      this.startedAt = performance.now();
      const line = this.parser.readRequestLine;
      if (line !== null) {
        this.environ = { REQUEST_METHOD: line.method, REQUEST_URI: line.target, SERVER_PROTOCOL: `HTTP/1.${line.minor}`, SCRIPT_NAME: '', PATH_INFO: '', QUERY_STRING: '' } as Partial<Environ> as Environ;
      }
    }
    this.unrecorded = true;
    this.recordRequest(status, answerBytes(status));
    this.closeGracefully();
  }

  /** End our side, keep reading (and discarding) briefly so the client sees our last response. */
  private closeGracefully(): void {
    this.phase = Phase.Closed;
    this.spool?.discard();
    this.spool = null;
    this.setDeadline(Deadline.Linger, LINGER_MS / 1000);
    if (this.socket.isPaused()) this.socket.resume();
    this.socket.end();
  }

  private abort(): void {
    this.phase = Phase.Closed;
    this.finish();
    this.socket.destroy();
  }

  /** Called by the sweep when `deadline` passed. */
  expire(): void {
    switch (this.deadlineKind) {
      case Deadline.Header:
        if (this.phase === Phase.Head && this.parser.bufferedBytes > 0) this.listener.headerTimeouts++;
        this.socket.destroy();
        return;
      case Deadline.Idle:
      case Deadline.Linger:
        this.socket.destroy();
        return;
      case Deadline.Body:
        this.deadline = 0;
        if (this.phase === Phase.Body) {
          this.socket.write(simpleResponse(408, httpDate(), true));
          this.recordRequest(408, answerBytes(408));
          this.closeGracefully();
        } else {
          const { bodyTimeout, minUploadRate } = this.listener.options;
          this.listener.log.info(`client ${this.remoteAddr}: upload idle for ${bodyTimeout}s${minUploadRate > 0 ? ` or slower than ${minUploadRate} bytes/s` : ''} while a worker waited on it; closing`);
          this.input?.fail(new RemoteProtocolError('ERR_HTTP_BODY_TIMEOUT', 'request body timed out', 408));
          this.closeAfter = true;
        }
        return;
      case Deadline.Send:
        this.listener.log.info(`client ${this.remoteAddr} accepted no data for ${this.listener.options.sendTimeout}s; closing`);
        this.recordRequest(this.code);
        this.abort();
        return;
      case Deadline.None:
        return;
    }
  }

  /** Shutdown: close now if idle, else after the response in flight. */
  drain(): void {
    this.closeAfter = true;
    if (this.phase === Phase.Head && this.parser.idle) this.closeGracefully();
  }

  private socketOnClose(): void {
    const wasBusy = this.phase === Phase.App;
    this.phase = Phase.Closed;
    this.deadline = 0;
    this.spool?.discard();
    this.spool = null;
    this.recordRequest(499); // a request it left before its answer was complete (nginx's 499)
    if (wasBusy) {
      this.input?.fail(new GatewayError(codes.CLIENT_GONE, 'client disconnected', 499));
      this.finish(); // the app's body, if any, is closed; a pending one is closed when it arrives
    }
    const wake = this.drainWaiter;
    this.drainWaiter = null;
    wake?.();
    this.listener.connectionOnClose(this);
  }
}
