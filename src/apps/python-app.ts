// The Python pool as a pipeline App: each call encodes the environ into one
// REQUEST frame, waits for an idle worker channel, and turns the worker's
// RESPONSE/DATA/FILE/END frames back into startResponse + a body iterable.
//
// The worker is released as soon as it has handed over its whole response
// (END); a slow client then costs the gateway memory (up to `bufferResponse`
// bytes, after which the worker's channel is paused), never a worker.

import { open, type FileHandle } from 'node:fs/promises';
import { ByteStream } from '../byte-stream.js';
import { GatewayError, LocalProtocolError, codes } from '../errors.js';
import type { Logger } from '../log.js';
import type { BodyInput } from '../pipeline/input.js';
import type { App, Body, Environ, StartResponse, WholeBody } from '../pipeline/types.js';
import { serverHeaders } from '../pipeline/response.js';
import type { WebSocketUpgrade } from '../pipeline/websocket.js';
import type { Channel, Exchange } from '../workers/channel.js';
import { StreamChannel } from '../workers/streams.js';
import { WebSocketExchange, type HttpTail } from './python-websocket.js';
import {
  END_COMPLETE,
  END_CUT,
  T,
  badFrame,
  dataFrames,
  endFrame,
  frame,
  parseFile,
  parseResponse,
  requestFrame,
  requestFrameParts,
} from '../workers/frame.js';

const CANCEL_FRAME = frame(T.CANCEL);

export interface PythonAppOptions {
  /** Response bytes queued per request before the worker is made to wait. */
  bufferResponse: number;
}

const FILE_BLOCK = 64 * 1024;
// code points past latin-1 cannot be native strings (PEP 3333)
const NOT_LATIN1 = /[^\0-\xff]/;

/**
 * Join the environ's string entries into the worker's environ block. A NUL
 * inside a key or value would shift every later entry, so it is refused.
 */
export function encodeEnviron(environ: Environ): string {
  let block = '';
  for (const key in environ) {
    const value = environ[key];
    if (typeof value !== 'string') continue;
    if (value.indexOf('\0') !== -1 || key.indexOf('\0') !== -1) {
      throw new LocalProtocolError(codes.BAD_ENVIRON, `environ entry ${JSON.stringify(key)} holds a NUL`);
    }
    block += key + '\0' + value + '\0';
  }
  if (NOT_LATIN1.test(block)) {
    throw new LocalProtocolError(codes.BAD_ENVIRON, 'environ holds a character outside latin-1');
  }
  return block;
}

/**
 * The Python worker pool as an App.
 * @example
 * const app = pythonApp(pool, log, { bufferResponse: 1 << 20 });
 */
export function pythonApp(pool: Pool, log: Logger, options: PythonAppOptions): App {
  return (environ, startResponse) => {
    const block = encodeEnviron(environ);
    const upgrade = environ['warpipe.websocket'] as WebSocketUpgrade | undefined;
    if (upgrade !== undefined && pool.dispatcher?.asgi) return webSocket(pool, log, options, block, environ, upgrade, startResponse);
    return new Promise<Body>((resolve, reject) => {
      pool.submit(new PythonExchange(block, environ, startResponse, resolve, reject, log, options.bufferResponse));
    });
  };
}

/** What the app needs of the pool. */
export interface Pool {
  submit(exchange: Exchange): void;
  /** Its serving workers run an ASGI app, so a WebSocket handshake is theirs to answer (else it is plain HTTP to the app). */
  readonly dispatcher?: { readonly asgi: boolean };
}

/** A WebSocket handshake for an ASGI worker: refused here if it is not a valid one, else the worker's to answer. */
function webSocket(
  pool: Pool,
  log: Logger,
  options: PythonAppOptions,
  block: string,
  environ: Environ,
  upgrade: WebSocketUpgrade,
  startResponse: StartResponse,
): Promise<Body> | Body {
  const refusal = upgrade.refusal;
  if (refusal !== null) {
    const body = Buffer.from(`${refusal.reason}\n`);
    // the server's answer, not the app's: its headers may say Upgrade (a 426 must)
    const headers = serverHeaders([['Content-Type', 'text/plain'], ['Content-Length', String(body.length)], ...refusal.headers]);
    startResponse(`${refusal.status} ${refusal.status === 426 ? 'Upgrade Required' : 'Bad Request'}`, headers);
    return [body];
  }
  return new Promise<Body>((resolve, reject) => {
    const denial = (): PythonExchange => new PythonExchange(block, environ, startResponse, resolve, reject, log, options.bufferResponse);
    pool.submit(new WebSocketExchange(block, environ, upgrade, startResponse, resolve, reject, log, denial));
  });
}

class FileRange {
  constructor(
    readonly fh: FileHandle,
    readonly offset: number,
    readonly count: number /* -1: to end of file */,
  ) {}
}

class PythonExchange implements Exchange, HttpTail {
  readonly pipelinable: boolean;
  private channel: Channel | null = null;
  private body: ResponseBody | null = null;
  private settled = false;
  /** We have sent the request's last frame (complete flag or END). */
  private requestSent = false;
  /** The consumer is gone or failed: swallow the rest of the response. */
  private discarding = false;
  private finished = false;
  private cancelled = false;
  /** The client left (the listener's exchange said so through `warpipe.client_gone`). */
  private gone = false;

  constructor(
    private readonly block: string,
    private readonly environ: Environ,
    private readonly startResponse: StartResponse,
    private readonly resolve: (body: Body) => void,
    private readonly reject: (err: Error) => void,
    private readonly log: Logger,
    private readonly highWater: number,
  ) {
    this.pipelinable = (environ['wsgi.input'] as BodyInput).buffered !== null;
    // the listener says when the client leaves: a queued request is then dropped; an ASGI app hears http.disconnect
    environ['warpipe.client_gone'] = this;
  }

  /** The listener's word that the client left (`warpipe.client_gone`). */
  clientGone(): void {
    this.gone = true;
    if (this.channel instanceof StreamChannel) this.cancel();
  }

  /** Its client left before a worker took it: the dispatcher drops it from the queue. */
  get abandoned(): boolean {
    return this.gone && this.channel === null;
  }

  describe(): string {
    const env = this.environ;
    return `${env.REQUEST_METHOD} ${env.REQUEST_URI ?? env.PATH_INFO}`;
  }

  /** A WebSocket handshake the worker answered with an HTTP response (WebSocketExchange): its frames come here. */
  adopt(ch: Channel): void {
    this.channel = ch;
    this.requestSent = true;
  }

  start(ch: Channel): void {
    this.channel = ch;
    const input = this.environ['wsgi.input'] as BodyInput;
    const buffered = input.buffered;
    if (buffered !== null) {
      this.requestSent = true;
      ch.writev(requestFrameParts(this.block, buffered, true));
    } else {
      ch.write(requestFrame(this.block, null, false));
      void this.pump(input, ch);
    }
  }

  /** Forward a streamed request body as DATA frames, with backpressure from the worker. */
  private async pump(input: BodyInput, ch: Channel): Promise<void> {
    let reason = END_COMPLETE;
    try {
      for await (const chunk of input) {
        if (this.requestSent) return;
        const ok = ch.writev(dataFrames(chunk));
        if (!ok && !this.requestSent) await ch.drained();
      }
    } catch {
      reason = END_CUT;
    }
    if (this.requestSent || ch.isLost) return;
    this.requestSent = true;
    ch.write(endFrame(reason));
  }

  onFrame(type: number, payload: Buffer): void {
    switch (type) {
      case T.RESPONSE:
        return this.onResponse(payload);
      case T.RDATA:
        if (this.body === null) throw badFrame('DATA before RESPONSE');
        if (!this.discarding) this.body.push(payload);
        return;
      case T.REND:
        if (this.body === null) throw badFrame('END before RESPONSE');
        this.body.end();
        return this.finish();
      case T.ABORT:
        if (this.settled) this.body?.fail(new GatewayError(codes.APP_ABORTED, 'the app failed after sending its headers', 500));
        else this.fail(new GatewayError(codes.APP_ABORTED, 'the app aborted its response', 500));
        return this.finish();
      case T.FILE:
        if (this.body === null) throw badFrame('FILE before RESPONSE');
        return void this.onFile(parseFile(payload)); // parsed here: a bad frame throws to the channel, which replaces the worker
      case T.LOG:
        this.log.log(payload[0] ?? 40, payload.toString('utf8', 1).replace(/\n$/, ''), `worker ${this.channel?.owner.pid}`);
        return;
      default:
        throw badFrame(`unexpected frame 0x${type.toString(16)}`);
    }
  }

  private onResponse(payload: Buffer): void {
    if (this.settled || this.finished) throw badFrame('second RESPONSE');
    const parts = parseResponse(payload);
    if (this.discarding) {
      if (parts.end) this.finish();
      else this.body = new ResponseBody(this, this.highWater);
      return;
    }
    try {
      this.startResponse(parts.status, parts.headers);
    } catch (err) {
      this.fail(err as Error);
      if (parts.end) this.finish();
      else this.body = new ResponseBody(this, this.highWater);
      return;
    }
    this.settled = true;
    if (parts.end) {
      this.resolve(parts.body.length > 0 ? [parts.body] : []);
      this.finish();
      return;
    }
    const body = new ResponseBody(this, this.highWater);
    if (parts.body.length > 0) body.push(parts.body);
    this.body = body;
    this.resolve(body);
  }

  private async onFile({ offset, count, path }: ReturnType<typeof parseFile>): Promise<void> {
    const ch = this.channel!;
    if (this.discarding) {
      ch.write(frame(T.FILE_ACK, Uint8Array.of(1)));
      return;
    }
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      this.log.debug(`cannot open ${path} for wsgi.file_wrapper (${(err as Error).message}); the worker sends it`);
      if (!ch.isLost) ch.write(frame(T.FILE_ACK, Uint8Array.of(0)));
      return;
    }
    if (ch.isLost || this.discarding) {
      await fh.close();
      if (!ch.isLost) ch.write(frame(T.FILE_ACK, Uint8Array.of(1)));
      return;
    }
    this.body!.push(new FileRange(fh, offset, count));
    ch.write(frame(T.FILE_ACK, Uint8Array.of(1)));
  }

  private fail(err: Error): void {
    this.discarding = true;
    if (!this.settled) {
      this.settled = true;
      this.reject(err);
    }
  }

  /** The worker finished the response: end the request side too, free the channel. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    const ch = this.channel!;
    if (!this.requestSent) {
      this.requestSent = true;
      ch.write(endFrame(END_CUT));
    }
    ch.free();
  }

  onLost(err: GatewayError): void {
    this.finished = true;
    if (!this.settled) this.fail(err);
    else this.body?.fail(err);
  }

  // --- from ResponseBody ---

  pauseWorker(): void {
    const ch = this.channel;
    if (ch && !this.finished) ch.pauseReading();
  }

  resumeWorker(): void {
    const ch = this.channel;
    if (ch && !this.finished) ch.resumeReading();
  }

  /**
   * The consumer closed the body early (the client is gone): drop what is
   * left, keep reading to END, and ask the worker to stop the app's iteration
   * (CANCEL). Not when requests were written ahead behind this one: a CANCEL
   * is for the running request, and the worker would be past it.
   */
  discard(): void {
    if (this.discarding) return;
    this.discarding = true;
    this.cancel();
    this.resumeWorker();
  }

  /** Tell the worker its client is gone (CANCEL), once, while the request runs there and is the channel's running one. */
  private cancel(): void {
    const ch = this.channel;
    if (this.cancelled || !ch || this.finished || !this.requestSent || ch.isLost || ch.exchange !== this || ch.ahead.length > 0) return;
    this.cancelled = true;
    ch.write(CANCEL_FRAME);
  }
}

/**
 * The response body as the listener sees it: bytes and file ranges in order.
 * Bytes wait in runs (ByteStreams that pause the worker past --buffer-response
 * unread); a FILE ends the run before it: runs[i] is read, then files[i], then
 * runs[i + 1].
 */
class ResponseBody implements AsyncIterable<Uint8Array>, WholeBody {
  private readonly runs: ByteStream[] = [];
  private readonly files: FileRange[] = [];
  /** Files handed to readFile (which closes them); the rest are closed by close(). */
  private filesTaken = 0;
  private closed = false;

  constructor(
    private readonly exchange: PythonExchange,
    private readonly highWater: number,
  ) {
    this.runs.push(this.newRun());
  }

  private newRun(): ByteStream {
    const ex = this.exchange;
    return new ByteStream({ high: this.highWater, pause: () => ex.pauseWorker(), resume: () => ex.resumeWorker() });
  }

  private get last(): ByteStream {
    return this.runs[this.runs.length - 1]!;
  }

  push(item: Buffer | FileRange): void {
    if (this.closed) {
      if (item instanceof FileRange) void item.fh.close();
      return;
    }
    if (!(item instanceof FileRange)) return this.last.push(item);
    this.files.push(item);
    this.last.end();
    this.runs.push(this.newRun());
  }

  end(): void {
    this.last.end();
  }

  fail(err: Error): void {
    this.last.end(err);
  }

  /** Frameworks return iterables, not lists, so RESPONSE and END come apart, but usually in one read. */
  whole(): Buffer[] | null {
    return this.closed || this.files.length > 0 ? null : this.last.takeAll();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (let i = 0; !this.closed; i++) {
      const run = this.runs[i];
      if (run === undefined) return;
      for await (const chunk of run) {
        if (this.closed) return;
        yield chunk;
      }
      const file = this.files[i];
      if (file === undefined || this.closed) return;
      this.filesTaken = i + 1;
      yield* this.readFile(file);
    }
  }

  private async *readFile(range: FileRange): AsyncGenerator<Uint8Array> {
    try {
      let position = range.offset;
      let left = range.count < 0 ? Infinity : range.count;
      while (left > 0 && !this.closed) {
        const size = Math.min(FILE_BLOCK, left);
        const buf = Buffer.allocUnsafe(size);
        const { bytesRead } = await range.fh.read(buf, 0, size, position);
        if (bytesRead === 0) break;
        position += bytesRead;
        left -= bytesRead;
        yield bytesRead === size ? buf : buf.subarray(0, bytesRead);
      }
    } finally {
      await range.fh.close();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const file of this.files.slice(this.filesTaken)) void file.fh.close();
    for (const run of this.runs) run.discard();
    this.exchange.discard();
  }
}
