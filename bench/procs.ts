// Process plumbing for the benchmark: start servers, find their whole process
// tree in /proc, add up its CPU time, wait for readiness, and stop everything
// the bench started, by pid, even on Ctrl-C or error.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** One process to start: what a server entry returns. */
export interface Launch {
  cmd: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** how `stop` asks it to exit (default SIGTERM) */
  stopSignal?: NodeJS.Signals;
}

/** Fields of /proc/PID/stat that the bench reads (all CPU times in clock ticks). */
interface Stat {
  pid: number;
  ppid: number;
  /** utime + stime (fields 14+15): this process, all its threads */
  self: number;
  /** cutime + cstime (fields 16+17): children it has reaped */
  reaped: number;
  /** field 22, to tell a pid from a later reuse of it */
  start: number;
}

export const CLK_TCK: number = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number.parseInt(out.stdout ?? '', 10);
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

function parseStat(text: string): Stat | null {
  // comm (field 2) may hold spaces and parentheses: split after the last ')'
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const pid = Number.parseInt(text, 10);
  const f = text.slice(close + 2).split(' '); // f[0] is field 3
  const n = (field: number): number => Number(f[field - 3]);
  return { pid, ppid: n(4), self: n(14) + n(15), reaped: n(16) + n(17), start: n(22) };
}

function readStat(pid: number): Stat | null {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null; // gone
  }
}

function allStats(): Stat[] {
  const out: Stat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) out.push(s);
  }
  return out;
}

/** The roots and all their live descendants. */
function tree(roots: readonly number[]): Stat[] {
  const stats = allStats();
  const byParent = new Map<number, Stat[]>();
  for (const s of stats) byParent.set(s.ppid, [...(byParent.get(s.ppid) ?? []), s]);
  const out = stats.filter((s) => roots.includes(s.pid));
  for (let i = 0; i < out.length; i++) out.push(...(byParent.get(out[i]!.pid) ?? []));
  return out;
}

/**
 * CPU seconds used so far by a process tree: utime+stime of every live member,
 * plus cutime+cstime of every member (children that already exited and were
 * reaped inside the tree, e.g. a worker that was respawned). Take it before
 * and after a run; the difference is the tree's CPU for the run.
 */
export function treeCpuSeconds(roots: readonly number[]): number {
  let ticks = 0;
  for (const s of tree(roots)) ticks += s.self + s.reaped;
  return ticks / CLK_TCK;
}

/** CPU seconds (utime+stime, all threads) of one live process itself, not its children; null if it is gone. */
export function processCpuSeconds(pid: number): number | null {
  const s = readStat(pid);
  return s ? s.self / CLK_TCK : null;
}

/** The full path of an executable on PATH, or null. */
export function which(name: string): string | null {
  if (name.includes('/')) return existsSync(name) ? name : null;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** A free TCP port on 127.0.0.1: bind port 0, read it, close. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One GET to 127.0.0.1; resolves with status and body, rejects on error or timeout. */
export function httpGet(port: number, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolveGet, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolveGet({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** A started process with the first and last few KiB of its output kept (startup lines, error messages). */
export class Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly stopSignal: NodeJS.Signals;
  private head = '';
  private tail = '';
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  /** the process exited (its output may still be in flight: a client whose output is read waits for `finished`) */
  readonly exited: Promise<void>;
  /**
   * exited and its stdout and stderr closed: all it printed is in `output`. Node may emit 'exit' before the
   * last data of the pipes, so a summary read on 'exit' can be missing (the likely cause of an h2load test's
   * "printed no summary" on a loaded machine).
   */
  readonly finished: Promise<void>;

  constructor(launch: Launch, keepOutput = 8192) {
    this.stopSignal = launch.stopSignal ?? 'SIGTERM';
    this.child = spawn(launch.cmd, launch.args, {
      cwd: launch.cwd,
      env: { ...process.env, ...launch.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      if (this.head.length < keepOutput) this.head += text.slice(0, keepOutput - this.head.length);
      this.tail = (this.tail + text).slice(-keepOutput);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((done) => {
      this.child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        done();
      });
      this.child.on('error', (err) => {
        keep(Buffer.from(String(err)));
        this.exit ??= { code: null, signal: null };
        done();
      });
    });
    this.finished = new Promise((done) => {
      this.child.on('close', () => done());
      this.child.on('error', () => done());
    });
    if (this.child.pid === undefined) throw new Error(`cannot start ${launch.cmd}`);
    this.pid = this.child.pid;
    started.add(this);
    void this.exited.then(() => started.delete(this));
  }

  /** the last `keepOutput` characters of stdout+stderr */
  get output(): string {
    return this.tail;
  }

  /** the first `keepOutput` characters of stdout+stderr (what it said while starting) */
  get startOutput(): string {
    return this.head;
  }

  /** Last non-empty lines of output, for a one-line error message. */
  lastLines(n = 3): string {
    return this.tail.trim().split('\n').slice(-n).join(' | ');
  }
}

/** Every process the bench started and has not seen exit. */
const started = new Set<Proc>();

/** Signal a process and every live descendant (snapshot taken now). */
function signalTree(roots: readonly number[], signal: NodeJS.Signals): Stat[] {
  const members = tree(roots);
  for (const s of members) {
    try {
      process.kill(s.pid, signal);
    } catch {
      /* already gone */
    }
  }
  return members;
}

/**
 * Stop processes by pid: SIGTERM (or their own stopSignal) to the roots (servers drain and take their
 * workers down), then after `graceMs` SIGKILL whatever is left of the trees
 * as they were when asked to stop (checked by start time against pid reuse).
 */
export async function stop(procs: readonly Proc[], graceMs = 5000): Promise<void> {
  const live = procs.filter((p) => p.exit === null);
  if (live.length === 0) return;
  const members = tree(live.map((p) => p.pid));
  for (const p of live) {
    try {
      process.kill(p.pid, p.stopSignal);
    } catch {
      /* gone */
    }
  }
  await Promise.race([Promise.all(live.map((p) => p.exited)), sleep(graceMs)]);
  for (const m of members) {
    const now = readStat(m.pid);
    if (now && now.start === m.start) {
      try {
        process.kill(m.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  await Promise.race([Promise.all(live.map((p) => p.exited)), sleep(1000)]);
}

/** Synchronous last resort (process 'exit', signals): kill every tree we started. */
export function killAllNow(signal: NodeJS.Signals = 'SIGKILL'): void {
  signalTree(
    [...started].map((p) => p.pid),
    signal,
  );
}

/** Stop everything we started, then exit: for Ctrl-C and fatal errors. */
export async function stopAllAndExit(code: number): Promise<never> {
  await stop([...started], 3000);
  killAllNow();
  process.exit(code);
}

/**
 * Busy CPU seconds of the whole machine's tasks so far: user+nice+system+steal
 * of /proc/stat. irq and softirq are left out: under load they are mostly the
 * loopback traffic of the benchmark itself, which is charged to no process.
 */
export function machineBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , , , steal = 0] = f;
  return (user + nice + system + steal) / CLK_TCK;
}

/** CPU seconds of this bench process's reaped children (wrk, once it has exited). */
export function reapedChildrenSeconds(): number {
  return (readStat(process.pid)?.reaped ?? 0) / CLK_TCK;
}

/** CPU seconds this bench process used itself. */
export function selfSeconds(): number {
  return (readStat(process.pid)?.self ?? 0) / CLK_TCK;
}

/** Wait at least `minMs`, then until the machine is nearly idle (< 0.15 cores busy over 500 ms), at most `maxMs`. */
export async function waitQuiet(minMs = 1500, maxMs = 10_000): Promise<void> {
  const t0 = Date.now();
  await sleep(minMs);
  while (Date.now() - t0 < maxMs) {
    const b0 = machineBusySeconds();
    await sleep(500);
    if (machineBusySeconds() - b0 < 0.075) return;
  }
}

/** VmRSS and VmHWM (peak RSS) of a live process from /proc/PID/status, in MiB; null if it is gone. */
export function memoryMiB(pid: number): { rss: number; hwm: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/** Live direct children of `pid`. */
export function childrenOf(pid: number): number[] {
  return allStats()
    .filter((s) => s.ppid === pid)
    .map((s) => s.pid);
}

/** The executable name of a live process (/proc/PID/comm), or '' if it is gone. */
export function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

const tempDirs: string[] = [];

/** A new private temp dir, removed when the bench exits (even on Ctrl-C), or earlier by `removeTempDir`. */
export function tempDir(prefix: string): string {
  if (tempDirs.length === 0) process.once('exit', () => tempDirs.forEach(removeTempDir));
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
