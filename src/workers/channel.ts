// One request channel: a private socketpair between the gateway and one worker
// thread. It carries one request at a time; the Exchange it is lent to receives
// every frame until the response ends, then the channel goes back to the pool.

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
}

export interface ChannelOwner {
  readonly pid: number;
  /** Channels of this owner lent out right now. */
  busy: number;
  /** Requests taken since spawn. */
  served: number;
  /** The exchange finished; the channel may take the next request. */
  channelOnFree(channel: Channel): void;
  /** The worker sent something out of protocol; it must be replaced. */
  channelOnBroken(channel: Channel, err: WorkerError): void;
}

export class Channel {
  exchange: Exchange | null = null;
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
    this.exchange = exchange;
    exchange.start(this);
  }

  write(buf: Uint8Array): boolean {
    return this.socket.write(buf);
  }

  /** Called by the exchange when both ends have finished the request. */
  free(): void {
    this.exchange = null;
    if (this.socket.isPaused()) this.socket.resume();
    if (!this.lost) this.owner.channelOnFree(this);
  }

  /** The worker is gone: fail the exchange, never lend the channel again. */
  lose(err: WorkerError): void {
    if (this.lost) return;
    this.lost = true;
    const ex = this.exchange;
    this.exchange = null;
    this.socket.destroy();
    if (ex) ex.onLost(err);
  }

  get isLost(): boolean {
    return this.lost;
  }
}
