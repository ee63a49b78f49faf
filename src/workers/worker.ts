// One Python worker process: spawned with a control channel (fd 3) and one
// request channel per thread (two sockets each, fds 4..), booted until READY,
// then lent out channel by channel by the pool. It knows processes and
// channels, not HTTP.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { constants as osConstants, homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WorkerError, codes } from '../errors.js';
import { Channel, type ChannelOwner, type Exchange } from './channel.js';
import { FrameReader, T, frame } from './frame.js';

export const WORKER_PY = fileURLToPath(new URL('../../../python/worker.py', import.meta.url));

/**
 * How the interpreter starts a worker: `python -c BOOT WORKER_PY CACHE APP_SPEC ...`
 * imports worker.py as a module, so its bytecode is read from a cache instead
 * of compiled at every spawn (compiling it leaves ~1.9 MiB more in each
 * worker's RSS, and costs every spawn the compile time). The cache is warpipe's
 * own directory, written even under PYTHONDONTWRITEBYTECODE, and used for
 * worker.py alone: both settings are restored before its code runs (and so
 * before it imports anything, the app included).
 * Without a usable cache (CACHE empty) the worker is compiled in memory.
 */
const BOOT = [
  'import sys, importlib.util as u',
  'p, c = sys.argv[1:3]; del sys.argv[1:3]',
  's = sys.dont_write_bytecode, sys.pycache_prefix',
  'if c: sys.dont_write_bytecode, sys.pycache_prefix = False, c',
  'spec = u.spec_from_file_location("_warpipe_worker", p); m = sys.modules[spec.name] = u.module_from_spec(spec)',
  'try: code = spec.loader.get_code(spec.name)',
  'finally: sys.dont_write_bytecode, sys.pycache_prefix = s',
  'exec(code, m.__dict__); m.main(sys.argv[1:])',
].join('\n');

let cacheDir: string | undefined;

/** `$XDG_CACHE_HOME/warpipe/pycache` (or ~/.cache/...), made private; '' when it cannot be used. */
function bytecodeCache(): string {
  if (cacheDir !== undefined) return cacheDir;
  cacheDir = '';
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const dir = join(base, 'warpipe', 'pycache');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    // bytecode that someone else can write would be their code running in our workers
    if (st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0) cacheDir = dir;
  } catch {
    // no cache: each worker compiles worker.py itself
  }
  return cacheDir;
}

export interface WorkerOptions {
  python: string;
  app: string;
  threads: number;
  validate: boolean;
  cwd: string | undefined;
  env: NodeJS.ProcessEnv;
  /**
   * Where the worker's own stdout and stderr go (print(), a crash, the stacks
   * dumped before a --timeout kill): whole lines, through a pipe, so a --log-file
   * reopened after rotation takes them too. Unset: inherited from the gateway.
   */
  output?: (text: string) => void;
}

/** Pass on what `stream` carries in whole lines (a line longer than 64 KiB is passed on in pieces). */
function forwardLines(stream: Readable, put: (text: string) => void): void {
  let tail = '';
  stream.setEncoding('utf8');
  stream.on('data', (text: string) => {
    const all = tail + text;
    const nl = all.lastIndexOf('\n');
    if (nl < 0 && all.length < 65536) {
      tail = all;
      return;
    }
    tail = nl < 0 ? '' : all.slice(nl + 1);
    put(nl < 0 ? all + '\n' : all.slice(0, nl + 1));
  });
  stream.on('end', () => {
    if (tail !== '') put(tail + '\n');
  });
}

export type WorkerState = 'booting' | 'ready' | 'stopping' | 'exited';

export interface WorkerHooks {
  workerOnReady(w: WorkerProcess): void;
  workerOnBootError(w: WorkerProcess, err: WorkerError): void;
  workerOnExit(w: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void;
  channelOnFree(w: WorkerProcess, ch: Channel): void;
  channelOnAdvance(w: WorkerProcess, ch: Channel): void;
  channelOnOrphan(w: WorkerProcess, ex: Exchange): void;
  workerOnBroken(w: WorkerProcess, err: WorkerError): void;
}

let nextAge = 1;

/** SIGKILL for 9, and so on (null for a number Node does not name). */
function signalName(n: number): NodeJS.Signals | null {
  for (const [name, value] of Object.entries(osConstants.signals)) if (value === n) return name as NodeJS.Signals;
  return null;
}

/** A process's state letter and start time (clock ticks after boot), from /proc; null if it is gone. */
export function procStat(pid: number): { state: string; start: string } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', start: fields[19] ?? '' };
  } catch {
    return null;
  }
}

/** How a worker ended, for log lines: a forked worker's status is not ours to collect. */
export function exitText(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : code !== null ? `code ${code}` : 'an unknown status (forked)';
}

export class WorkerProcess implements ChannelOwner {
  readonly age = nextAge++;
  /** -1 until a forked worker's template reports it. */
  pid: number;
  /** Forked: when it started (/proc/PID/stat), so a reused pid is not taken for it ('': unknown). */
  private startTime = '';
  /** Forked: the template that forked it, which reports its exit while it runs. */
  private parent: WorkerProcess | null = null;
  readonly channels: Channel[] = [];
  readonly spawnedAt = Date.now();
  state: WorkerState = 'booting';
  /** Which reload made it (the arbiter's count). */
  generation = 0;
  /** Why it is being replaced (max-requests, max-rss, max-lifetime, reload, timeout), once it is. */
  retiring: string | null = null;
  /** It stops taking requests after this many (--max-requests plus its jitter; Infinity: never). */
  requestLimit = Infinity;
  /** When it is to be killed, Date.now() ms (0: not doomed). */
  killAt = 0;
  /** Since when it has had no request, Date.now() ms (kept by the arbiter's tick). */
  idleSince = 0;
  /** Requests taken since spawn. */
  served = 0;
  /** It broke the protocol, or closed a channel while it ran (and is being killed): reported once. */
  private broken = false;
  /** Channels lent out right now. */
  busy = 0;
  python = '';
  /** The spawned process; null for a worker forked by a --preload template. */
  readonly proc: ChildProcess | null;
  /** A --preload template: it imports the app and forks workers, serves nothing itself. */
  readonly isTemplate: boolean;
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
  /** Template: forked workers by id, until they are announced. */
  private readonly forks = new Map<number, WorkerProcess>();
  /** Template: the workers it forked, by pid, until it reports their exit. */
  private readonly children = new Map<number, WorkerProcess>();

  /**
   * Spawn a worker (or, with `preload` set to the fork socket's path, a template), or, with
   * `forked`, stand for a worker that a template forks: its sockets come through `attach`.
   */
  constructor(
    readonly options: WorkerOptions,
    private readonly hooks: WorkerHooks,
    how: { preload?: string; forked?: boolean } = {},
  ) {
    this.isTemplate = how.preload !== undefined;
    const t = options.threads;
    if (how.forked) {
      this.proc = null;
      this.pid = -1;
      this.arrived = { tx: new Array(t), rx: new Array(t), missing: 1 + 2 * t };
      return;
    }
    const args = ['-c', BOOT, WORKER_PY, bytecodeCache(), options.app, '--threads', String(t)];
    if (options.validate) args.push('--validate');
    if (how.preload !== undefined) args.push('--preload', how.preload);
    // fd 3: control; per thread i: requests on fd 4+i, responses on fd 4+T+i (see Channel)
    const out = options.output ? 'pipe' : 'inherit';
    const stdio: ('ignore' | 'inherit' | 'pipe')[] = ['ignore', out, out, 'pipe'];
    if (!this.isTemplate) for (let i = 0; i < 2 * t; i++) stdio.push('pipe');
    const proc = spawn(options.python, args, { cwd: options.cwd, env: options.env, stdio, detached: true });
    this.proc = proc;
    this.pid = proc.pid ?? -1;
    if (!this.isTemplate) {
      for (let i = 0; i < t; i++) this.channels.push(new Channel(proc.stdio[4 + i] as Socket, proc.stdio[4 + t + i] as Socket, this, i));
    }
    this.listenControl(proc.stdio[3] as Socket);
    if (options.output) {
      forwardLines(proc.stdout!, options.output);
      forwardLines(proc.stderr!, options.output);
    }
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

  /** Forked, and its template is gone: nobody reports its exit now, so look (the arbiter's tick). */
  watch(): void {
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
    for (let i = 0; i < this.options.threads; i++) {
      this.channels.push(new Channel(a.tx[i]!, a.rx[i]!, this, i));
      a.rx[i]!.resume();
    }
    this.arrived = null;
    const ready = this.readyEarly;
    this.readyEarly = null;
    if (ready) this.controlOnFrame(T.READY, ready);
    return true;
  }

  /** Forked: the template told us our pid (and when we started). */
  forkedAs(pid: number, startTime: string, parent: WorkerProcess): void {
    this.pid = pid;
    this.startTime = startTime;
    this.parent = parent;
    if (this.state === 'stopping' && this.control === null) this.kill('SIGTERM');
  }

  /** Template: fork `w` (id `id`); its sockets will carry `token`. */
  fork(w: WorkerProcess, id: number, token: Buffer): void {
    this.forks.set(id, w);
    const payload = Buffer.alloc(4 + token.length);
    payload.writeUInt32LE(id, 0);
    token.copy(payload, 4);
    this.control!.write(frame(T.FORK, payload));
  }

  private controlOnFrame(type: number, payload: Buffer): void {
    if (type === T.READY && this.arrived !== null) {
      this.readyEarly = Buffer.from(payload);
    } else if (type === T.FORKED && this.isTemplate && payload.length === 16) {
      const w = this.forks.get(payload.readUInt32LE(0));
      this.forks.delete(payload.readUInt32LE(0));
      const pid = payload.readUInt32LE(4);
      const start = payload.readBigUInt64LE(8);
      if (w) this.children.set(pid, w);
      w?.forkedAs(pid, start === 0n ? '' : String(start), this);
    } else if (type === T.EXITED && this.isTemplate && payload.length === 8) {
      const pid = payload.readUInt32LE(0);
      const code = payload.readInt32LE(4);
      const w = this.children.get(pid);
      this.children.delete(pid);
      w?.procOnExit(code >= 0 ? code : null, code < 0 ? signalName(-code) : null);
    } else if (type === T.READY && !this.readySeen && (this.state === 'booting' || this.state === 'stopping')) {
      // stopping: told to stop while it booted (a replacement that a reload overtook); it has STOP
      // and exits once ready, so its READY is no protocol error
      this.readySeen = true;
      try {
        this.python = String((JSON.parse(payload.toString('utf8')) as { python?: string }).python ?? '');
      } catch {
        // the version is informative only
      }
      if (this.state === 'booting') this.state = 'ready';
      else if (this.isTemplate) return;
      this.hooks.workerOnReady(this);
    } else if (type === T.BOOT_ERROR) {
      this.bootError = new WorkerError(codes.WORKER_BOOT, payload.toString('utf8').trimEnd());
      this.hooks.workerOnBootError(this, this.bootError);
    } else {
      this.broke(new WorkerError(codes.WORKER_PROTOCOL, `unexpected control frame 0x${type.toString(16)}`, 502));
    }
  }

  private procOnExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.state === 'exited') return;
    const wasBooting = this.state === 'booting';
    this.state = 'exited';
    const how = exitText(code, signal);
    const err = new WorkerError(codes.WORKER_DIED, `worker ${this.pid} exited with ${how}`, 502);
    for (const ch of this.channels) ch.lose(err);
    this.control?.destroy();
    if (this.arrived) for (const sock of [...this.arrived.tx, ...this.arrived.rx]) sock?.destroy();
    if (wasBooting && !this.bootError) {
      this.bootError = new WorkerError(codes.WORKER_BOOT, `worker ${this.pid} exited with ${how} before it was ready`);
    }
    this.hooks.workerOnExit(this, code, signal);
    // a template: the workers it forked whose exit it did not report. One that ended while its
    // template ran (a zombie it never reaped: a template told to STOP exits without reaping) has
    // closed its control channel already, which said nothing then; nothing else would say it now
    for (const w of this.children.values()) w.watch();
    this.children.clear();
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
    if (this.state === 'stopping' && ch.exchange === null && ch.ahead.length === 0) return ch.close(); // done after STOP
    // it closed a channel it still owes us (say, an app that closed every descriptor): if it still
    // runs, it is broken, and its request must not wait for --timeout; if it is gone, its exit is reported
    if (this.state === 'exited' || !this.running()) return;
    const what = ch.exchange ? ` with ${ch.exchange.describe()} in flight` : '';
    ch.lose(new WorkerError(codes.WORKER_DIED, `worker ${this.pid} closed its request channel`, 502));
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
