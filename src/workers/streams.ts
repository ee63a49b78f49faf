// An ASGI worker's request channel 0 carries many requests at once, as streams
// (docs/worker-protocol.md, "ASGI workers: streams on one channel"): a STREAM
// frame says which stream the frames after it belong to, in each direction.
// Each stream is a Channel to the rest of the gateway (the dispatcher lends it,
// an exchange runs on it, the arbiter times it), so the pool schedules an ASGI
// worker's streams as it schedules a WSGI worker's threads. One socket pair for
// all of them: frames of every stream written in one turn leave in one write,
// and the worker reads many requests per wake-up.
//
// A slow client cannot pause the shared socket (the other streams would stop),
// so flow control is per stream, by frames: PAUSE/RESUME from the gateway stop
// the worker sending a stream's response; PAUSE/RESUME from the worker stop the
// gateway sending a stream's request body or WebSocket messages.

import type { Socket } from 'node:net';
import type { GatewayError } from '../errors.js';
import { Channel, readFrames, type ChannelOwner, type Exchange } from './channel.js';
import { FLAG_COMPLETE, T, badFrame, frame, streamFrame } from './frame.js';

const PAUSE_FRAME = frame(T.PAUSE);
const RESUME_FRAME = frame(T.RESUME);
const TIMEOUT_FRAME = frame(T.TIMEOUT);
/** Bytes waiting in the shared socket's write buffer past which a stream's writer is told to wait. */
const HIGH_WATER = 1 << 20;

export class StreamMux {
  readonly channels: StreamChannel[] = [];
  /** The stream the last frame written belongs to (the worker's reading side follows it). */
  private writing = 0;
  /** The stream the frames being read belong to. */
  private reading = 0;
  private corked = false;
  private closed = false;

  constructor(
    readonly tx: Socket,
    readonly rx: Socket,
    private readonly owner: ChannelOwner,
    streams: number,
  ) {
    for (let i = 0; i < streams; i++) this.channels.push(new StreamChannel(this, owner, i));
    tx.on('error', () => {});
    readFrames(
      rx,
      (type, payload) => this.muxOnFrame(type, payload),
      (err) => this.owner.channelOnBroken(this.channels[this.reading]!, err),
    );
    // after STOP the worker ends the channel once every stream is done (or it broke it)
    rx.on('end', () => {
      if (!this.closed) this.owner.channelOnClosed?.(this.channels[0]!);
    });
  }

  private muxOnFrame(type: number, payload: Buffer): void {
    if (type === T.STREAM) {
      const id = payload.length === 4 ? payload.readUInt32LE(0) : -1;
      if (id < 0 || id >= this.channels.length) throw badFrame(`STREAM ${id} out of range (0-${this.channels.length - 1})`);
      this.reading = id;
      return;
    }
    this.channels[this.reading]!.receiveFrame(type, payload);
  }

  /** Write `pieces` for stream `id`; false once the socket holds more than HIGH_WATER (wait for `drained`). */
  send(id: number, pieces: readonly Uint8Array[]): boolean {
    const tx = this.tx;
    if (this.closed || tx.destroyed) return true;
    if (!this.corked) {
      // what every stream writes in one turn of the event loop leaves in one system call (see Channel.writev)
      this.corked = true;
      tx.cork();
      setImmediate(this.uncork);
    }
    if (id !== this.writing) {
      tx.write(streamFrame(id));
      this.writing = id;
    }
    for (const p of pieces) tx.write(p);
    return tx.writableLength < HIGH_WATER;
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.tx.uncork();
  };

  /** Whether the shared socket can take more without a writer waiting. */
  get writable(): boolean {
    return this.closed || this.tx.destroyed || this.tx.writableLength < HIGH_WATER;
  }

  whenFlushed(done: () => void): void {
    if (this.closed || this.tx.destroyed || this.tx.writableLength === 0) return done();
    this.tx.write(new Uint8Array(0), () => done());
  }

  /** Resolves once the shared socket has room again. */
  drained(): Promise<void> {
    if (this.writable) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.writable) resolve();
        else this.tx.once('drain', check);
      };
      this.tx.once('drain', check);
      this.tx.once('close', () => resolve());
    });
  }

  /** Every stream is idle (no request on any). */
  get idle(): boolean {
    return this.channels.every((ch) => ch.exchange === null);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tx.destroy();
    this.rx.destroy();
  }
}

/** One stream of an ASGI worker's channel, as a Channel. */
export class StreamChannel extends Channel {
  /** The worker asked us to stop sending this stream's body or messages (PAUSE), until RESUME. */
  private held = false;
  private readonly heldWaiters: (() => void)[] = [];
  /** The request that timed out, until the worker ends it: its LOG frames (the task's stack) still go to the log. */
  private timedOut: Exchange | null = null;
  /** We asked the worker to stop sending (the client is slow). */
  private pausedWorker = false;

  constructor(
    private readonly mux: StreamMux,
    owner: ChannelOwner,
    index: number,
  ) {
    super(mux.tx, mux.rx, owner, index, false);
  }

  override receiveFrame(type: number, payload: Buffer): void {
    if (type === T.WPAUSE) {
      this.held = true;
      return;
    }
    if (type === T.WRESUME) {
      this.held = false;
      for (const wake of this.heldWaiters.splice(0)) wake();
      return;
    }
    if (this.expired) {
      // the request timed out and its client has its 504; the worker logs the task's stack, cancels it and ends the stream
      if (type === T.LOG) return this.timedOut?.onFrame(type, payload);
      const ended = type === T.REND || type === T.ABORT || (type === T.RESPONSE && ((payload[0] ?? 0) & FLAG_COMPLETE) !== 0);
      if (ended) {
        this.expired = false;
        this.timedOut = null;
        this.expiredAt = 0;
        this.free();
      }
      return;
    }
    super.receiveFrame(type, payload);
  }

  /**
   * Never: a stream carries one request at a time (docs/worker-protocol.md), so a request beyond the
   * worker's streams waits in the gateway's queue; one written ahead was a protocol error that killed the worker.
   */
  override mayTakeAhead(): boolean {
    return false;
  }

  override write(buf: Uint8Array): boolean {
    return this.mux.send(this.index, [buf]) && !this.held;
  }

  override writev(pieces: readonly Uint8Array[]): boolean {
    return this.mux.send(this.index, pieces) && !this.held;
  }

  override whenFlushed(done: () => void): void {
    this.mux.whenFlushed(done);
  }

  /** Resolves when the worker takes this stream's data again (RESUME) and the socket has room. */
  override async drained(): Promise<void> {
    while (this.held && !this.lost) await new Promise<void>((resolve) => this.heldWaiters.push(resolve));
    await this.mux.drained();
  }

  override pauseReading(): void {
    if (this.pausedWorker || this.lost) return;
    this.pausedWorker = true;
    this.mux.send(this.index, [PAUSE_FRAME]);
  }

  override resumeReading(): void {
    if (!this.pausedWorker || this.lost) return;
    this.pausedWorker = false;
    this.mux.send(this.index, [RESUME_FRAME]);
  }

  /** The request ended both ways: a stream's flow control starts afresh with the next request. */
  override free(): void {
    this.pausedWorker = false;
    this.held = false;
    for (const wake of this.heldWaiters.splice(0)) wake();
    super.free();
  }

  /**
   * The request timed out: its client gets a 504 and the worker is told (TIMEOUT), which logs the
   * task's stack, cancels it and ends the stream (ABORT). The stream is lent again only then; the
   * arbiter takes a worker whose stream stays expired for a second as blocked.
   */
  override expire(err: GatewayError): void {
    if (this.exchange === null || this.expired) return;
    this.timedOut = this.exchange;
    super.expire(err);
    this.mux.send(this.index, [TIMEOUT_FRAME]);
  }

  protected override destroyLink(): void {
    for (const wake of this.heldWaiters.splice(0)) wake();
  }
}
