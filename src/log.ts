// The gateway's logger: one line per event on stderr, gunicorn's shape:
//   [2026-11-24 07:00:00 +0000] [1234] [INFO] message
// Levels use Python's numbers so worker LOG frames map one to one.

import { writeSync } from 'node:fs';

export const levels = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 } as const;
export type LevelName = keyof typeof levels;

const names: Record<number, string> = { 10: 'DEBUG', 20: 'INFO', 30: 'WARNING', 40: 'ERROR', 50: 'CRITICAL' };

/**
 * What Node's stream may hold for a log on a non-blocking pipe that is full
 * (EAGAIN), in bytes (about: strings count in UTF-16 units): 16 times a Linux
 * pipe's 64 KiB, so a reader that falls behind for a moment (a log shipper
 * restarting) loses nothing, while one that stalls costs a bounded 1 MiB, not
 * memory without end (issue 11: 150 MB to wsgi.errors grew the gateway by 500 MB).
 */
export const QUEUE_MAX = 1 << 20;

/** Node's stream for fd 1 or 2 (a stand-in in tests). */
export interface Writable {
  readonly writableLength: number;
  readonly destroyed?: boolean;
  write(data: string | Uint8Array): unknown;
}

/** process.stdout or process.stderr, with the errors of a reader gone ignored (the next writeSync sees them). */
export function quiet(stream: NodeJS.WriteStream): Writable {
  if (stream.listenerCount('error') === 0) stream.on('error', () => {});
  return stream;
}

/**
 * Lines that a full non-blocking pipe could not take wait in Node's stream,
 * which writes them as the reader makes room; later lines go behind them, in
 * order. At most QUEUE_MAX wait: once that is reached, lines are dropped until
 * all that waited went out (so a slow reader is told of one loss, not of many).
 */
export class PipeQueue {
  private full = false;
  constructor(private readonly stream: Writable) {}

  /** Whether lines still wait (then later ones must go behind them). */
  get waiting(): boolean {
    if (this.stream.writableLength > 0 && !this.stream.destroyed) return true;
    this.full = false;
    return false;
  }

  /** Queue `data` (nothing may change it afterwards); false if it was dropped. */
  add(data: string | Uint8Array): boolean {
    if (this.full || this.stream.writableLength + data.length > QUEUE_MAX) {
      this.full = true;
      return false;
    }
    this.stream.write(data);
    return true;
  }

  /**
   * The rest of what the pipe took only part of (the start of a line is out):
   * queued whole up to QUEUE_MAX even past the bound, or else cut, ending with a
   * newline so the next line starts on its own. False if cut.
   */
  rest(data: Uint8Array): boolean {
    const whole = data.length <= QUEUE_MAX;
    this.stream.write(whole ? data : '\n');
    return whole;
  }
}

/** Linux's PIPE_BUF: a write of at most this many bytes to a pipe is never split, nor mixed with another process's write. */
export const PIPE_BUF = 4096;

/**
 * `data` cut after line ends into pieces of at most PIPE_BUF bytes (a line longer than that is a piece of its own):
 * what several processes writing to one pipe (--gateways N, on one stderr or stdout) write, so that none tears
 * another's lines.
 */
export function linePieces(data: Buffer): Buffer[] {
  if (data.length <= PIPE_BUF) return [data];
  const pieces: Buffer[] = [];
  let start = 0;
  while (data.length - start > PIPE_BUF) {
    let end = data.lastIndexOf(10, start + PIPE_BUF - 1) + 1;
    if (end <= start) end = data.indexOf(10, start + PIPE_BUF) + 1 || data.length;
    pieces.push(data.subarray(start, end));
    start = end;
  }
  if (start < data.length) pieces.push(data.subarray(start));
  return pieces;
}

/**
 * Lines to stderr that never take the server down: a full disk (ENOSPC), a
 * reader gone (EPIPE) or any other write error loses the line, not a request;
 * a reader too slow (EAGAIN) gets QUEUE_MAX queued, and loses what is beyond it.
 * The loss is said once, as the first line that can be written again.
 */
export function stderrSink(
  // biome-ignore lint/suspicious/noConfusingVoidType: a writer that returns nothing wrote it all
  write: (text: string) => number | void = (text) => writeSync(2, text),
  stream: () => Writable = () => quiet(process.stderr),
): (line: string) => void {
  let lost = 0;
  let why = '';
  let queue: PipeQueue | null = null;
  const lose = (reason: string): void => {
    if (lost++ === 0) why = reason;
  };
  const enqueue = (text: string): void => {
    if ((queue ??= new PipeQueue(stream())).add(text)) lost = 0;
    else lose(`the reader of stderr fell behind (EAGAIN) with ${QUEUE_MAX >> 20} MiB queued`);
  };
  const one = (line: string): void => {
    const text =
      lost > 0
        ? `${line.slice(0, line.indexOf('] [') + 3)}${process.pid}] [WARNING] ` +
          `${lost} log line${lost === 1 ? ' was' : 's were'} lost: ${why}\n${line}`
        : line;
    if (queue?.waiting) return enqueue(text);
    // biome-ignore lint/suspicious/noConfusingVoidType: what `write` returned
    let n: number | void;
    try {
      n = write(text);
    } catch (err) {
      // a non-blocking pipe that is full
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return enqueue(text);
      lose((err as Error).message);
      return;
    }
    lost = 0;
    // a pipe with room for only part of a long line: the rest waits
    if (typeof n === 'number' && n !== text.length && n < Buffer.byteLength(text)) {
      const data = Buffer.from(text, 'utf8');
      if (!(queue ??= new PipeQueue(stream())).rest(data.subarray(n))) lose('a line longer than the queue was cut');
    }
  };
  return (line) => {
    if (line.length <= PIPE_BUF / 3 || Buffer.byteLength(line) <= PIPE_BUF) return one(line);
    for (const piece of linePieces(Buffer.from(line, 'utf8'))) one(piece.toString('utf8'));
  };
}

/** What starts every log line: `[2026-11-24 07:00:00 +0000] [1234] [INFO] `. */
export function linePrefix(level: number, tag: string | number = process.pid): string {
  const stamp = new Date().toISOString().replace('T', ' ').slice(0, 19);
  return `[${stamp} +0000] [${tag}] [${names[level] ?? String(level)}] `;
}

/** `text` (whole lines) with the log's prefix on each line. */
export function prefixLines(text: string, level: number, tag: string | number): string {
  const prefix = linePrefix(level, tag);
  const lines = text.endsWith('\n') ? text.slice(0, -1) : text;
  return `${prefix}${lines.replaceAll('\n', `\n${prefix}`)}\n`;
}

export class Logger {
  constructor(
    public level: number = levels.info,
    private readonly sink: (line: string) => void = stderrSink(),
  ) {}

  /** Lines a worker printed (whole lines), with the log's prefix and its pid, whatever the level: they are the app's output. */
  output(text: string, pid: number): void {
    this.sink(prefixLines(text, levels.info, pid));
  }

  log(level: number, message: string, tag: string | number = process.pid): void {
    if (level < this.level) return;
    this.sink(`${linePrefix(level, tag)}${message}\n`);
  }
  debug(message: string): void {
    this.log(levels.debug, message);
  }
  info(message: string): void {
    this.log(levels.info, message);
  }
  warning(message: string): void {
    this.log(levels.warning, message);
  }
  error(message: string): void {
    this.log(levels.error, message);
  }
}
