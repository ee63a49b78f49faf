// --pid-file PATH: the process id of the process to signal (the gateway, or
// the primary of --gateways N), written once the sockets are bound, removed on
// exit — only if it still names us, so a new instance's file is never removed
// by an old one on its way out.
//
// A file already there: if it names a live warpipe (its /proc cmdline runs the
// same script as we do, or a `warpipe` command), the start is refused (exit 1),
// as gunicorn refuses ("Already running on PID N"); two instances sharing one
// pid file would leave systemd, logrotate and `kill $(cat PATH)` signalling
// the wrong one. Anything else is stale (a crash, a reboot that gave its pid to
// another program) and replaced, with a warning; gunicorn refuses for any live
// pid, which keeps a server down after a reboot until someone deletes the file.
// Without /proc, a live pid is taken for a warpipe (gunicorn's rule).

import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { StartError, codes } from './errors.js';
import type { Logger } from './log.js';

/** The pid a pid file names (null: no file, or not a pid). */
function readPid(path: string): number | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  const m = /^\s*(\d+)\s*$/.exec(text);
  return m ? Number(m[1]) : null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // it exists, as another user's
  }
}

/** Whether `pid` runs warpipe: our own script (process.argv[1]) or a `warpipe` command. null: cannot tell (no /proc). */
function runsWarpipe(pid: number): boolean | null {
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return null;
  }
  const ours = process.argv[1] ? resolve(process.argv[1]) : '';
  return args.some((a) => (ours !== '' && a === ours) || a === process.argv[1] || basename(a) === 'warpipe');
}

/**
 * Refuse to start if `path` names a live warpipe other than this process. Called before
 * binding, so a refused start touches no socket.
 */
export function checkPidFile(path: string, log: Logger): void {
  const pid = readPid(path);
  if (pid === null || pid === process.pid || !alive(pid)) return;
  const warpipe = runsWarpipe(pid);
  if (warpipe === false) {
    log.warning(`--pid-file ${path} names pid ${pid}, which is not warpipe (left from a crash?): replacing it`);
    return;
  }
  throw new StartError(
    codes.PID_FILE,
    `--pid-file ${path}: warpipe is already running as pid ${pid} (stop it, or remove the file if that is wrong)`,
  );
}

/**
 * Write our pid to `path` (whole: a temporary file renamed over it) and remove it on exit if it
 * still names us. A failure to write is a StartError (exit 1).
 */
export function writePidFile(path: string): void {
  const full = resolve(path);
  const tmp = join(dirname(full), `.${basename(full)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, `${process.pid}\n`, { mode: 0o644 });
    renameSync(tmp, full);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // never made
    }
    throw new StartError(codes.PID_FILE, `cannot write --pid-file ${path}: ${(err as Error).message}`, 500, { cause: err });
  }
  process.once('exit', () => removePidFile(full));
}

/** Remove `path` if it names this process (another instance may have taken it over). */
export function removePidFile(path: string): void {
  if (readPid(path) !== process.pid) return;
  try {
    unlinkSync(path);
  } catch {
    // gone, or a directory we may no longer write to (--user): left behind, and found stale next time
  }
}
