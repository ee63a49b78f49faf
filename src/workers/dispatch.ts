// Dispatch: which channel runs each request. An idle channel of the least busy
// serving worker (never a kernel accept race); when none is idle, a busy
// channel that may take it ahead (Channel.mayTakeAhead); else a FIFO queue,
// bounded in length (--backlog) and in waiting time (--queue-timeout), both
// answered with 503 and Retry-After rather than unbounded latency.
//
// It knows channels and which workers take new requests, not why: the arbiter
// decides when a worker starts serving (`serve`) and stops (`withdraw`).

import { performance } from 'node:perf_hooks';
import { GatewayError, OverloadError, codes } from '../errors.js';
import type { Channel, ChannelOwner, Exchange } from './channel.js';
import type { Worker } from './worker.js';

export interface DispatchOptions {
  /** Requests that may be written ahead per busy channel (0: none). */
  pipeline: number;
  /** Most requests waiting for a channel; more get 503 at once. */
  backlog: number;
  /** Seconds a request may wait for a channel before it gets 503 (0: no limit). */
  queueTimeout: number;
}

/** Seconds a 503 from the queue asks the client to wait (Retry-After). */
export const RETRY_AFTER = 1;

/** A worker taking new requests: its channels with nothing to do (the one freed last on top), and its last lend. */
interface Serving {
  readonly worker: Worker;
  readonly idle: Channel[];
  /** The dispatcher's count of lends at this worker's last one: of two as busy, the one lent longest ago goes first. */
  lentAt: number;
}

export class Dispatcher {
  /**
   * Workers taking new requests, each with its idle channels. Kept per worker, so that a request costs a look
   * at each worker, not at each idle channel: an ASGI worker has --asgi-concurrency of them (at 1000,
   * scanning them all added ~5 us a request).
   */
  private readonly serving = new Map<ChannelOwner, Serving>();
  /** Requests lent so far: each serving worker's `lentAt` is the count at its last one. */
  private lends = 0;
  private readonly queue: Exchange[] = [];
  /** When each queued request was queued (performance.now() ms), parallel to `queue`. */
  private readonly queuedAt: number[] = [];
  private queueHead = 0;
  private refused = 0;

  constructor(private readonly options: DispatchOptions) {}

  /** Run `exchange` on an idle channel now, ahead on a busy one, or when one frees up. */
  submit(exchange: Exchange): void {
    const ch = this.takeIdle() ?? (exchange.pipelinable ? this.takeAhead() : null);
    if (ch) return this.lend(ch, exchange);
    if (this.queued >= this.options.backlog) {
      this.refused++;
      exchange.onLost(overloaded(`${this.queued} requests are already waiting for a worker (--backlog ${this.options.backlog})`));
      return;
    }
    this.queue.push(exchange);
    this.queuedAt.push(performance.now());
  }

  /** A serving worker runs an ASGI app. */
  get asgi(): boolean {
    for (const { worker } of this.serving.values()) if (worker.concurrent) return true;
    return false;
  }

  /** Channels of serving workers with nothing to do. */
  get idleChannels(): number {
    let n = 0;
    for (const { idle } of this.serving.values()) n += idle.length;
    return n;
  }

  /** Requests waiting for a channel. */
  get queued(): number {
    return this.queue.length - this.queueHead;
  }

  /** How long the oldest queued request has waited, ms (0: none waits). */
  oldestWait(now: number): number {
    return this.queueHead < this.queue.length ? now - this.queuedAt[this.queueHead]! : 0;
  }

  /** `w` takes requests from now on: each of its free channels takes one from the queue or goes idle. */
  serve(w: Worker): void {
    if (this.serving.has(w)) return; // its free channels are idle already
    this.serving.set(w, { worker: w, idle: [], lentAt: 0 });
    for (const ch of w.channels) if (ch.exchange === null && !ch.isLost) this.channelOnFree(w, ch);
  }

  /** `w` takes no more requests (retiring, timed out or gone); what it runs goes on. */
  withdraw(w: Worker): void {
    this.serving.delete(w);
  }

  isServing(w: Worker): boolean {
    return this.serving.has(w);
  }

  /** For --health: workers serving, how many of them run a request, requests waiting. */
  health(): { serving: number; busy: number; queued: number } {
    let busy = 0;
    for (const { worker } of this.serving.values()) if (worker.busy > 0) busy++;
    return { serving: this.serving.size, busy, queued: this.queued };
  }

  /** 503 to every request that has waited longer than --queue-timeout. */
  expireQueue(now: number): void {
    const limit = this.options.queueTimeout * 1000;
    if (limit <= 0) return;
    while (this.queueHead < this.queue.length && now - this.queuedAt[this.queueHead]! >= limit) {
      this.refused++;
      this.nextQueued()!.onLost(overloaded(`no worker was free within --queue-timeout ${this.options.queueTimeout}s`));
    }
  }

  /** Requests refused (queue full or waited too long) since the last call. */
  takeRefused(): number {
    const n = this.refused;
    this.refused = 0;
    return n;
  }

  /** Fail everything still queued (the pool stopped without serving them). */
  failQueued(err: GatewayError): void {
    for (let ex = this.nextQueued(); ex !== null; ex = this.nextQueued()) ex.onLost(err);
  }

  /** An idle channel of the least busy serving worker (of two as busy, the one lent a request longest ago). */
  private takeIdle(): Channel | null {
    let best: Serving | null = null;
    for (const s of this.serving.values()) {
      const idle = s.idle;
      // a dying worker's channels stay until it is withdrawn: dropped when met
      while (idle.length > 0 && idle[idle.length - 1]!.isLost) idle.pop();
      if (idle.length === 0) continue;
      const busy = s.worker.busy;
      if (best === null || busy < best.worker.busy || (busy === best.worker.busy && s.lentAt < best.lentAt)) best = s;
    }
    return best === null ? null : best.idle.pop()!;
  }

  /** A busy channel that may take a request ahead (Channel.mayTakeAhead), of the least busy serving worker. */
  private takeAhead(): Channel | null {
    const depth = this.options.pipeline;
    if (depth === 0) return null;
    const now = performance.now();
    let best: Channel | null = null;
    for (const { worker: w } of this.serving.values()) {
      // an ASGI worker's streams never take one ahead (StreamChannel): not looked at, all --asgi-concurrency of them
      if (w.concurrent || (best !== null && w.busy >= best.owner.busy)) continue;
      for (const ch of w.channels) {
        if (ch.mayTakeAhead(depth, now)) {
          best = ch;
          break;
        }
      }
    }
    return best;
  }

  private nextQueued(): Exchange | null {
    if (this.queueHead >= this.queue.length) return null;
    const ex = this.queue[this.queueHead]!;
    this.queue[this.queueHead++] = undefined as unknown as Exchange;
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queuedAt.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    return ex;
  }

  // --- channel events (relayed by the arbiter) ---

  /** Queued requests whose client left are dropped from the head of the queue (a reset HTTP/2 stream costs no worker). */
  private dropAbandoned(): void {
    while (this.queueHead < this.queue.length && this.queue[this.queueHead]!.abandoned === true) {
      this.nextQueued()!.onLost(new GatewayError(codes.CLIENT_GONE, 'the client left before a worker took the request', 499));
    }
  }

  channelOnFree(w: Worker, ch: Channel): void {
    const serving = this.serving.get(w);
    if (serving === undefined) return;
    this.dropAbandoned();
    const ex = this.nextQueued();
    if (ex) this.lend(ch, ex);
    else serving.idle.push(ch);
  }

  /** The running request ended and the next one written ahead took its place: top the channel up from the queue. */
  channelOnAdvance(w: Worker, ch: Channel): void {
    if (!this.serving.has(w)) return;
    const depth = this.options.pipeline;
    const now = performance.now();
    for (;;) {
      this.dropAbandoned();
      if (this.queueHead >= this.queue.length || !this.queue[this.queueHead]!.pipelinable || !ch.mayTakeAhead(depth, now)) break;
      this.lend(ch, this.nextQueued()!);
    }
  }

  /** A request written ahead never started (its worker is gone): first in line again. */
  channelOnOrphan(ex: Exchange): void {
    if (this.queueHead > 0) {
      this.queue[--this.queueHead] = ex;
      this.queuedAt[this.queueHead] = performance.now();
    } else {
      this.queue.unshift(ex);
      this.queuedAt.unshift(performance.now());
    }
    const ch = this.takeIdle();
    if (ch) this.lend(ch, this.nextQueued()!);
  }

  private lend(ch: Channel, exchange: Exchange): void {
    const serving = this.serving.get(ch.owner);
    if (serving !== undefined) serving.lentAt = ++this.lends;
    ch.owner.busy++;
    ch.owner.served++;
    ch.begin(exchange);
  }
}

function overloaded(why: string): OverloadError {
  return new OverloadError(why, RETRY_AFTER);
}
