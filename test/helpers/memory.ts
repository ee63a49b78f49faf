// A process's memory from /proc/PID/status, for tests that bound what a
// hostile client can make the gateway hold (issue 11). Margins are generous:
// the bound tested is "proportional to the bytes", not an exact figure.

import { readFileSync } from 'node:fs';

function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  if (!m) throw new Error(`no ${field} for pid ${pid}`);
  return Number(m[1]);
}

/** Resident memory now, MiB. */
export const rssMiB = (pid: number): number => statusKiB(pid, 'VmRSS') / 1024;
/** The most resident memory the process has had, MiB. */
export const peakMiB = (pid: number): number => statusKiB(pid, 'VmHWM') / 1024;
