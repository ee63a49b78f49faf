// One request channel between the gateway and one worker thread: two private
// socketpairs, one per direction (`tx` carries requests, `rx` responses). With
// one bidirectional socket, every read of a response by the gateway woke the
// worker thread sleeping in recv on that socket (the kernel wakes a socket's
// one wait queue when its sent data is consumed), for nothing. It runs one request at a time; the Exchange it is lent to receives
// every frame until the response ends, then the channel goes back to the pool.
// Under saturation the pool may write whole requests ahead (`ahead`), so the
// worker finds them buffered instead of sleeping until the gateway answers:
// each wake-up of a sleeping worker costs the gateway a cross-CPU wake in the
// kernel, and on 2 cores that was the largest single cost per request.

import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { FrameReader, T, badFrame } from './frame.js';
import type { GatewayError, WorkerError } from '../errors.js';

/** The in-flight request on a channel (implemented by the Python app). */
export interface Exchange {
  /** Start the request on `channel` (write the REQUEST frame, stream the body). */
  start(channel: Channel): void;
  /** One frame from the worker for this request. */
  onFrame(type: number, payload: Buffer): void;
  /** It cannot be served: its worker died, broke the protocol or timed out, or it waited too long in the queue. */
  onLost(err: GatewayError): void;
  /** The whole request is one frame (no streamed body), so it may be written ahead of time. */
  readonly pipelinable: boolean;
  /** The request for log lines, e.g. `GET /path?q`. */
  describe(): string;
  /** --timeout does not apply (a WebSocket). */
  readonly untimed?: boolean;
  /** Its client left while it waited in the queue: it is dropped there (onLost), never run. */
  readonly abandoned?: boolean;
}

export interface ChannelOwner {
  readonly pid: number;
  /** Channels of this owner lent out right now. */
  busy: number;
  /** Requests taken since spawn. */
  served: number;
  /** The exchange finished; the channel may take the next request. */
  channelOnFree(channel: Channel): void;
  /** The exchange finished and the one written ahead took its place. */
  channelOnAdvance(channel: Channel): void;
  /** The worker was lost with a request written ahead that it never started. */
  channelOnOrphan(exchange: Exchange): void;
  /** The worker sent something out of protocol; it must be replaced. */
  channelOnBroken(channel: Channel, err: WorkerError): void;
  /** The worker ended its side of the channel (end of file, after everything it sent was read). */
  channelOnClosed?(channel: Channel): void;
}

/**
 * How long a request written ahead may expect to wait behind the work already
 * on its channel, in ms. Pipelining pays when requests take tens of
 * microseconds (the gateway's cost per wake-up is of that order); behind a slow
 * request it only adds latency, and the request is better kept in the
 * gateway's queue for whichever worker frees up first.
 */
export const AHEAD_BUDGET_MS = 1;

const EMPTY = new Uint8Array(0);

/**
 * Read the worker's frames from `rx` into `onFrame`. A framing error is reported once to `onBroken`:
 * what follows is garbage, read and dropped until the worker is killed.
 */
export function readFrames(rx: Socket, onFrame: (type: number, payload: Buffer) => void, onBroken: (err: WorkerError) => void): void {
  const reader = new FrameReader(onFrame, T.RDATA);
  let broken = false;
  rx.on('data', (chunk: Buffer) => {
    if (broken) return;
    try {
      reader.receive(chunk);
    } catch (err) {
      broken = true;
      onBroken(err as WorkerError);
    }
  });
  rx.on('error', () => {});
}

export class Channel {
  exchange: Exchange | null = null;
  /** Written ahead while `exchange` runs, in order; the first becomes `exchange` when that one ends. */
  readonly ahead: Exchange[] = [];
  /** When `exchange` started running (performance.now() ms): lent idle, or the one before it ended. */
  private startedAt = 0;
  /** Moving average of how long a request runs here, ms. */
  private meanTime = 0;
  /** A stream whose request timed out: when (the arbiter's clock, ms), until the worker ends it (0: none). */
  expiredAt = 0;
  protected lost = false;
  /** The running request was given up (timed out): whatever the worker still sends is ignored. */
  protected expired = false;

  /**
   * A request channel of its own (a WSGI worker thread's), or, with `own` false, a stream of an ASGI
   * worker's channel (StreamChannel): the StreamMux owns the sockets, reads them and writes for it.
   */
  constructor(
    protected readonly tx: Socket,
    protected readonly rx: Socket,
    readonly owner: ChannelOwner,
    readonly index: number,
    own = true,
  ) {
    if (!own) return;
    tx.on('error', () => {}); // the worker's exit is reported by its owner
    readFrames(
      rx,
      (type, payload) => this.receiveFrame(type, payload),
      (err) => this.owner.channelOnBroken(this, err),
    );
    // emitted only once every frame before it was handled, so nothing the worker sent is lost
    rx.on('end', () => {
      if (!this.lost) this.owner.channelOnClosed?.(this);
    });
  }

  /** One frame from the worker for this channel. */
  receiveFrame(type: number, payload: Buffer): void {
    if (this.expired) return;
    const ex = this.exchange;
    if (ex === null) {
      throw badFrame(`frame 0x${type.toString(16)} arrived with no request in flight`);
    }
    ex.onFrame(type, payload);
  }

  begin(exchange: Exchange): void {
    if (this.exchange === null) {
      this.exchange = exchange;
      this.startedAt = performance.now();
    } else {
      this.ahead.push(exchange);
    }
    exchange.start(this);
  }

  /** How long the running request has run, ms (0 when idle). */
  runningFor(now: number): number {
    return this.exchange === null ? 0 : now - this.startedAt;
  }

  /** How long the running request has run, ms, if --timeout applies to it (0: idle, or a WebSocket). */
  timedFor(now: number): number {
    return this.exchange === null || this.exchange.untimed ? 0 : now - this.startedAt;
  }

  /**
   * Give up the running request (it timed out): it fails with `err`, and the
   * worker, about to be killed, is not listened to any more. Requests written
   * ahead stay: they are requeued when the worker is gone, as then they are
   * sure never to run.
   */
  expire(err: GatewayError): void {
    const ex = this.exchange;
    if (ex === null || this.expired) return;
    this.expired = true;
    this.exchange = null;
    ex.onLost(err);
  }

  /**
   * May one more request be written ahead here (at most `depth`)? Only behind
   * a running request that is itself pipelinable, and only while the requests
   * already here are expected to finish within AHEAD_BUDGET_MS: never behind a
   * request that has run longer than that, or on a channel whose requests
   * usually take longer.
   */
  mayTakeAhead(depth: number, now: number): boolean {
    const ex = this.exchange;
    if (ex === null || !ex.pipelinable || this.lost || this.expired || this.ahead.length >= depth) return false;
    const elapsed = now - this.startedAt;
    const wait = Math.max(this.meanTime - elapsed, 0) + this.ahead.length * this.meanTime;
    return elapsed < AHEAD_BUDGET_MS && wait < AHEAD_BUDGET_MS;
  }

  /** Send to the worker; false when its socket buffer is full (wait for `drained()`). */
  write(buf: Uint8Array): boolean {
    return this.tx.write(buf);
  }

  /**
   * Write `pieces` in order. What is written to a worker within one turn of the event loop leaves in
   * one system call when that turn's I/O is done: the requests of every connection that became
   * readable together, and each request's frames, reach the worker in one write and wake it once.
   * (Measured, hello at 50 keep-alive connections on Node 24: gateway 19-24 µs/request instead of
   * 20-27, workers 8-10 instead of 9-13.)
   */
  writev(pieces: readonly Uint8Array[]): boolean {
    const tx = this.tx;
    if (!this.corked) {
      this.corked = true;
      tx.cork();
      setImmediate(this.uncork);
    }
    let ok = true;
    for (const p of pieces) ok = tx.write(p);
    return ok;
  }

  /** Frames are held (corked) until the turn's I/O is done; see writev. */
  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.tx.uncork();
  };

  /**
   * Call `done` once everything written so far is in the worker's socket (at once when nothing
   * waits in the gateway, or when the channel is gone). What is written later is not waited for.
   */
  whenFlushed(done: () => void): void {
    if (this.lost || this.tx.destroyed || this.tx.writableLength === 0) return done();
    this.tx.write(EMPTY, () => done()); // write callbacks run in order: after everything before it
  }

  /** Resolves when what was written has gone to the worker. */
  drained(): Promise<void> {
    return new Promise((resolve) => this.tx.once('drain', resolve));
  }

  /** Stop reading the worker's response (the client is slow); the worker blocks once its socket is full. */
  pauseReading(): void {
    this.rx.pause();
  }

  resumeReading(): void {
    if (this.rx.isPaused()) this.rx.resume();
  }

  /** Called by the exchange when both ends have finished the request. */
  free(): void {
    this.resumeReading();
    const now = performance.now();
    this.meanTime += (now - this.startedAt - this.meanTime) / 8;
    const next = this.ahead.shift();
    if (next !== undefined) {
      this.exchange = next;
      this.startedAt = now;
      if (!this.lost) this.owner.channelOnAdvance(this);
      return;
    }
    this.exchange = null;
    if (!this.lost) this.owner.channelOnFree(this);
  }

  /**
   * The worker ended the channel after STOP and everything it sent was read: close our end,
   * which tells the worker it may exit.
   */
  close(): void {
    if (this.lost) return;
    this.lost = true;
    this.destroyLink();
  }

  /** Let go of the sockets (a stream's belong to its StreamMux). */
  protected destroyLink(): void {
    this.tx.destroy();
    this.rx.destroy();
  }

  /** The worker is gone: fail the exchange, never lend the channel again. */
  lose(err: GatewayError): void {
    if (this.lost) return;
    this.lost = true;
    const ex = this.exchange;
    const ahead = this.ahead.splice(0);
    this.exchange = null;
    this.destroyLink();
    if (ex) ex.onLost(err);
    // the worker serves a channel in order, so requests written ahead never started:
    // they go back to the front of the queue, in their order
    for (let i = ahead.length - 1; i >= 0; i--) this.owner.channelOnOrphan(ahead[i]!);
  }

  get isLost(): boolean {
    return this.lost;
  }
}
