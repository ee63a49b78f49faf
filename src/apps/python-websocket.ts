// A WebSocket served by an ASGI worker (docs/worker-protocol.md, "WebSockets on
// a stream"): the handshake goes to the worker as a REQUEST with the websocket
// flag; its WS_ACCEPT makes the listener answer 101 (its WS_CLOSE before that,
// 403; an HTTP response before that is sent as it is: the denial response
// extension); then messages flow both ways as WS_RECEIVE / WS_SEND until
// either side closes and the worker ends the stream. The listener keeps the
// socket, so a client that reads slowly costs gateway memory (up to
// --buffer-response, then the worker's stream is paused), never a stuck worker.

import { GatewayError, codes } from '../errors.js';
import type { Logger } from '../log.js';
import type { Body, Environ, StartResponse } from '../pipeline/types.js';
import type { WebSocketLink, WebSocketPeer, WebSocketUpgrade } from '../pipeline/websocket.js';
import type { Channel, Exchange } from '../workers/channel.js';
import {
  FLAG_WEBSOCKET,
  HEADER_SIZE,
  MAX_PAYLOAD,
  T,
  WS_MORE,
  WS_TEXT,
  badFrame,
  requestFrameParts,
  splitBlock,
} from '../workers/frame.js';

/** What the HTTP part of the exchange (a denial response) is handed to. */
export interface HttpTail extends Exchange {
  /** Take over a stream whose REQUEST went already: only the worker's frames are left. */
  adopt(ch: Channel): void;
}

const FORBIDDEN = Buffer.from('Forbidden\n');

export class WebSocketExchange implements Exchange, WebSocketPeer {
  readonly pipelinable = false;
  readonly untimed = true;
  private channel: Channel | null = null;
  private link: WebSocketLink | null = null;
  /** The worker answered the handshake with an HTTP response: its frames go to this exchange. */
  private http: HttpTail | null = null;
  /** Pieces of a message the worker sends in several WS_SEND frames. */
  private pieces: Buffer[] = [];
  private settled = false;
  private ended = false;
  /** The client's side is over (it closed, or is gone): told to the worker once. */
  private clientClosed = false;
  /** The client left before the handshake was answered (the listener's `warpipe.client_gone`). */
  private gone = false;

  constructor(
    private readonly block: string,
    private readonly environ: Environ,
    private readonly upgrade: WebSocketUpgrade,
    private readonly startResponse: StartResponse,
    private readonly resolve: (body: Body) => void,
    private readonly reject: (err: Error) => void,
    private readonly log: Logger,
    /** Makes the exchange that serves a denial response, given the stream. */
    private readonly denial: () => HttpTail,
  ) {
    // the listener says when the client leaves before the 101: the app hears websocket.disconnect (1006)
    environ['warpipe.client_gone'] = this;
  }

  /**
   * The listener's word that the client left during the handshake. The worker is told at once (else the app
   * waited on receive() until a ping found the socket gone, 40 s by default, holding one of its streams; found
   * by bench/chaos.ts); queued, the handshake is dropped there.
   */
  clientGone(): void {
    this.gone = true;
    if (this.channel !== null) this.tellClosed(1006, '');
  }

  /** Its client left before a worker took it: the dispatcher drops it from the queue. */
  get abandoned(): boolean {
    return this.gone && this.channel === null;
  }

  describe(): string {
    return `WebSocket ${this.environ.REQUEST_URI ?? this.environ.PATH_INFO}`;
  }

  start(ch: Channel): void {
    this.channel = ch;
    ch.writev(requestFrameParts(this.block, null, true, FLAG_WEBSOCKET));
    if (this.gone) this.tellClosed(1006, '');
  }

  onFrame(type: number, payload: Buffer): void {
    if (this.http !== null) return this.http.onFrame(type, payload);
    switch (type) {
      case T.WS_ACCEPT:
        return this.onAccept(payload);
      case T.WS_SEND:
        return this.onSend(payload);
      case T.WS_CLOSE:
        return this.onClose(payload);
      case T.RESPONSE:
        if (this.settled) throw badFrame('RESPONSE after the WebSocket was accepted');
        this.settled = true;
        this.http = this.denial();
        this.http.adopt(this.channel!);
        return this.http.onFrame(type, payload);
      case T.LOG:
        this.log.log(payload[0] ?? 40, payload.toString('utf8', 1).replace(/\n$/, ''), `worker ${this.channel?.owner.pid}`);
        return;
      case T.REND:
        return this.end(1000, '');
      case T.ABORT:
        return this.end(1011, 'the app failed');
      default:
        throw badFrame(`unexpected frame 0x${type.toString(16)} on a WebSocket stream`);
    }
  }

  private onAccept(payload: Buffer): void {
    if (this.settled) throw badFrame('WS_ACCEPT twice, or after a response');
    this.settled = true;
    if (payload.length === 0 || payload[payload.length - 1] !== 0) throw badFrame('WS_ACCEPT block does not end with NUL');
    const parts = splitBlock(payload);
    if (parts.length % 2 !== 1) throw badFrame('WS_ACCEPT has an odd header list');
    const headers: [string, string][] = [];
    for (let i = 1; i < parts.length; i += 2) headers.push([parts[i]!, parts[i + 1]!]);
    if (this.gone) return this.resolve([]); // no one to switch protocols with: the worker was told (clientGone)
    try {
      this.link = this.upgrade.accept(parts[0] || null, headers, this);
    } catch (err) {
      // a subprotocol the client did not offer, a forbidden header: the app's error, a 500
      this.log.error(`WebSocket ${this.environ.PATH_INFO}: the app's accept cannot be sent: ${(err as Error).message}`);
      this.reject(err as Error);
      this.tellClosed(1006, '');
      return;
    }
    this.resolve([]); // the listener's exchange is over (101); this ends nothing
  }

  private onSend(payload: Buffer): void {
    if (this.link === null) throw badFrame('WS_SEND before WS_ACCEPT');
    const flags = payload[0] ?? 0;
    const data = payload.subarray(1);
    if (flags & WS_MORE) {
      this.pieces.push(Buffer.from(data)); // the payload is a view into the read buffer
      return;
    }
    const whole = this.pieces.length === 0 ? data : Buffer.concat([...this.pieces.splice(0), data]);
    if (!this.link.send(whole, (flags & WS_TEXT) !== 0)) this.channel?.pauseReading();
  }

  private onClose(payload: Buffer): void {
    const code = payload.length >= 2 ? payload.readUInt16LE(0) : 1000;
    const reason = payload.toString('utf8', 2);
    if (this.link !== null) return this.link.close(code, reason);
    if (this.settled) return;
    // closed before it was accepted: the handshake is refused (ASGI: HTTP 403)
    this.settled = true;
    this.startResponse('403 Forbidden', [
      ['Content-Type', 'text/plain'],
      ['Content-Length', String(FORBIDDEN.length)],
    ]);
    this.resolve([FORBIDDEN]);
  }

  /** The worker ended the stream: the task returned (1000) or failed (1011). */
  private end(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.link !== null) this.link.close(code, reason);
    else if (!this.settled) {
      this.settled = true;
      const why = code === 1000 ? 'ended the WebSocket handshake without an answer' : 'failed before answering the WebSocket handshake';
      this.reject(new GatewayError(codes.APP_ABORTED, `the app ${why}`, 500));
    }
    this.clientClosed = true;
    this.channel?.free();
  }

  onLost(err: GatewayError): void {
    this.ended = true;
    this.clientClosed = true;
    if (this.http !== null) return this.http.onLost(err);
    if (this.link !== null) this.link.close(1011, 'the worker is gone');
    else if (!this.settled) {
      this.settled = true;
      this.reject(err);
    }
  }

  // --- from the listener (WebSocketPeer) ---

  wsOnMessage(data: Buffer, text: boolean): void {
    const ch = this.channel;
    if (ch === null || this.ended || this.clientClosed) return;
    let ok = true;
    const limit = MAX_PAYLOAD - 1;
    for (let off = 0; off === 0 || off < data.length; off += limit) {
      const piece = data.subarray(off, off + limit);
      const more = off + limit < data.length;
      const head = Buffer.allocUnsafe(HEADER_SIZE + 1);
      head.writeUInt32LE(piece.length + 1, 0);
      head[4] = T.WS_RECEIVE;
      head[5] = (text ? WS_TEXT : 0) | (more ? WS_MORE : 0);
      ok = ch.writev([head, piece]);
    }
    if (!ok) {
      // the app has not taken what it got (or the channel is full): stop reading the client until it has
      this.link?.pause();
      void ch.drained().then(() => this.link?.resume());
    }
  }

  wsOnClose(code: number, reason: string): void {
    this.tellClosed(code, reason);
  }

  wsOnDrain(): void {
    this.channel?.resumeReading();
  }

  private tellClosed(code: number, reason: string): void {
    if (this.clientClosed || this.ended) return;
    this.clientClosed = true;
    const ch = this.channel;
    if (ch === null || ch.isLost || ch.exchange !== this) return;
    const text = Buffer.from(reason, 'utf8');
    const out = Buffer.allocUnsafe(HEADER_SIZE + 2 + text.length);
    out.writeUInt32LE(2 + text.length, 0);
    out[4] = T.WS_CLOSED;
    out.writeUInt16LE(code, HEADER_SIZE);
    text.copy(out, HEADER_SIZE + 2);
    ch.write(out);
  }
}
