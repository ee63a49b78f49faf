// The gateway's logger: one line per event on stderr, gunicorn's shape:
//   [2026-11-24 07:00:00 +0000] [1234] [INFO] message
// Levels use Python's numbers so worker LOG frames map one to one.

import { writeSync } from 'node:fs';

export const levels = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 } as const;
export type LevelName = keyof typeof levels;

const names: Record<number, string> = { 10: 'DEBUG', 20: 'INFO', 30: 'WARNING', 40: 'ERROR', 50: 'CRITICAL' };

/**
 * Lines to stderr that never take the server down: a full disk (ENOSPC), a
 * reader gone (EPIPE) or any other write error loses the line, not a request.
 * The loss is said once, as the first line that can be written again.
 */
export function stderrSink(write: (text: string) => void = (text) => writeSync(2, text)): (line: string) => void {
  let lost = 0;
  let why = '';
  return (line) => {
    const text = lost > 0 ? `${line.slice(0, line.indexOf('] [') + 3)}${process.pid}] [WARNING] ${lost} log line${lost === 1 ? ' was' : 's were'} lost: ${why}\n${line}` : line;
    try {
      write(text);
      lost = 0;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
        // a non-blocking pipe that is full: let Node's stream queue the line
        if (process.stderr.listenerCount('error') === 0) process.stderr.on('error', () => {});
        process.stderr.write(text);
        lost = 0;
        return;
      }
      if (lost === 0) why = (err as Error).message;
      lost++;
    }
  };
}

export class Logger {
  constructor(
    public level: number = levels.info,
    private readonly sink: (line: string) => void = stderrSink(),
  ) {}

  log(level: number, message: string, tag: string | number = process.pid): void {
    if (level < this.level) return;
    const name = names[level] ?? String(level);
    const stamp = new Date().toISOString().replace('T', ' ').slice(0, 19);
    this.sink(`[${stamp} +0000] [${tag}] [${name}] ${message}\n`);
  }
  debug(message: string): void { this.log(levels.debug, message); }
  info(message: string): void { this.log(levels.info, message); }
  warning(message: string): void { this.log(levels.warning, message); }
  error(message: string): void { this.log(levels.error, message); }
}
