// One request channel: a private socketpair between the gateway and one worker
// thread. It runs one request at a time; the Exchange it is lent to receives
// every frame until the response ends, then the channel goes back to the pool.
// Under saturation the pool may write one more whole request ahead (`next`), so
// the worker finds it buffered instead of sleeping until the gateway answers.

import type { Socket } from 'node:net';
import { FrameReader, badFrame } from './frame.js';
import type { WorkerError } from '../errors.js';

/** The in-flight request on a channel (implemented by the Python app). */
export interface Exchange {
  /** Start the request on `channel` (write the REQUEST frame, stream the body). */
  start(channel: Channel): void;
  /** One frame from the worker for this request. */
  onFrame(type: number, payload: Buffer): void;
  /** The worker died or broke the protocol. */
  onLost(err: WorkerError): void;
  /** The whole request is one frame (no streamed body), so it may be written ahead of time. */
  readonly pipelinable: boolean;
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
}

export class Channel {
  exchange: Exchange | null = null;
  /** Written ahead while `exchange` runs; it becomes `exchange` when that one ends. */
  next: Exchange | null = null;
  private readonly reader: FrameReader;
  private lost = false;

  constructor(readonly socket: Socket, readonly owner: ChannelOwner, readonly index: number) {
    this.reader = new FrameReader((type, payload) => this.channelOnFrame(type, payload));
    socket.on('data', (chunk: Buffer) => {
      try {
        this.reader.receive(chunk);
      } catch (err) {
        this.owner.channelOnBroken(this, err as WorkerError);
      }
    });
    socket.on('error', () => {}); // 'close' follows; the worker's exit is reported by its owner
  }

  private channelOnFrame(type: number, payload: Buffer): void {
    const ex = this.exchange;
    if (ex === null) {
      throw badFrame(`frame 0x${type.toString(16)} arrived with no request in flight`);
    }
    ex.onFrame(type, payload);
  }

  begin(exchange: Exchange): void {
    if (this.exchange === null) this.exchange = exchange;
    else this.next = exchange;
    exchange.start(this);
  }

  write(buf: Uint8Array): boolean {
    return this.socket.write(buf);
  }

  /** Called by the exchange when both ends have finished the request. */
  free(): void {
    if (this.socket.isPaused()) this.socket.resume();
    const next = this.next;
    if (next !== null) {
      this.exchange = next;
      this.next = null;
      if (!this.lost) this.owner.channelOnAdvance(this);
      return;
    }
    this.exchange = null;
    if (!this.lost) this.owner.channelOnFree(this);
  }

  /** The worker is gone: fail the exchange, never lend the channel again. */
  lose(err: WorkerError): void {
    if (this.lost) return;
    this.lost = true;
    const ex = this.exchange;
    const next = this.next;
    this.exchange = null;
    this.next = null;
    this.socket.destroy();
    if (ex) ex.onLost(err);
    // the worker serves a channel in order, so a request written ahead never started
    if (next) this.owner.channelOnOrphan(next);
  }

  get isLost(): boolean {
    return this.lost;
  }
}
