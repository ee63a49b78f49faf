// A log file that never takes the server down (--log-file, --access-log).
// Lines are appended with O_APPEND, so the gateway and anything else writing
// the same file (logrotate's copytruncate, a second warpipe) interleave by
// line. A write that fails (ENOSPC, EIO, a file system gone read-only) loses
// those lines, not a request: the trouble is reported once, and once more with
// the count of lost lines when writing works again. reopen() (SIGUSR1, after
// logrotate moved the file) starts a new file at the same path.
//
// Two modes: `sync` writes each line at once (the error log: a line must be
// on disk before a crash it explains); otherwise lines are gathered and written
// every FLUSH_MS or FLUSH_BYTES, whichever comes first (the access log: one
// write for hundreds of requests under load, as nginx's `access_log buffer=`;
// a write per turn of the event loop cost 3-4 µs a request at 40k req/s).

import { closeSync, openSync, writeSync } from 'node:fs';
import { linePieces, PIPE_BUF, PipeQueue, QUEUE_MAX, quiet, type Writable } from './log.js';

/** A buffered file writes what it gathered once its buffer of this size is full, */
const FLUSH_BYTES = 64 * 1024;
/** or this long after the first line of the batch. */
const FLUSH_MS = 100;
const SLOW = `EAGAIN: stdout is read too slowly, ${QUEUE_MAX >> 20} MiB queued`;

export interface LogFileTrouble {
  /** The first failed write since the file last worked. */
  failing(file: LogFile, why: string): void;
  /** A write worked again after `lost` lines were dropped. */
  recovered(file: LogFile, lost: number, why: string): void;
}

export class LogFile {
  private fd: number;
  /** Buffered mode: lines are encoded straight into this buffer (no per-line string or Buffer is kept). */
  private buf: Buffer | null = null;
  private used = 0;
  private lines = 0;
  private scheduled = false;
  private lost = 0;
  private why = '';
  /** "-" on a full non-blocking pipe: what waits in process.stdout's queue (bounded, see PipeQueue). */
  private queue: PipeQueue | null = null;

  /**
   * Opens `path` for appending (created 0640), or fd 1 for "-" (stdout).
   * Throws a one-line Error if it cannot be opened: the caller exits 2.
   */
  constructor(
    readonly path: string,
    private readonly sync: boolean,
    private readonly trouble: LogFileTrouble,
    /** writeSync, or a stand-in for a test that needs a disk to fill up and free again. */
    private readonly writeTo: (fd: number, data: Buffer, offset: number) => number = writeSync,
    /** Node's stream for "-" (fd 1), or a stand-in. */
    private readonly stdout: () => Writable = () => quiet(process.stdout),
  ) {
    this.fd = LogFile.open(path);
  }

  private static open(path: string): number {
    if (path === '-') return 1;
    try {
      return openSync(path, 'a', 0o640);
    } catch (err) {
      throw new Error(`cannot open log file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }

  /** One line, newline included. */
  write(line: string): void {
    if (this.sync) {
      this.put(Buffer.from(line, 'utf8'), 1);
      return;
    }
    const buf = (this.buf ??= Buffer.allocUnsafe(FLUSH_BYTES));
    if (this.used + 3 * line.length > buf.length) {
      // (3: the most UTF-8 bytes a UTF-16 unit can take)
      this.flush();
      if (3 * line.length > buf.length) return this.put(Buffer.from(line, 'utf8'), 1);
    }
    this.used += buf.write(line, this.used);
    this.lines++;
    if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(this.flush, FLUSH_MS).unref();
    }
  }

  /** Write what is gathered (buffered mode). */
  readonly flush = (): void => {
    this.scheduled = false;
    if (this.lines === 0) return;
    const lines = this.lines;
    const used = this.used;
    this.lines = 0;
    this.used = 0;
    this.put(this.buf!.subarray(0, used), lines);
  };

  /** Write `data` (which may be the reused buffer: nothing may keep it after this returns). */
  private put(data: Buffer, lines: number): void {
    if (this.fd === 1 && data.length > PIPE_BUF) {
      // stdout may be a pipe that other gateways write too: no write may tear their lines (a file has O_APPEND)
      for (const piece of linePieces(data)) this.putWhole(piece, countLines(piece));
      return;
    }
    this.putWhole(data, lines);
  }

  private putWhole(data: Buffer, lines: number): void {
    if (this.queue?.waiting) return this.enqueue(data, lines);
    let off = 0;
    try {
      while (off < data.length) off += this.writeTo(this.fd, data, off);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EAGAIN' && this.fd === 1) {
        // stdout is a full non-blocking pipe: Node's stream queues the rest, within bounds
        if (off === 0) return this.enqueue(data, lines);
        // part of it went out: the rest must follow
        if ((this.queue ??= new PipeQueue(this.stdout())).rest(Buffer.from(data.subarray(off)))) this.wrote();
        else this.lose(SLOW, 1);
        return;
      }
      return this.lose(e.code ?? e.message, lines);
    }
    this.wrote();
  }

  private enqueue(data: Buffer, lines: number): void {
    if ((this.queue ??= new PipeQueue(this.stdout())).add(Buffer.from(data))) this.wrote();
    else this.lose(SLOW, lines);
  }

  private lose(why: string, lines: number): void {
    if (this.lost === 0) {
      this.why = why;
      this.trouble.failing(this, why);
    }
    this.lost += lines;
  }

  private wrote(): void {
    if (this.lost > 0) {
      const lost = this.lost;
      this.lost = 0;
      this.trouble.recovered(this, lost, this.why);
    }
  }

  /** Start a new file at the same path (after logrotate renamed the old one); keeps the old one on failure. */
  reopen(): void {
    if (this.path === '-') return;
    this.flush();
    const fd = LogFile.open(this.path);
    const old = this.fd;
    this.fd = fd;
    closeSync(old);
  }

  /** Write what is gathered and close (shutdown). */
  close(): void {
    this.flush();
    if (this.fd !== 1) closeSync(this.fd);
    this.fd = -1;
  }
}

function countLines(data: Buffer): number {
  let n = 0;
  for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) n++;
  return n;
}
