// Deadlines, the same way on every listener: a connection keeps one deadline
// (a Date.now() ms, 0 for none) and the kind it is of, and one sweep timer per
// listener expires what is due (Node core's checkConnections), so the
// per-request path arms no timers: it writes a number.
//
// The kinds (a connection has one at a time):
//   head     the request head (HTTP head, FastCGI PARAMS, SCGI/uwsgi head) within --header-timeout
//   body     request body silence under --body-timeout; with an app waiting, also --min-upload-rate
//   send     output the client leaves unread past --buffer-response, within --send-timeout
//   idle     a kept connection with no request (--keepalive-timeout; FastCGI: longer than nginx's pool)
//   linger   after our last answer, for the client to see it before we close

export type DeadlineKind = 'head' | 'body' | 'send' | 'idle' | 'linger';

/** What a sweep expires. */
export interface Expiring {
  /** Date.now() ms at which `expire()` is due; 0: none. */
  readonly deadline: number;
  expire(): void;
}

export const SWEEP_MS = 250;

/** Start the sweep over `connections`; `after` runs after each pass (e.g. to log what expired). Returns the timer. */
export function sweepDeadlines(connections: Iterable<Expiring>, after: () => void = () => {}): NodeJS.Timeout {
  const timer = setInterval(() => {
    const now = Date.now();
    for (const conn of connections) if (conn.deadline !== 0 && now >= conn.deadline) conn.expire();
    after();
  }, SWEEP_MS);
  timer.unref();
  return timer;
}

/**
 * --min-upload-rate: a body streamed to an app that waits on it must average
 * `minRate` bytes/s after a grace of --body-timeout, counted from when it began
 * to stream or we last resumed reading (time we held the client back is not
 * its fault). So a client cannot hold a worker by trickling its upload.
 */
export class UploadRate {
  private from = 0;
  private bytes = 0;

  /** Count from now (streaming began, or reading resumed). */
  restart(): void {
    this.from = Date.now();
    this.bytes = 0;
  }

  add(n: number): void {
    this.bytes += n;
  }

  /** The body deadline: silence of `bodyTimeout` s, and, while an app waits (`streaming`), the rate's. */
  deadline(bodyTimeout: number, minRate: number, streaming: boolean): number {
    const silence = Date.now() + bodyTimeout * 1000;
    if (!streaming || minRate <= 0) return silence;
    return Math.min(silence, this.from + (bodyTimeout + this.bytes / minRate) * 1000);
  }
}

/** What the gateway listeners (FastCGI, SCGI, uwsgi) time by. */
export interface DeadlineOptions {
  headerTimeout: number;
  bodyTimeout: number;
  sendTimeout: number;
  minUploadRate: number;
  /** A kept connection with no request (FastCGI). */
  idleTimeout?: number;
}

/** After our last answer, for the client to close its side. */
export const LINGER_SECONDS = 2;

/** When a deadline of `kind` set now falls due; `streaming`: an app waits on the body. */
function dueAt(kind: DeadlineKind, o: DeadlineOptions, rate: UploadRate, streaming: boolean): number {
  if (kind === 'body') return rate.deadline(o.bodyTimeout, o.minUploadRate, streaming);
  const seconds =
    kind === 'head' ? o.headerTimeout : kind === 'send' ? o.sendTimeout : kind === 'idle' ? (o.idleTimeout ?? 0) : LINGER_SECONDS;
  return Date.now() + seconds * 1000;
}

/** The log line for a gateway connection its deadline closed (null for a linger: nothing went wrong). */
function expiredLine(protocol: string, kind: DeadlineKind, o: DeadlineOptions, streaming: boolean): string | null {
  switch (kind) {
    case 'head':
      return `${protocol}: closing a connection whose request head took longer than ${o.headerTimeout}s`;
    case 'body': {
      const rate = streaming && o.minUploadRate > 0 ? ` or came slower than ${o.minUploadRate} bytes/s while an app waited` : '';
      return `${protocol}: closing a connection whose request body took longer than ${o.bodyTimeout}s${rate}`;
    }
    case 'send':
      return `${protocol}: closing a connection whose client read nothing for ${o.sendTimeout}s`;
    case 'idle':
      return `${protocol}: closing a connection whose kept connection idled for ${o.idleTimeout ?? 0}s`;
    case 'linger':
      return null;
  }
}

/**
 * The deadline of a FastCGI, SCGI or uwsgi connection, with what it needs: one
 * kind at a time (a head's is for the whole head, a body's moves with each
 * read) and the upload rate while an app waits on a streamed body.
 */
export class GatewayDeadline {
  /** Date.now() ms when the sweep closes the connection (0: never). */
  at = 0;
  private kind: DeadlineKind | null = null;
  private readonly rate = new UploadRate();
  private streaming = false;

  constructor(
    private readonly protocol: string,
    private readonly options: DeadlineOptions,
  ) {}

  /** Body bytes came in. */
  received(n: number): void {
    this.rate.add(n);
  }

  /** Whether an app now waits on a streamed body; its rate counts from when it starts to. */
  waiting(streaming: boolean): void {
    if (streaming && !this.streaming) this.rate.restart();
    this.streaming = streaming;
  }

  /** We read again after holding the client back: that time does not count against its rate. */
  resumed(): void {
    this.rate.restart();
  }

  set(kind: DeadlineKind | null): void {
    if (kind === this.kind && kind !== 'body') return;
    this.kind = kind;
    this.at = kind === null ? 0 : dueAt(kind, this.options, this.rate, this.streaming);
  }

  /** It passed: the line to log (null for a linger), and no deadline any more. */
  expired(): string | null {
    const line = this.kind && expiredLine(this.protocol, this.kind, this.options, this.streaming);
    this.at = 0;
    return line;
  }
}
