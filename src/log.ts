// The gateway's logger: one line per event on stderr, gunicorn's shape:
//   [2026-11-24 07:00:00 +0000] [1234] [INFO] message
// Levels use Python's numbers so worker LOG frames map one to one.

export const levels = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 } as const;
export type LevelName = keyof typeof levels;

const names: Record<number, string> = { 10: 'DEBUG', 20: 'INFO', 30: 'WARNING', 40: 'ERROR', 50: 'CRITICAL' };

export class Logger {
  constructor(
    public level: number = levels.info,
    private readonly sink: (line: string) => void = (line) => process.stderr.write(line),
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
