// How the gateway starts the user's interpreter on worker.py, for a worker and
// for a --preload template alike, and what it reads back about a process: its
// output in whole lines, its exit, its /proc entry.

import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { constants as osConstants, homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
  /** --interface: auto (the default), wsgi or asgi (the worker tells which it runs in READY). */
  interface?: string;
  /** --loop, for an ASGI app: auto (the default), asyncio or uvloop. */
  loop?: string;
  /** --asgi-concurrency: the streams of an ASGI worker (default 100). */
  asgiConcurrency?: number;
  cwd: string | undefined;
  env: NodeJS.ProcessEnv;
  /**
   * Where the worker's own stdout and stderr go (print(), a crash, the stacks
   * dumped before a --timeout kill): whole lines, through a pipe, with the pid
   * of the process that was spawned (a --preload template's lines include
   * those of the workers it forks), so the log gives them its prefix and a
   * --log-file reopened after rotation takes them too. Unset: inherited.
   */
  output?: (text: string, pid: number) => void;
}

/**
 * Start worker.py on the app: fd 3 is its control channel, then `pipes` more
 * sockets (a worker's request channels; none for a template). `extra` are
 * worker.py's last arguments (a template's `--preload PATH`).
 */
export function spawnPython(options: WorkerOptions, extra: string[], pipes: number): ChildProcess {
  const args = ['-c', BOOT, WORKER_PY, bytecodeCache(), options.app, '--threads', String(options.threads)];
  if (options.validate) args.push('--validate');
  args.push(
    '--interface',
    options.interface ?? 'auto',
    '--loop',
    options.loop ?? 'auto',
    '--streams',
    String(options.asgiConcurrency ?? 100),
  );
  args.push(...extra);
  const out = options.output ? 'pipe' : 'inherit';
  const stdio: ('ignore' | 'inherit' | 'pipe')[] = ['ignore', out, out, 'pipe'];
  for (let i = 0; i < pipes; i++) stdio.push('pipe');
  const proc = spawn(options.python, args, { cwd: options.cwd, env: options.env, stdio, detached: true });
  const output = options.output;
  if (output) {
    const pid = proc.pid ?? 0;
    const put = (text: string): void => output(text, pid);
    forwardLines(proc.stdout!, put);
    forwardLines(proc.stderr!, put);
  }
  return proc;
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

/** What a worker says in READY: its interpreter's version, and for an ASGI app its loop, streams and lifespan. */
export interface ReadyInfo {
  python: string;
  interface: 'wsgi' | 'asgi';
  loop: string;
  streams: number;
  lifespan: string;
}

/** READY's JSON; a worker that says nothing of its interface runs WSGI. */
export function readyInfo(ready: Buffer): ReadyInfo {
  let said: Record<string, unknown> = {};
  try {
    said = JSON.parse(ready.toString('utf8')) as Record<string, unknown>;
  } catch {
    // the version is informative only
  }
  const streams = Number(said.streams);
  return {
    python: String(said.python ?? ''),
    interface: said.interface === 'asgi' ? 'asgi' : 'wsgi',
    loop: String(said.loop ?? ''),
    streams: Number.isInteger(streams) && streams > 0 ? streams : 1,
    lifespan: String(said.lifespan ?? ''),
  };
}

/** The interpreter's version from a READY payload ('' if it does not say). */
export function pythonVersion(ready: Buffer): string {
  return readyInfo(ready).python;
}

/** Resident memory of `pid` in MiB, or 0 if it cannot be read. */
export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** SIGKILL for 9, and so on (null for a number Node does not name). */
export function signalName(n: number): NodeJS.Signals | null {
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

/** How a process ended, for log lines: a forked worker's status is not ours to collect. */
export function exitText(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : code !== null ? `code ${code}` : 'an unknown status (forked)';
}
