// One Python worker process: spawned with a control channel (fd 3) and one
// request channel per thread (two sockets each, fds 4..), booted until READY,
// then lent out channel by channel by the pool. It knows processes and
// channels, not HTTP.

import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, mkdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import { homedir } from 'node:os';
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

export class WorkerProcess implements ChannelOwner {
  readonly age = nextAge++;
  readonly proc: ChildProcess;
  readonly pid: number;
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
  /** Channels lent out right now. */
  busy = 0;
  python = '';
  private readonly control: Socket;
  private bootError: WorkerError | null = null;

  constructor(readonly options: WorkerOptions, private readonly hooks: WorkerHooks) {
    const args = ['-c', BOOT, WORKER_PY, bytecodeCache(), options.app, '--threads', String(options.threads)];
    if (options.validate) args.push('--validate');
    // fd 3: control; per thread i: requests on fd 4+i, responses on fd 4+T+i (see Channel)
    const t = options.threads;
    const stdio: ('ignore' | 'inherit' | 'pipe')[] = ['ignore', 'inherit', 'inherit', 'pipe'];
    for (let i = 0; i < 2 * t; i++) stdio.push('pipe');
    this.proc = spawn(options.python, args, { cwd: options.cwd, env: options.env, stdio, detached: true });
    this.pid = this.proc.pid ?? -1;
    this.control = this.proc.stdio[3] as Socket;
    for (let i = 0; i < t; i++) {
      this.channels.push(new Channel(this.proc.stdio[4 + i] as Socket, this.proc.stdio[4 + t + i] as Socket, this, i));
    }
    const reader = new FrameReader((type, payload) => this.controlOnFrame(type, payload));
    this.control.on('data', (chunk: Buffer) => {
      try {
        reader.receive(chunk);
      } catch (err) {
        this.hooks.workerOnBroken(this, err as WorkerError);
      }
    });
    this.control.on('error', () => {});
    this.proc.on('error', (err) => {
      // spawn failed (interpreter not found, not executable): no 'exit' will follow
      this.bootError ??= new WorkerError(codes.WORKER_BOOT, `cannot start ${options.python}: ${err.message}`);
      if (this.proc.pid === undefined) this.procOnExit(null, null);
    });
    this.proc.on('exit', (code, signal) => this.procOnExit(code, signal));
  }

  private controlOnFrame(type: number, payload: Buffer): void {
    if (type === T.READY && this.state === 'booting') {
      try {
        this.python = String((JSON.parse(payload.toString('utf8')) as { python?: string }).python ?? '');
      } catch {
        // the version is informative only
      }
      this.state = 'ready';
      this.hooks.workerOnReady(this);
    } else if (type === T.BOOT_ERROR) {
      this.bootError = new WorkerError(codes.WORKER_BOOT, payload.toString('utf8').trimEnd());
      this.hooks.workerOnBootError(this, this.bootError);
    } else {
      this.hooks.workerOnBroken(this, new WorkerError(codes.WORKER_PROTOCOL, `unexpected control frame 0x${type.toString(16)}`, 502));
    }
  }

  private procOnExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.state === 'exited') return;
    const wasBooting = this.state === 'booting';
    this.state = 'exited';
    const how = signal ? `signal ${signal}` : `code ${code}`;
    const err = new WorkerError(codes.WORKER_DIED, `worker ${this.pid} exited with ${how}`, 502);
    for (const ch of this.channels) ch.lose(err);
    this.control.destroy();
    if (wasBooting && !this.bootError) {
      this.bootError = new WorkerError(codes.WORKER_BOOT, `worker ${this.pid} exited with ${how} before it was ready`);
    }
    this.hooks.workerOnExit(this, code, signal);
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
    this.hooks.workerOnBroken(this, err);
  }

  /** Finish what is in flight, then exit. */
  stop(): void {
    if (this.state === 'exited') return;
    this.state = 'stopping';
    if (!this.control.destroyed) this.control.write(frame(T.STOP));
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.state === 'exited') return;
    try {
      this.proc.kill(signal);
    } catch {
      // already gone
    }
  }
}
