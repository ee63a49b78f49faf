// Fakes for the arbiter's unit tests: a clock moved by hand, and a spawner whose
// workers and templates do nothing until the test makes them say READY, fail to
// boot, or exit. Only tests import this file.

import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { WorkerError, codes } from '../errors.js';
import { Channel, type Exchange } from './channel.js';
import type { Cancel, Clock } from './clock.js';
import { T, frame } from './frame.js';
import { exitText } from './python.js';
import type { Spawner } from './spawner.js';
import type { Template, TemplateHooks } from './template.js';
import type { Worker, WorkerHooks, WorkerState } from './worker.js';

/** Time moves only when the test says; timers run in order as it passes. */
export class FakeClock implements Clock {
  private t = 10_000;
  private seq = 0;
  private readonly timers = new Set<{ at: number; seq: number; every: number; fn: () => void }>();

  now(): number {
    return this.t;
  }

  after(ms: number, fn: () => void): Cancel {
    return this.add(ms, 0, fn);
  }

  every(ms: number, fn: () => void): Cancel {
    return this.add(ms, ms, fn);
  }

  /** Let `ms` pass, running each timer due meanwhile at its time. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: { at: number; seq: number; every: number; fn: () => void } | null = null;
      for (const timer of this.timers) {
        if (timer.at <= end && (next === null || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq))) next = timer;
      }
      if (next === null) break;
      this.t = next.at;
      if (next.every > 0) {
        next.at += next.every;
        next.seq = this.seq++;
      } else {
        this.timers.delete(next);
      }
      next.fn();
    }
    this.t = end;
  }

  /** Timers not run yet (intervals included). */
  get pending(): number {
    return this.timers.size;
  }

  private add(ms: number, every: number, fn: () => void): Cancel {
    const timer = { at: this.t + Math.max(ms, 0), seq: this.seq++, every, fn };
    this.timers.add(timer);
    return () => {
      this.timers.delete(timer);
    };
  }
}

/** Enough of a socket for a Channel that nobody writes to for real. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  writableLength = 0;
  write(): boolean {
    return true;
  }
  cork(): void {}
  uncork(): void {}
  destroy(): void {
    this.destroyed = true;
  }
  pause(): void {}
  resume(): void {}
  isPaused(): boolean {
    return false;
  }
}

let nextPid = 1000;

/** A process that does what the test says: `ready()`, `bootError()`, `exit()`. */
abstract class FakeProcess {
  pid = nextPid++;
  state: WorkerState = 'booting';
  python = '';
  failure: WorkerError | null = null;
  /** Signals sent to it, in order. */
  readonly signals: NodeJS.Signals[] = [];
  /** It was told to stop (STOP). */
  stopped = false;
  rssMiB = 20;

  stop(): void {
    if (this.state === 'exited') return;
    this.state = 'stopping';
    this.stopped = true;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.state !== 'exited') this.signals.push(signal);
  }

  rss(): number {
    return this.rssMiB;
  }

  /** Killed with SIGKILL and not yet reported gone. */
  get doomed(): boolean {
    return this.state !== 'exited' && this.signals.includes('SIGKILL');
  }

  /** It says READY (a worker told to stop while it booted says it too, and stays stopping). */
  ready(): void {
    this.python = '3.12.0';
    if (this.state === 'booting') this.state = 'ready';
    this.onReady();
  }

  bootError(message: string): void {
    this.failure = new WorkerError(codes.WORKER_BOOT, message);
    this.onBootError(this.failure);
  }

  exit(code: number | null = 0, signal: NodeJS.Signals | null = null): void {
    if (this.state === 'exited') return;
    const wasBooting = this.state === 'booting';
    this.state = 'exited';
    if (wasBooting && !this.failure) {
      this.failure = new WorkerError(codes.WORKER_BOOT, `${this.pid} exited with ${exitText(code, signal)} before it was ready`);
    }
    this.onExit(code, signal);
  }

  protected abstract onReady(): void;
  protected abstract onBootError(err: WorkerError): void;
  protected abstract onExit(code: number | null, signal: NodeJS.Signals | null): void;
}

export class FakeWorker extends FakeProcess implements Worker {
  readonly channels: Channel[] = [];
  readonly concurrent = false;
  readonly serves = '1 thread';
  busy = 0;
  served = 0;
  /** Forked: the template that forked it (null until then, and for a spawned worker). */
  forkedBy: FakeTemplate | null = null;

  constructor(
    private readonly hooks: WorkerHooks,
    threads: number,
    readonly forked: boolean,
  ) {
    super();
    for (let i = 0; i < threads; i++) {
      const rx = new FakeSocket();
      this.rx.push(rx);
      this.channels.push(new Channel(new FakeSocket() as unknown as Socket, rx as unknown as Socket, this, i));
    }
    if (forked) this.pid = -1;
  }

  /** Each channel's response socket, where the test sends frames as the worker would. */
  private readonly rx: FakeSocket[] = [];

  /** It answers the request running on channel `i` whole (one RESPONSE frame with the complete flag). */
  answer(status: string, body = '', i = 0): void {
    const head = Buffer.from(`${status}\0`, 'latin1');
    const size = Buffer.alloc(4);
    size.writeUInt32LE(head.length);
    this.rx[i]!.emit('data', frame(T.RESPONSE, Buffer.concat([Buffer.of(1), size, head, Buffer.from(body)])));
  }

  reap(): void {}

  /** The requests running on it. */
  get running(): Exchange[] {
    return this.channels.flatMap((ch) => (ch.exchange ? [ch.exchange] : []));
  }

  /** Finish the request running on each busy channel (the next one written ahead takes its place). */
  finish(): void {
    for (const ch of this.channels) if (ch.exchange) ch.free();
  }

  protected onReady(): void {
    this.hooks.workerOnReady(this);
  }
  protected onBootError(err: WorkerError): void {
    this.hooks.workerOnBootError(this, err);
  }
  protected onExit(code: number | null, signal: NodeJS.Signals | null): void {
    const err = new WorkerError(codes.WORKER_DIED, `worker ${this.pid} exited with ${exitText(code, signal)}`, 502);
    for (const ch of this.channels) ch.lose(err);
    this.hooks.workerOnExit(this, code, signal);
  }

  /** It breaks the protocol. */
  breaks(message: string): void {
    this.hooks.workerOnBroken(this, new WorkerError(codes.WORKER_PROTOCOL, message, 502));
  }

  channelOnFree(ch: Channel): void {
    this.busy--;
    this.hooks.channelOnFree(this, ch);
  }
  channelOnAdvance(ch: Channel): void {
    this.busy--;
    this.hooks.channelOnAdvance(this, ch);
  }
  channelOnOrphan(ex: Exchange): void {
    this.busy--;
    this.served--;
    this.hooks.channelOnOrphan(this, ex);
  }
  channelOnBroken(_ch: Channel, err: WorkerError): void {
    this.hooks.workerOnBroken(this, err);
  }
}

export class FakeTemplate extends FakeProcess implements Template {
  /** The workers it was told to fork, in order. */
  readonly forks: FakeWorker[] = [];

  constructor(private readonly hooks: TemplateHooks) {
    super();
  }

  fork(w: Worker): void {
    const fake = w as FakeWorker;
    fake.pid = nextPid++;
    fake.forkedBy = this;
    this.forks.push(fake);
  }

  protected onReady(): void {
    if (this.state === 'ready') this.hooks.templateOnReady(this);
  }
  protected onBootError(err: WorkerError): void {
    this.hooks.templateOnBootError(this, err);
  }
  protected onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.hooks.templateOnExit(this, code, signal);
  }
}

/** Makes fakes, and keeps every one it made, in order. */
export class FakeSpawner implements Spawner {
  readonly workers: FakeWorker[] = [];
  readonly templates: FakeTemplate[] = [];
  opened = false;
  closed = false;

  constructor(private readonly threads = 1) {}

  async open(): Promise<void> {
    this.opened = true;
  }

  worker(hooks: WorkerHooks): Worker {
    const w = new FakeWorker(hooks, this.threads, false);
    this.workers.push(w);
    return w;
  }

  forked(hooks: WorkerHooks): Worker {
    const w = new FakeWorker(hooks, this.threads, true);
    this.workers.push(w);
    return w;
  }

  template(hooks: TemplateHooks): Template {
    const t = new FakeTemplate(hooks);
    this.templates.push(t);
    return t;
  }

  close(): void {
    this.closed = true;
  }

  /** Every process killed with SIGKILL exits now (the kernel's part). */
  deliverKills(): void {
    for (const p of [...this.templates, ...this.workers]) if (p.doomed) p.exit(null, 'SIGKILL');
  }

  /** Workers not exited, in spawn order. */
  get alive(): FakeWorker[] {
    return this.workers.filter((w) => w.state !== 'exited');
  }

  /** The workers spawned after the first `n`. */
  since(n: number): FakeWorker[] {
    return this.workers.slice(n);
  }
}
