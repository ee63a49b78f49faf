// A WebSocket on an HTTP/1.1 connection, after its 101: the client's frames in
// (the sans-I/O FrameParser of protocols/websocket), whole messages out to the
// app's WebSocketPeer; the app's messages framed (and compressed, with
// permessage-deflate) to the client; pings while the client is silent, the
// close handshake, and the limits: --websocket-max-message (1009),
// --buffer-response of output waiting for a slow client (then the app is told
// to wait, and --send-timeout closes a client that takes nothing).

import type net from 'node:net';
import type { Logger } from '../log.js';
import type { WebSocketLink, WebSocketPeer } from '../pipeline/websocket.js';
import { CloseHandshake } from '../protocols/websocket/close.js';
import type { PerMessageDeflate } from '../protocols/websocket/deflate.js';
import { FrameParser, NEED_DATA, encodeMessage, encodePing, encodePong, type WsEvent } from '../protocols/websocket/frames.js';

export interface WebSocketOptions {
  /** --websocket-max-message, bytes. */
  maxMessage: number;
  /** --websocket-ping-interval / --websocket-ping-timeout, seconds (0: no pings). */
  pingInterval: number;
  pingTimeout: number;
}

/** How long after our close frame the client has to answer with its own before we drop it. */
const CLOSE_WAIT_MS = 5000;

export class WebSocketSession implements WebSocketLink {
  private readonly parser: FrameParser;
  private readonly handshake = new CloseHandshake();
  /** The app was told the WebSocket is over (once). */
  private told = false;
  /** Reading the parser's events waits for an inflate in the thread pool. */
  private waiting = false;
  /** Messages being compressed in the thread pool: later ones wait behind them, in order. */
  private sending: Promise<void> = Promise.resolve();
  private asyncSends = 0;
  private lastHeard = Date.now();
  private pingTimer: NodeJS.Timeout | null = null;
  private pongTimer: NodeJS.Timeout | null = null;
  private closeTimer: NodeJS.Timeout | null = null;
  private sendTimer: NodeJS.Timeout | null = null;
  private appPaused = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly peer: WebSocketPeer,
    private readonly deflate: PerMessageDeflate | null,
    private readonly options: WebSocketOptions & { bufferResponse: number; sendTimeout: number },
    private readonly log: Logger,
    private readonly describe: string,
  ) {
    this.parser = new FrameParser({ maxMessage: options.maxMessage, deflate });
    socket.on('drain', this.socketOnDrain);
    if (options.pingInterval > 0) {
      this.pingTimer = setInterval(() => this.ping(), options.pingInterval * 1000);
      this.pingTimer.unref();
    }
  }

  /** Bytes from the client. */
  receive(chunk: Buffer): void {
    this.lastHeard = Date.now();
    this.parser.receive(chunk);
    if (!this.waiting) this.pump();
  }

  private pump(): void {
    for (;;) {
      const ev = this.parser.next();
      if (ev === NEED_DATA) return;
      if (ev instanceof Promise) {
        // a large compressed message inflates in the thread pool: read no more until it has
        this.waiting = true;
        this.socket.pause();
        ev.then(
          (done) => {
            this.waiting = false;
            this.onEvent(done);
            if (!this.appPaused && !this.socket.destroyed) this.socket.resume();
            this.pump();
          },
          (err: unknown) => {
            this.log.error(`${this.describe}: inflating a message failed: ${(err as Error).message}`);
            this.fail(1011, 'internal error');
          },
        );
        return;
      }
      this.onEvent(ev);
    }
  }

  private onEvent(ev: WsEvent): void {
    switch (ev.kind) {
      case 'message':
        if (this.handshake.open) this.peer.wsOnMessage(ev.data, ev.text);
        return;
      case 'ping':
        if (this.handshake.open) this.socket.write(encodePong(ev.data));
        return;
      case 'pong':
        return;
      case 'close': {
        const reply = this.handshake.received(ev);
        if (reply !== null) this.socket.write(reply);
        this.tell(ev.code, ev.reason);
        this.socket.end(); // RFC 6455 §7.1.1: the server closes the TCP connection first
        return;
      }
      case 'fail':
        this.log.debug(`${this.describe}: closing with ${ev.code}: ${ev.reason}`);
        this.fail(ev.code, ev.reason);
        return;
    }
  }

  /** The client broke the protocol or a limit: close with `code` and drop it at once (§7.1.7). */
  private fail(code: number, reason: string): void {
    const frame = this.handshake.close(code, reason.slice(0, 120));
    if (frame !== null) this.socket.write(frame);
    this.tell(code, reason);
    this.socket.end();
    this.socket.destroySoon();
  }

  // --- the app's side (WebSocketLink) ---

  send(data: Buffer, text: boolean): boolean {
    if (!this.handshake.open || this.socket.destroyed) return true;
    const deflate = this.deflate;
    // a short message is better sent as it is (it stays out of the compression window)
    const compress = deflate !== null && data.length >= deflate.threshold;
    if (this.asyncSends > 0) {
      // behind a message still compressing: compress() is called in send order, so this one in its turn
      this.queueSend(text, compress, () => (compress ? deflate!.compress(data) : data));
      return this.roomLeft();
    }
    const out = compress ? deflate!.compress(data) : data;
    if (out instanceof Promise) this.queueSend(text, compress, () => out);
    else this.write(encodeMessage(text, out, { compressed: compress }));
    return this.roomLeft();
  }

  /** A message whose payload is not in hand yet (compressed in the thread pool), written in send order. */
  private queueSend(text: boolean, compressed: boolean, payload: () => Buffer | Promise<Buffer>): void {
    this.asyncSends++;
    this.sending = this.sending.then(async () => {
      try {
        const out = await payload();
        if (this.handshake.open && !this.socket.destroyed) this.write(encodeMessage(text, out, { compressed }));
      } catch (err) {
        this.log.error(`${this.describe}: compressing a message failed: ${(err as Error).message}`);
        this.fail(1011, 'internal error');
      } finally {
        this.asyncSends--;
      }
    });
  }

  private write(frames: Buffer[]): void {
    if (frames.length === 1) this.socket.write(frames[0]!);
    else {
      this.socket.cork();
      for (const f of frames) this.socket.write(f);
      this.socket.uncork();
    }
  }

  /** Below --buffer-response waiting: true; else the client has --send-timeout to take some. */
  private roomLeft(): boolean {
    if (this.socket.writableLength <= this.options.bufferResponse) return true;
    if (this.sendTimer === null && this.options.sendTimeout > 0) {
      this.sendTimer = setTimeout(() => {
        this.log.info(`${this.describe}: the client accepted no data for ${this.options.sendTimeout}s; closing`);
        this.socket.destroy();
      }, this.options.sendTimeout * 1000);
    }
    return false;
  }

  private readonly socketOnDrain = (): void => {
    if (this.sendTimer !== null) {
      clearTimeout(this.sendTimer);
      this.sendTimer = null;
    }
    this.peer.wsOnDrain();
  };

  close(code: number, reason: string): void {
    let frame: Buffer | null;
    try {
      frame = this.handshake.close(code, reason);
    } catch (err) {
      // a code or reason an app may not send: close with 1011 instead, and say why
      this.log.error(`${this.describe}: the app's close cannot be sent (${(err as Error).message}); closing with 1011`);
      frame = this.handshake.close(1011, '');
    }
    if (frame === null) return;
    void this.sending.then(() => {
      if (this.socket.destroyed) return;
      this.socket.write(frame);
      this.closeTimer = setTimeout(() => this.socket.destroy(), CLOSE_WAIT_MS);
      this.closeTimer.unref();
    });
  }

  pause(): void {
    this.appPaused = true;
    this.socket.pause();
  }

  resume(): void {
    this.appPaused = false;
    if (!this.waiting && !this.socket.destroyed) this.socket.resume();
  }

  // --- keep-alive ---

  private ping(): void {
    const interval = this.options.pingInterval * 1000;
    if (this.pongTimer !== null || !this.handshake.open || Date.now() - this.lastHeard < interval) return;
    const sentAt = Date.now();
    this.socket.write(encodePing());
    this.pongTimer = setTimeout(() => {
      this.pongTimer = null;
      if (this.lastHeard >= sentAt) return;
      this.log.info(`${this.describe}: no answer to a ping within ${this.options.pingTimeout}s; closing`);
      this.tell(1011, 'keepalive ping timeout');
      this.socket.destroy();
    }, this.options.pingTimeout * 1000);
    this.pongTimer.unref();
  }

  // --- the connection ---

  /** The server is going away (a drain): close with 1001. */
  goingAway(): void {
    this.close(1001, 'server shutting down');
  }

  /** The socket is closed: the app hears of it if it has not yet (1006: no close frame came). */
  socketClosed(): void {
    for (const t of [this.pingTimer, this.pongTimer, this.closeTimer, this.sendTimer]) if (t !== null) clearTimeout(t);
    this.pingTimer = this.pongTimer = this.closeTimer = this.sendTimer = null;
    this.tell(this.handshake.peerCode, this.handshake.peerReason);
  }

  private tell(code: number, reason: string): void {
    if (this.told) return;
    this.told = true;
    this.peer.wsOnClose(code, reason);
  }
}
