// --warmup PATH: the requests every new worker answers before it takes
// traffic (its caches filled, its lazy imports done), and the proof that the
// code it imported can serve: an app that imports but fails on every request
// (a syntax error in a Django view, imported on first use) answers its
// warm-up with a 500, and the arbiter treats that as a failed boot.
//
// They run one after the other on the worker's first channel, before the
// dispatcher knows the worker (so no client request can be behind them), and
// outside the pool's accounting: a warm-up is not a request served, and does
// not reset the crash backoff. The environ blocks are made by the gateway
// (apps/warmup.ts); this file knows frames and channels, not HTTP.

import type { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Channel, Exchange } from './channel.js';
import { T, badFrame, frame, parseResponse, requestFrame } from './frame.js';

/** One warm-up request: how it reads in the log, and its environ block (made when it is sent). */
export interface WarmupRequest {
  readonly describe: string;
  environ(): string;
}

/** Of a failing answer's body, this much is logged. */
const BODY_LOGGED = 2048;

const FILE_REFUSED = frame(T.FILE_ACK, Uint8Array.of(0)); // "send it yourself": the bytes come as DATA

/** One warm-up request on a channel: the status and the start of the body are kept, the rest dropped. */
class WarmupExchange implements Exchange {
  readonly pipelinable = false;
  private status = '';
  private readonly body: Buffer[] = [];
  private bodyBytes = 0;
  private channel: Channel | null = null;

  constructor(
    private readonly request: WarmupRequest,
    private readonly log: Logger,
    private readonly done: (failure: string | null) => void,
  ) {}

  describe(): string {
    return this.request.describe;
  }

  start(ch: Channel): void {
    this.channel = ch;
    ch.write(requestFrame(this.request.environ(), null, true));
  }

  onFrame(type: number, payload: Buffer): void {
    switch (type) {
      case T.RESPONSE: {
        if (this.status !== '') throw badFrame('second RESPONSE');
        const parts = parseResponse(payload);
        this.status = parts.status;
        this.keep(parts.body);
        if (parts.end) this.finish();
        return;
      }
      case T.RDATA:
        return this.keep(payload);
      case T.REND:
        return this.finish();
      case T.FILE:
        this.channel!.write(FILE_REFUSED);
        return;
      case T.LOG:
        this.log.log(payload[0] ?? 40, payload.toString('utf8', 1).replace(/\n$/, ''), `worker ${this.channel?.owner.pid}`);
        return;
      case T.ABORT:
        return this.end(`${this.describe()} failed (the app raised${this.status ? ` after its headers, ${this.status}` : ''})`);
      default:
        throw badFrame(`unexpected frame 0x${type.toString(16)}`);
    }
  }

  private keep(data: Buffer): void {
    if (this.bodyBytes >= BODY_LOGGED || data.length === 0) return;
    const piece = data.subarray(0, BODY_LOGGED - this.bodyBytes);
    this.body.push(Buffer.from(piece));
    this.bodyBytes += piece.length;
  }

  private finish(): void {
    const code = Number(this.status.slice(0, 3));
    if (code < 500) {
      if (code >= 400) this.log.warning(`warm-up ${this.describe()} answered ${this.status}`);
      return this.end(null);
    }
    const body = Buffer.concat(this.body).toString('utf8').trim();
    this.end(`${this.describe()} answered ${this.status}${body ? `:\n${body}` : ''}`);
  }

  /** The answer is whole: the channel is idle again (its owner is not told: no request of the pool ran). */
  private end(failure: string | null): void {
    const ch = this.channel!;
    ch.exchange = null;
    this.done(failure);
  }

  onLost(err: GatewayError): void {
    this.done(`${this.describe()} got no answer: ${err.message}`);
  }
}

/**
 * Send `requests` in order on `ch` (idle, of a worker no client request reaches yet); resolves with
 * null once all are answered below 500, or with what failed (a 5xx with the start of its body, an
 * abort, a lost worker). The arbiter's deadline (--boot-timeout) covers a warm-up that never ends.
 */
export function warmUp(ch: Channel, requests: readonly WarmupRequest[], log: Logger): Promise<string | null> {
  return new Promise((resolve) => {
    let i = 0;
    const next = (failure: string | null): void => {
      const request = requests[i++];
      if (failure !== null || request === undefined || ch.isLost) {
        resolve(failure ?? (ch.isLost && request !== undefined ? 'the worker was lost during its warm-up' : null));
        return;
      }
      ch.begin(new WarmupExchange(request, log, next));
    };
    next(null);
  });
}
