// HTTP/1.1 listener (--http, --https): net.Server (or tls.Server) -> one
// Connection per socket (http-connection.ts) -> RequestParser -> environ -> App
// through an Exchange -> bytes.
//
// A request body up to `bufferRequestBody` is read whole before the app is
// called, so slow uploads cost no worker; larger bodies stream with
// backpressure. Response bytes are handed to the socket as they come, and the
// body iterator is only paused once `bufferResponse` bytes wait for a slow
// client, so workers are released early.
//
// Timeouts are deadlines checked by one sweep timer per listener, so the
// per-request path sets no timers.

import type net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../log.js';
import type { App } from '../pipeline/types.js';
import { Listener, type ListenerShared } from './base.js';
import { Connection, type HttpConnectionHost } from './http-connection.js';
import type { HttpOptions } from './http-options.js';
import { healthApp } from './http-health.js';
import type { ExchangeServer } from './exchange.js';
import { Http2Connection } from './http2-connection.js';
import { clientOf } from './http-environ.js';
import type { Http2Options } from './http-options.js';

export type { HttpOptions } from './http-options.js';

const OVER_BUDGET =
  'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 20\r\n' +
  'Retry-After: 1\r\nConnection: close\r\n\r\nService Unavailable\n';

export class HttpListener extends Listener<Connection | Http2Connection> implements HttpConnectionHost {
  /** Connections closed for sending no complete head in time (slowloris), since start / since last log. */
  headerTimeouts = 0;
  private reportedHeaderTimeouts = 0;
  /**
   * Sent on every kept-alive response, so clients that honour it (undici, Node's
   * Agent, browsers) retire an idle connection before warpipe closes it instead
   * of sending their next request into a closing socket.
   */
  readonly keepAliveHint: string;

  constructor(
    readonly app: App,
    readonly options: HttpOptions,
    log: Logger,
    shared: ListenerShared = {},
  ) {
    super(log, shared);
    this.keepAliveHint = `Keep-Alive: timeout=${Math.floor(options.keepaliveTimeout)}\r\n`;
    this.http2 = options.http2 ?? null;
    this.budget.reclaimFrom(this);
    const h = options.health;
    this.health = h ? { path: h.path, app: healthApp(h, () => this.closing), log, observer: this.observer } : null;
  }

  /** --health: its path, and what answers it (null: no --health). */
  readonly health: (ExchangeServer & { readonly path: string }) | null;

  /** HTTP/2's limits; null: --http2 off. */
  readonly http2: Http2Options | null;

  private refusedProxies = 0;
  private calmedClients = 0;
  /** HTTP/2 connections sent GOAWAY ENHANCE_YOUR_CALM since start (warpipe_http2_calmed_total). */
  http2Calms = 0;

  /** An HTTP/2 client went past a cap and got GOAWAY ENHANCE_YOUR_CALM (said once a minute at most). */
  http2Calmed(address: string, why: string): void {
    this.http2Calms++;
    if (this.calmedClients++ > 0) return;
    this.log.warning(`HTTP/2: sent GOAWAY ENHANCE_YOUR_CALM to ${address}: ${why} (said once a minute)`);
    setTimeout(() => {
      const more = this.calmedClients - 1;
      this.calmedClients = 0;
      if (more > 0) this.log.warning(`HTTP/2: sent GOAWAY ENHANCE_YOUR_CALM to ${more} more connection(s)`);
    }, 60_000).unref();
  }

  /** A --http connection opened with the HTTP/2 preface (h2c, prior knowledge): from now on its socket is an HTTP/2 session's. */
  toHttp2(conn: Connection, bytes: Buffer): void {
    this.connections.delete(conn); // its place in the budget goes to the HTTP/2 connection: the same socket
    conn.socket.unshift(bytes);
    this.connections.add(new Http2Connection(conn.socket, this, this.http2!, conn));
  }

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

  private lastReclaimLog = 0;

  /** The kept-alive connection idle longest, for the budget to close when a new one needs its place. */
  longestIdle(): { since: number; close(): void } | null {
    let oldest: Connection | Http2Connection | null = null;
    let since = Infinity;
    for (const conn of this.connections) {
      const t = conn.idleSince;
      if (t < since) {
        since = t;
        oldest = conn;
      }
    }
    const found = oldest;
    return found === null ? null : { since, close: () => this.reclaim(found) };
  }

  /** Close an idle kept-alive connection to make room: its place is given back now, not when its socket closes. */
  private reclaim(conn: Connection | Http2Connection): void {
    if (this.connections.delete(conn)) this.budget.release(conn.socket);
    conn.socket.destroy();
    const now = Date.now();
    if (now - this.lastReclaimLog < 60_000) return;
    this.lastReclaimLog = now;
    this.log.warning(
      `--max-connections ${this.budget.options.maxConnections} reached: closing the kept-alive connections idle longest to make room ` +
        `(${this.budget.reclaimed + 1} since start; said once a minute)`,
    );
  }

  /** The drain's grace ran out: cut off what is in flight (Connection.cutOff), close the rest. Returns what was cut. */
  cutAll(): string[] {
    const cut: string[] = [];
    for (const conn of [...this.connections]) {
      const what = conn.cutOff();
      if (what !== null) cut.push(what);
    }
    return cut;
  }

  protected connect(socket: net.Socket): Connection | Http2Connection {
    if (this.http2 !== null && (socket as tls.TLSSocket).alpnProtocol === 'h2') {
      return new Http2Connection(socket, this, this.http2, clientOf(socket, this.options.trustedProxies));
    }
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
    const server = tls.createServer(
      {
        cert: t.cert,
        key: t.key,
        ALPNProtocols: this.http2 === null ? ['http/1.1'] : ['h2', 'http/1.1'],
        minVersion: 'TLSv1.2',
        // a client that never finishes its handshake is a slowloris too
        handshakeTimeout: this.options.headerTimeout * 1000,
      },
      onConnection,
    );
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

  protected override afterSweep(): void {
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
