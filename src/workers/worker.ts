// One Python worker process: spawned with a control channel (fd 3) and one
// request channel per thread (two sockets each, fds 4..), booted until READY,
// then lent out channel by channel by the pool. Or, with --preload, the
// stand-in for a worker its template forks, whose sockets connect back through
// the ForkServer. It knows processes and channels, not HTTP, and nothing of
// the pool's bookkeeping (generation, recycling, deadlines: the arbiter's).

import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { WorkerError, codes } from '../errors.js';
import { Channel, type ChannelOwner, type Exchange } from './channel.js';
import { FrameReader, T, frame } from './frame.js';
import { exitText, procStat, readyInfo, rssMiB, spawnPython, type ReadyInfo, type WorkerOptions } from './python.js';
import { StreamChannel, StreamMux } from './streams.js';

export { WORKER_PY, exitText, type WorkerOptions } from './python.js';

export type WorkerState = 'booting' | 'ready' | 'stopping' | 'exited';

/** The template that forked a worker (template.ts's TemplateProcess), as far as the worker looks: whether it has exited. */
interface ForkParent {
  readonly state: WorkerState;
}

/**
 * A worker as the arbiter and the dispatcher see it: a WorkerProcess, or a fake
 * in unit tests. It tells what happens to it through its WorkerHooks.
 */
export interface Worker extends ChannelOwner {
  /** -1 while unknown (a forked worker before its template says it). */
  readonly pid: number;
  readonly channels: readonly Channel[];
  readonly state: WorkerState;
  /** The interpreter's version, once it said READY. */
  readonly python: string;
  /** It runs an ASGI app: its channels are the streams of one event loop (known once it said READY). */
  readonly concurrent: boolean;
  /** How it serves, for log lines: `1 thread`, `asgi on uvloop, 100 streams`. */
  readonly serves: string;
  /** Why it failed to boot, if it did. */
  readonly failure: WorkerError | null;
  /** Finish what was dispatched to it, then exit (STOP); lend it nothing from now on. */
  stop(): void;
  kill(signal?: NodeJS.Signals): void;
  /** Resident memory in MiB (0: unknown). */
  rss(): number;
  /** Notice an exit that nobody reports (a forked worker whose template is gone); at every tick. */
  reap(): void;
}

export interface WorkerHooks {
  workerOnReady(w: Worker): void;
  workerOnBootError(w: Worker, err: WorkerError): void;
  workerOnExit(w: Worker, code: number | null, signal: NodeJS.Signals | null): void;
  channelOnFree(w: Worker, ch: Channel): void;
  channelOnAdvance(w: Worker, ch: Channel): void;
  channelOnOrphan(w: Worker, ex: Exchange): void;
  /** It broke the protocol, or closed a channel it still owed (reported once); it must be killed. */
  workerOnBroken(w: Worker, err: WorkerError): void;
}

export class WorkerProcess implements Worker {
  /** -1 until a forked worker's template reports it. */
  pid: number;
  /** Forked: when it started (/proc/PID/stat), so a reused pid is not taken for it ('': unknown). */
  private startTime = '';
  /** Forked: the template that forked it, which reports its exit while it runs. */
  private parent: ForkParent | null = null;
  readonly channels: Channel[] = [];
  state: WorkerState = 'booting';
  /** Requests taken since spawn. */
  served = 0;
  /** It broke the protocol, or closed a channel while it ran (and is being killed): reported once. */
  private broken = false;
  /** Channels lent out right now. */
  busy = 0;
  python = '';
  concurrent = false;
  serves = '';
  /** Its request channels' sockets (to requests, from responses), made into channels when it says READY. */
  private pairs: [Socket, Socket][] = [];
  /** An ASGI worker's streams. */
  private mux: StreamMux | null = null;
  /** The spawned process; null for a worker forked by a --preload template. */
  readonly proc: ChildProcess | null;
  private control: Socket | null = null;
  private bootError: WorkerError | null = null;
  /** It said READY (once). */
  private readySeen = false;
  /** STOP is sent, or will be once its channels are flushed. */
  private stopAsked = false;
  /** Forked: the sockets announced so far (control, then requests in and out per thread). */
  private arrived: { tx: (Socket | undefined)[]; rx: (Socket | undefined)[]; missing: number } | null = null;
  /** Forked: READY came before every socket had been announced. */
  private readyEarly: Buffer | null = null;

  /**
   * Spawn a worker, or, with `forked`, stand for a worker that a --preload template forks
   * (TemplateProcess.fork): its sockets come through `attach`.
   */
  constructor(
    readonly options: WorkerOptions,
    private readonly hooks: WorkerHooks,
    how: { forked?: boolean } = {},
  ) {
    const t = options.threads;
    if (how.forked) {
      this.proc = null;
      this.pid = -1;
      this.arrived = { tx: new Array(t), rx: new Array(t), missing: 1 + 2 * t };
      return;
    }
    // fd 3: control; per thread i: requests on fd 4+i, responses on fd 4+T+i (see Channel)
    const proc = spawnPython(options, [], 2 * t);
    this.proc = proc;
    this.pid = proc.pid ?? -1;
    for (let i = 0; i < t; i++) this.pairs.push([proc.stdio[4 + i] as Socket, proc.stdio[4 + t + i] as Socket]);
    this.listenControl(proc.stdio[3] as Socket);
    proc.on('error', (err) => {
      // spawn failed (interpreter not found, not executable): no 'exit' will follow
      this.bootError ??= new WorkerError(codes.WORKER_BOOT, `cannot start ${options.python}: ${err.message}`);
      if (proc.pid === undefined) this.procOnExit(null, null);
    });
    proc.on('exit', (code, signal) => this.procOnExit(code, signal));
  }

  private listenControl(control: Socket): void {
    this.control = control;
    const reader = new FrameReader((type, payload) => this.controlOnFrame(type, payload));
    control.on('data', (chunk: Buffer) => {
      try {
        reader.receive(chunk);
      } catch (err) {
        this.broke(err as WorkerError);
      }
    });
    control.on('error', () => {});
    if (this.proc === null) control.on('close', () => this.controlOnClose());
  }

  /**
   * Forked: its control channel closed. Not how we learn of its exit (a process the app forked
   * may hold the channel open long after): its template reports that, or the arbiter's tick looks
   * once the template is gone. But a worker that runs on without it is broken.
   */
  private controlOnClose(): void {
    if (this.state === 'exited') return;
    if (this.running()) {
      this.broke(new WorkerError(codes.WORKER_PROTOCOL, 'closed its control channel', 502));
    } else if (this.parent === null || this.parent.state === 'exited') {
      this.procOnExit(null, null);
    }
  }

  rss(): number {
    return this.pid > 0 ? rssMiB(this.pid) : 0;
  }

  /** Forked, and its template is gone: nobody reports its exit now, so look (the arbiter's tick). */
  reap(): void {
    if (this.proc === null && this.pid > 0 && this.state !== 'exited' && this.parent?.state === 'exited' && !this.running()) {
      this.procOnExit(null, null);
    }
  }

  /** Forked: one of its sockets was announced (role 0 control, 1 requests in, 2 responses out). */
  attach(role: number, index: number, sock: Socket): boolean {
    const a = this.arrived;
    if (a === null || this.state === 'exited' || index >= this.options.threads) return false;
    if (role === 0 && this.control === null) {
      this.listenControl(sock);
      sock.resume();
    } else if (role === 1 && a.tx[index] === undefined) a.tx[index] = sock;
    else if (role === 2 && a.rx[index] === undefined) a.rx[index] = sock;
    else return false;
    if (--a.missing > 0) return true;
    for (let i = 0; i < this.options.threads; i++) this.pairs.push([a.tx[i]!, a.rx[i]!]);
    this.arrived = null;
    const ready = this.readyEarly;
    this.readyEarly = null;
    if (ready) this.controlOnFrame(T.READY, ready);
    return true;
  }

  /** Forked: the template told us our pid (and when we started). */
  forkedAs(pid: number, startTime: string, parent: ForkParent): void {
    this.pid = pid;
    this.startTime = startTime;
    this.parent = parent;
    if (this.state === 'stopping' && this.control === null) this.kill('SIGTERM');
  }

  private controlOnFrame(type: number, payload: Buffer): void {
    if (type === T.READY && this.arrived !== null) {
      this.readyEarly = Buffer.from(payload);
    } else if (type === T.READY && !this.readySeen && (this.state === 'booting' || this.state === 'stopping')) {
      // stopping: told to stop while it booted (a replacement that a reload overtook); it has STOP
      // and exits once ready, so its READY is no protocol error
      this.readySeen = true;
      this.makeChannels(readyInfo(payload));
      if (this.state === 'booting') this.state = 'ready';
      this.hooks.workerOnReady(this);
    } else if (type === T.BOOT_ERROR) {
      this.bootError = new WorkerError(codes.WORKER_BOOT, payload.toString('utf8').trimEnd());
      this.hooks.workerOnBootError(this, this.bootError);
    } else {
      this.broke(new WorkerError(codes.WORKER_PROTOCOL, `unexpected control frame 0x${type.toString(16)}`, 502));
    }
  }

  /**
   * Its channels, now that it said how it serves: a WSGI worker's threads each have one; an ASGI
   * worker's streams share channel 0 (StreamMux), and the others (--threads above 1) are closed.
   */
  private makeChannels(info: ReadyInfo): void {
    this.python = info.python;
    const pairs = this.pairs;
    this.pairs = [];
    if (info.interface === 'asgi' && pairs.length > 0) {
      const [tx, rx] = pairs[0]!;
      for (const [t, r] of pairs.slice(1)) t.destroy(), r.destroy();
      this.mux = new StreamMux(tx, rx, this, info.streams);
      this.channels.push(...this.mux.channels);
      this.concurrent = true;
      const streams = `${info.streams} stream${info.streams > 1 ? 's' : ''}`;
      this.serves = `asgi on ${info.loop || 'asyncio'}, ${streams}, lifespan ${info.lifespan || '?'}`;
      rx.resume();
      return;
    }
    pairs.forEach(([tx, rx], i) => {
      this.channels.push(new Channel(tx, rx, this, i));
      rx.resume();
    });
    this.serves = `${pairs.length} thread${pairs.length > 1 ? 's' : ''}`;
  }

  /** The process ended: its 'exit' event, or its template's report (forked). */
  procOnExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.state === 'exited') return;
    const wasBooting = this.state === 'booting';
    this.state = 'exited';
    const how = exitText(code, signal);
    const err = new WorkerError(codes.WORKER_DIED, `worker ${this.pid} exited with ${how}`, 502);
    for (const ch of this.channels) ch.lose(err);
    this.mux?.close();
    for (const [tx, rx] of this.pairs) tx.destroy(), rx.destroy();
    this.control?.destroy();
    if (this.arrived) for (const sock of [...this.arrived.tx, ...this.arrived.rx]) sock?.destroy();
    if (wasBooting && !this.bootError) {
      this.bootError = new WorkerError(codes.WORKER_BOOT, `worker ${this.pid} exited with ${how} before it was ready`);
    }
    this.hooks.workerOnExit(this, code, signal);
  }

  /**
   * Whether the process still runs (a zombie does not); for a forked worker, the very process its
   * template forked, not another that got its pid since. Without /proc, whether the pid exists.
   */
  private running(): boolean {
    if (this.pid <= 0) return false;
    const st = procStat(this.pid);
    if (st !== null) return st.state !== 'Z' && st.state !== 'X' && (this.startTime === '' || st.start === this.startTime);
    if (existsSync('/proc/self/stat')) return false;
    try {
      process.kill(this.pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  /** Why it failed to boot, if it did. */
  get failure(): WorkerError | null {
    return this.bootError;
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
    this.broke(err);
  }

  /** It broke the protocol: reported once (it is killed then), however much more it sends. */
  private broke(err: WorkerError): void {
    if (this.broken) return;
    this.broken = true;
    this.hooks.workerOnBroken(this, err);
  }

  channelOnClosed(ch: Channel): void {
    const mux = ch instanceof StreamChannel ? this.mux : null;
    if (mux !== null) {
      if (this.state === 'stopping' && mux.idle) return mux.close(); // every stream done after STOP (and lifespan shutdown)
    } else if (this.state === 'stopping' && ch.exchange === null && ch.ahead.length === 0) return ch.close(); // done after STOP
    // it closed a channel it still owes us (say, an app that closed every descriptor): if it still
    // runs, it is broken, and its request must not wait for --timeout; if it is gone, its exit is reported
    if (this.state === 'exited' || !this.running()) return;
    const what = ch.exchange ? ` with ${ch.exchange.describe()} in flight` : '';
    const lost = new WorkerError(codes.WORKER_DIED, `worker ${this.pid} closed its request channel`, 502);
    for (const c of mux !== null ? this.channels : [ch]) c.lose(lost);
    this.broke(new WorkerError(codes.WORKER_PROTOCOL, `closed its request channel${what}`, 502));
  }

  /**
   * Finish what is in flight (every request dispatched to it, those written ahead included), then
   * exit. It is given no request from now on. STOP goes once every request dispatched to it is in
   * its channel: a thread that ends a request after STOP and finds nothing waiting ends its
   * channel, so a request still in the gateway's write buffer (behind an inline body larger than
   * the socket buffer, say) would arrive too late and fail.
   */
  stop(): void {
    if (this.state === 'exited') return;
    this.state = 'stopping';
    if (this.control === null) {
      if (this.pid > 0) this.kill('SIGTERM'); // forked and not connected yet: it runs nothing
      return;
    }
    if (this.stopAsked) return;
    this.stopAsked = true;
    let waiting = this.channels.length + 1;
    const flushed = (): void => {
      if (--waiting > 0 || this.state === 'exited' || this.control === null || this.control.destroyed) return;
      this.control.write(frame(T.STOP));
    };
    for (const ch of this.channels) ch.whenFlushed(flushed);
    flushed();
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.state === 'exited') return;
    if (this.proc === null) {
      // forked: not our child, so signalled only while it is the process its template forked
      // (Node has no pidfd); one found gone is taken as exited, and never signalled again
      if (this.pid > 0 && !this.running()) return this.procOnExit(null, null);
      try {
        if (this.pid > 0) process.kill(this.pid, signal);
      } catch {
        // already gone
      }
      if (this.control === null && signal === 'SIGKILL') this.procOnExit(null, signal);
      return;
    }
    try {
      this.proc.kill(signal);
    } catch {
      // already gone
    }
  }
}
