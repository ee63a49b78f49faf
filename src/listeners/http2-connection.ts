// One HTTP/2 connection on an HTTP listener: h2 chosen by ALPN on --https, or
// h2c with prior knowledge on --http (the client's preface seen on the first
// bytes, http-connection.ts). node:http2's session layer (nghttp2) does the
// framing, HPACK and flow control on warpipe's own accepted socket
// (performServerHandshake), so the listener's budget, PROXY header, deadlines
// and drain hold as for HTTP/1.1; each stream is an Http2Stream.
//
// The limits against the HTTP/2 denial-of-service classes (docs/security.md):
// concurrent streams (--http2-max-streams, refused beyond with REFUSED_STREAM),
// the header list (--limit-request-headers, --limit-request-fields, HPACK table
// 4096), streams reset before their answer, by the client or for its protocol
// error (--http2-max-resets per 10 s: GOAWAY ENHANCE_YOUR_CALM and the work of
// every open stream stopped), and node's own caps on session memory, SETTINGS,
// PING and invalid frames.

import http2, { type ServerHttp2Session, type ServerHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type net from 'node:net';
import type { ListenerConnection } from './base.js';
import { localEnds, type Peer } from './http-environ.js';
import type { HttpConnectionHost } from './http-connection.js';
import type { Http2Options } from './http-options.js';
import { Http2Stream, type Http2StreamHost } from './http2-stream.js';

const { NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_CANCEL, NGHTTP2_NO_ERROR } = http2.constants;

export const RESET_WINDOW_MS = 10_000;

/** After our GOAWAY, how long a client may take to let the connection close. */
const LINGER_MS = 2000;

/** With streams open, how long a connection may move no byte before it is PINGed (or --keepalive-timeout, if shorter). */
const QUIET_MS = 10_000;

/** The session's settings and node's caps, from the listener's options. */
function sessionOptions(host: HttpConnectionHost, o: Http2Options): http2.ServerSessionOptions {
  const { limits } = host.options;
  return {
    settings: {
      maxConcurrentStreams: o.maxStreams,
      maxHeaderListSize: limits.maxHeaderBytes,
      headerTableSize: 4096,
      enablePush: false,
    },
    // node counts the pseudo-headers too
    maxHeaderListPairs: limits.maxHeaderFields + 4,
    maxSessionMemory: 10,
    maxOutstandingPings: 10,
    maxSettings: 32,
    peerMaxConcurrentStreams: o.maxStreams,
  };
}

export class Http2Connection implements ListenerConnection, Http2StreamHost, Peer {
  readonly session: ServerHttp2Session;
  private readonly streams = new Set<Http2Stream>();
  /** The connection's own deadline: the first request within --header-timeout, then --keepalive-timeout while no stream is open. */
  private own = 0;
  private ownKind: 'head' | 'idle' | 'linger' | null = 'head';
  private resets = 0;
  private resetsFrom = 0;
  private calmed = false;
  private closing = false;
  private local: [string, string] | null = null;
  /** The liveness watch while streams are open: the socket's bytes read and written when last looked at, since when (0: off). */
  private seenBytes = 0;
  private quietSince = 0;
  private pinged = false;

  constructor(
    readonly socket: net.Socket,
    readonly listener: HttpConnectionHost,
    private readonly options: Http2Options,
    /** The client, as the HTTP/1.1 side read it (a PROXY header may have named it). */
    private readonly client: { readonly remoteAddr: string; readonly remotePort: string; readonly viaProxy: boolean },
  ) {
    this.own = Date.now() + listener.options.headerTimeout * 1000;
    const session = (this.session = http2.performServerHandshake(socket, sessionOptions(listener, options)));
    session.on('stream', (stream: ServerHttp2Stream, _h: IncomingHttpHeaders, _f: number, raw: string[]) => this.onStream(stream, raw));
    session.on('error', (err) => listener.log.debug(`HTTP/2 session with ${this.remoteAddr}: ${err.message}`));
    session.on('close', () => this.onClose());
    if (listener.closing) this.drain();
  }

  /** The connection's two ends, for each stream's environ. */
  get peer(): Peer {
    return this;
  }

  get remoteAddr(): string {
    return this.client.remoteAddr;
  }

  get remotePort(): string {
    return this.client.remotePort;
  }

  get viaProxy(): boolean {
    return this.client.viaProxy;
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

  private onStream(stream: ServerHttp2Stream, raw: string[]): void {
    if (this.calmed) {
      stream.on('error', () => {}); // node reports our own reset as the stream's error
      return void stream.close(NGHTTP2_ENHANCE_YOUR_CALM);
    }
    this.own = 0;
    this.ownKind = null;
    if (this.quietSince === 0) this.quietSince = Date.now();
    this.streams.add(new Http2Stream(this, stream, raw));
  }

  streamClosed(s: Http2Stream): void {
    this.streams.delete(s);
    if (this.streams.size > 0) return;
    this.quietSince = 0;
    if (this.closing || this.calmed) return;
    this.ownKind = 'idle';
    this.own = Date.now() + this.listener.options.keepaliveTimeout * 1000;
  }

  streamReset(code: number): void {
    if (this.session.destroyed) return; // node ending the session closes every stream: not the client's resets
    const now = Date.now();
    if (now - this.resetsFrom >= RESET_WINDOW_MS) {
      this.resetsFrom = now;
      this.resets = 0;
    }
    if (++this.resets <= this.options.maxResets || this.calmed) return;
    const why = `${this.resets} streams reset within ${RESET_WINDOW_MS / 1000}s (--http2-max-resets ${this.options.maxResets})`;
    this.calm(why, code === NGHTTP2_CANCEL || code === NGHTTP2_NO_ERROR);
  }

  /**
   * A client past a cap: GOAWAY ENHANCE_YOUR_CALM, and the work of its open streams stopped. `now` when the reset
   * that passed the cap was the client's own RST_STREAM (CANCEL or NO_ERROR, the codes clients reset with): it was
   * read from the socket, and the session ends there, reading no further. Any other code may be nghttp2's own
   * RST_STREAM for the client's error, and such a stream closes as that frame is sent: a session destroyed inside
   * that send closes the socket without writing its GOAWAY (node 20: one MadeYouReset attack in ten saw none). So
   * it ends on the event loop's next turn, and streams the client opens meanwhile are refused (onStream).
   */
  private calm(why: string, now: boolean): void {
    this.calmed = true;
    this.listener.http2Calmed(this.remoteAddr, why);
    for (const s of [...this.streams]) s.stream.close(NGHTTP2_ENHANCE_YOUR_CALM);
    // an error, not undefined: an undefined error takes its default (NO_ERROR) and
    // that becomes the GOAWAY's code (node's core.js), so the client saw NO_ERROR (http2-attacks.test.ts)
    const end = (): void => void this.session.destroy(new Error(why), NGHTTP2_ENHANCE_YOUR_CALM);
    if (now) end();
    else setImmediate(end);
  }

  /** The earliest of the connection's and its streams' deadlines (0: none); the listener's sweep reads it. */
  get deadline(): number {
    let d = this.own === 0 && this.quietSince !== 0 ? this.quietSince + this.quietMs : this.own;
    for (const s of this.streams) if (s.deadline !== 0 && (d === 0 || s.deadline < d)) d = s.deadline;
    return d;
  }

  expire(): void {
    const now = Date.now();
    for (const s of this.streams) if (s.deadline !== 0 && s.deadline <= now) s.expire();
    if (this.own === 0 && this.quietSince !== 0 && now >= this.quietSince + this.quietMs) return this.checkLive(now);
    if (this.own === 0 || this.own > now) return;
    if (this.ownKind === 'linger') {
      this.own = 0;
      this.session.destroy(); // a client that never reads our GOAWAY is not waited on
      return;
    }
    if (this.ownKind === 'head') this.listener.headerTimeouts++;
    // no request in time, or idle past --keepalive-timeout: GOAWAY, then the close
    this.closing = true;
    this.session.close();
    this.ownKind = 'linger';
    this.own = now + LINGER_MS;
  }

  private get quietMs(): number {
    return Math.min(QUIET_MS, this.listener.options.keepaliveTimeout * 1000);
  }

  /**
   * Streams open, and the socket moved no byte for quietMs: a PING, and if not even that goes out by the next
   * look, the connection is dead and closed. nghttp2 ends a session at the client's connection error (a GOAWAY,
   * COMPRESSION_ERROR say) and Node 20 then stops reading without closing anything (Node 24 closes it), so the streams it held
   * never ended and the connection stayed for good, its client long gone (found by bench/chaos.ts). A live
   * client that only waits on a slow answer sends the PING's ACK, and its connection stays.
   */
  private checkLive(now: number): void {
    const bytes = this.socket.bytesRead + this.socket.bytesWritten;
    this.quietSince = now;
    if (bytes !== this.seenBytes) {
      this.seenBytes = bytes;
      this.pinged = false;
      return;
    }
    if (!this.pinged && !this.session.destroyed) {
      this.pinged = true;
      if (this.session.ping(() => {})) return;
    }
    this.listener.log.info(
      `HTTP/2 connection from ${this.remoteAddr || 'a unix socket'}: no byte in or out for ${(2 * this.quietMs) / 1000}s with ` +
        `${this.streams.size} stream(s) open, not even a PING: closing it`,
    );
    this.quietSince = 0;
    this.session.destroy();
    this.socket.destroy();
  }

  /** For the budget: since when it has had no stream open (Date.now() ms), or Infinity while it serves. */
  get idleSince(): number {
    if (this.ownKind !== 'idle') return Infinity;
    return this.own - this.listener.options.keepaliveTimeout * 1000;
  }

  /** Shutdown: GOAWAY with the last stream taken; streams in flight finish, then the connection closes. */
  drain(): void {
    this.closing = true;
    if (this.ownKind !== null) {
      // idle: a last moment for the client to read the GOAWAY
      this.ownKind = 'linger';
      this.own = Date.now() + LINGER_MS;
    }
    if (!this.session.closed) this.session.close();
  }

  /** The drain's grace ran out: what is in flight is cut off (Http2Stream.cutOff), and the connection closed. Returns what was cut. */
  cutOff(): string | null {
    const cut: string[] = [];
    for (const s of this.streams) {
      const what = s.cutOff();
      if (what !== null) cut.push(what);
    }
    setImmediate(() => this.session.destroy()); // the 503s go to the socket first
    return cut.length === 0 ? null : cut.join(', ');
  }

  private onClose(): void {
    this.own = 0;
    if (!this.socket.destroyed) this.socket.destroy();
    this.listener.connectionOnClose(this);
  }
}
