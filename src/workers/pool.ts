// The pool: spawns the workers, lends idle channels to requests (least busy
// worker first, never a kernel accept race), queues requests when every channel
// is busy, respawns workers that die, and drains them on shutdown.

import { WorkerError, codes } from '../errors.js';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import type { Channel, Exchange } from './channel.js';
import { WorkerProcess, type WorkerOptions } from './worker.js';

export interface PoolOptions extends WorkerOptions {
  workers: number;
  bootTimeout: number; // seconds
  /** When every channel is busy, how many whole requests may be written ahead on one (0: none). */
  pipeline: number;
}

const MAX_BACKOFF_MS = 30_000;

export class Pool {
  readonly workers = new Set<WorkerProcess>();
  private readonly idle: Channel[] = [];
  private readonly queue: Exchange[] = [];
  private queueHead = 0;
  private stopping = false;
  private crashes = 0;
  private readonly respawnTimers = new Set<NodeJS.Timeout>();
  private booting: ((w: WorkerProcess, err: WorkerError | null) => void) | null = null;
  private stopped: (() => void) | null = null;

  constructor(readonly options: PoolOptions, private readonly log: Logger) {}

  /** Spawn every worker and wait until all are ready; on a boot failure, stop and throw it. */
  async start(): Promise<void> {
    let pending = this.options.workers;
    let failure: WorkerError | null = null;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        failure ??= new WorkerError(codes.WORKER_BOOT, `workers were not ready within ${this.options.bootTimeout}s`);
        resolve();
      }, this.options.bootTimeout * 1000);
      this.booting = (_w, err) => {
        if (err) failure ??= err;
        if (--pending === 0 || failure) {
          clearTimeout(timer);
          resolve();
        }
      };
      for (let i = 0; i < this.options.workers; i++) this.spawnWorker();
    });
    this.booting = null;
    if (failure) {
      await this.stop(0);
      throw failure;
    }
  }

  /** Run `exchange` on an idle channel now, or when one frees up. */
  submit(exchange: Exchange): void {
    const ch = this.takeIdle() ?? (exchange.pipelinable ? this.takeAhead() : null);
    if (ch) this.lend(ch, exchange);
    else this.queue.push(exchange);
  }

  /** Requests waiting for a channel. */
  get queued(): number {
    return this.queue.length - this.queueHead;
  }

  /** Drain: workers finish what they have, then exit; after `graceSeconds` they are killed. */
  async stop(graceSeconds: number): Promise<void> {
    this.stopping = true;
    for (const t of this.respawnTimers) clearTimeout(t);
    if (this.workers.size === 0) return;
    const done = new Promise<void>((resolve) => (this.stopped = resolve));
    for (const w of this.workers) w.stop();
    const timer = setTimeout(() => {
      for (const w of this.workers) {
        if (graceSeconds > 0) this.log.warning(`worker ${w.pid} still busy after ${graceSeconds}s, killing it`);
        w.kill('SIGKILL');
      }
    }, graceSeconds * 1000);
    await done;
    clearTimeout(timer);
  }

  private spawnWorker(): void {
    const w = new WorkerProcess(this.options, this);
    this.workers.add(w);
    this.log.debug(`spawned worker ${w.pid}`);
  }

  private takeIdle(): Channel | null {
    const idle = this.idle;
    // a dying worker's channels leave the list when its exit is handled; skip them until then
    for (let i = idle.length - 1; i >= 0; i--) if (idle[i]!.isLost) idle.splice(i, 1);
    if (idle.length === 0) return null;
    // least busy worker first; with one thread per worker every idle channel ties
    let best = 0;
    let bestBusy = idle[0]!.owner.busy;
    for (let i = 1; bestBusy > 0 && i < idle.length; i++) {
      const busy = idle[i]!.owner.busy;
      if (busy < bestBusy) {
        best = i;
        bestBusy = busy;
      }
    }
    const ch = idle[best]!;
    idle[best] = idle[idle.length - 1]!;
    idle.pop();
    return ch;
  }

  /** A busy channel that may take a request ahead (Channel.mayTakeAhead), of the least busy worker. */
  private takeAhead(): Channel | null {
    const depth = this.options.pipeline;
    if (depth === 0) return null;
    const now = performance.now();
    let best: Channel | null = null;
    for (const w of this.workers) {
      if (w.state !== 'ready' || (best !== null && w.busy >= best.owner.busy)) continue;
      for (const ch of w.channels) {
        if (ch.mayTakeAhead(depth, now)) {
          best = ch;
          break;
        }
      }
    }
    return best;
  }

  private lend(ch: Channel, exchange: Exchange): void {
    ch.owner.busy++;
    ch.owner.served++;
    ch.begin(exchange);
  }

  private nextQueued(): Exchange | null {
    if (this.queueHead >= this.queue.length) return null;
    const ex = this.queue[this.queueHead]!;
    this.queue[this.queueHead++] = undefined as unknown as Exchange;
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    return ex;
  }

  // --- hooks from WorkerProcess ---

  workerOnReady(w: WorkerProcess): void {
    this.log.info(`worker ${w.pid} ready (python ${w.python || '?'}, ${w.channels.length} thread${w.channels.length > 1 ? 's' : ''})`);
    this.booting?.(w, null);
    if (this.stopping) {
      w.stop();
      return;
    }
    for (const ch of w.channels) this.channelOnFree(w, ch, true);
  }

  workerOnBootError(w: WorkerProcess, err: WorkerError): void {
    if (this.booting) this.booting(w, err);
    else this.log.error(`worker ${w.pid} failed to boot:\n${err.message}`);
  }

  channelOnFree(w: WorkerProcess, ch: Channel, fresh = false): void {
    if (!fresh && w.busy === 0 && w.state === 'ready') this.crashes = 0;
    if (w.state !== 'ready') return;
    const ex = this.nextQueued();
    if (ex) this.lend(ch, ex);
    else this.idle.push(ch);
  }

  /** The running request ended and the next one written ahead took its place: top the channel up from the queue. */
  channelOnAdvance(w: WorkerProcess, ch: Channel): void {
    if (w.state !== 'ready') return;
    const depth = this.options.pipeline;
    const now = performance.now();
    while (this.queueHead < this.queue.length && this.queue[this.queueHead]!.pipelinable && ch.mayTakeAhead(depth, now)) {
      this.lend(ch, this.nextQueued()!);
    }
  }

  channelOnOrphan(_w: WorkerProcess, ex: Exchange): void {
    // never started: first in line again
    if (this.queueHead > 0) this.queue[--this.queueHead] = ex;
    else this.queue.unshift(ex);
    const ch = this.takeIdle();
    if (ch) this.lend(ch, this.nextQueued()!);
  }

  workerOnBroken(w: WorkerProcess, err: WorkerError): void {
    this.log.error(`worker ${w.pid}: ${err.message}; killing it`);
    w.kill('SIGKILL');
  }

  workerOnExit(w: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void {
    this.workers.delete(w);
    for (let i = this.idle.length - 1; i >= 0; i--) if (this.idle[i]!.owner === w) this.idle.splice(i, 1);
    if (this.booting) {
      this.booting(w, w.failure ?? null);
      return;
    }
    if (this.stopping) {
      this.log.debug(`worker ${w.pid} exited`);
      if (this.workers.size === 0) this.stopped?.();
      return;
    }
    const how = signal ? `signal ${signal}` : `code ${code}`;
    this.crashes++;
    const delay = this.crashes <= 1 ? 0 : Math.min(100 * 2 ** (this.crashes - 2), MAX_BACKOFF_MS);
    this.log.warning(`worker ${w.pid} exited with ${how}; respawning${delay ? ` in ${delay} ms` : ''}`);
    if (delay === 0) this.spawnWorker();
    else {
      const timer = setTimeout(() => {
        this.respawnTimers.delete(timer);
        if (!this.stopping) this.spawnWorker();
      }, delay);
      this.respawnTimers.add(timer);
    }
  }
}
