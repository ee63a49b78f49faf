// Runs the real CLI (dist/src/cli.js) with real Python workers, on port 0,
// and tells the test where it listens. Every test server is stopped by pid.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/apps/', import.meta.url));
/** The ASGI apps of the ASGI tests. */
export const ASGI_DIR = fileURLToPath(new URL('../../../test/fixtures/asgi/', import.meta.url));

/** Debian's own interpreter, where python3-django & co. are installed. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

export interface Server {
  proc: ChildProcess;
  port: number;
  url: string;
  /** Everything the gateway wrote to stderr so far. */
  logs(): string;
  /** Wait until the log matches. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM and wait for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  args?: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Resolve as soon as it listens, without waiting for workers. */
  noWait?: boolean;
  timeoutMs?: number;
}

export async function startServer(app: string, options: StartOptions = {}): Promise<Server> {
  const args = [CLI, app, '--http', '127.0.0.1:0', '--workers', '2', ...(options.args ?? [])];
  const proc = spawn(process.execPath, args, {
    cwd: options.cwd ?? FIXTURES,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const waiters: (() => void)[] = [];
  const onText = (chunk: Buffer): void => {
    log += chunk.toString();
    for (const w of waiters.splice(0)) w();
  };
  proc.stderr.on('data', onText);
  proc.stdout.on('data', onText);
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      for (const w of waiters.splice(0)) w();
      resolve(code);
    }),
  );

  const waitForLog = async (pattern: RegExp, timeoutMs = options.timeoutMs ?? 20_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(log);
      if (m) return m[0];
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`server exited (${proc.exitCode}) before ${pattern}:\n${log}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${pattern}:\n${log}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  };

  const where = await waitForLog(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
  const port = Number(/:(\d+)$/.exec(where)![1]);
  if (!options.noWait) await waitForLog(/\d+ workers? ready/);
  return {
    proc,
    port,
    url: `http://127.0.0.1:${port}`,
    logs: () => log,
    waitForLog,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Run the CLI to completion (for --help, bad arguments, boot failures). */
export function runCli(
  args: string[],
  options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = options.env ? { ...process.env, ...options.env } : undefined;
    const proc = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? FIXTURES, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    // 'close', not 'exit': node may tell of the exit before the last of its output is read
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * A peer the test needs (an interpreter, a Python package). Outside CI a missing
 * peer skips the test with the reason printed; in CI (CI=true) it fails.
 */
export function requirePeer(t: { skip(message?: string): void }, ok: boolean, what: string): boolean {
  if (ok) return true;
  if (process.env.CI === 'true') throw new Error(`missing in CI: ${what}`);
  console.log(`# SKIP: ${what}`);
  t.skip(what);
  return false;
}

export function pythonHas(python: string, module: string): boolean {
  if (!existsSync(python) && python.includes('/')) return false;
  const { status } = spawnSyncQuiet(python, ['-c', `import ${module}`]);
  return status === 0;
}

import { spawnSync } from 'node:child_process';
function spawnSyncQuiet(cmd: string, args: string[]): { status: number | null } {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return { status: r.error ? 1 : r.status };
}
