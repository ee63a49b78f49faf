// Connections the bench itself holds open on a server while wrk measures it:
// slowloris clients (a partial request head, then one more header byte every
// second) or idle keep-alive clients (one complete request, then silence).
// A connection the server closes is replaced, so `count` stay open for the
// whole run; each slot reconnects at most once a second, so a server that
// closes them at once sees at most `count` new connections a second.

import { connect, type Socket } from 'node:net';
import type { Holders } from './scenarios.js';

export interface HolderStats {
  kind: Holders['kind'];
  count: number;
  /** fewest connections open (TCP established, not yet closed) at any 100 ms sample of the measured run */
  minOpen: number;
  /** idle: fewest connections that had their answer and sat idle, at any sample */
  minIdle: number;
  /** connections the server closed (or refused) during the measured run, each replaced */
  replaced: number;
}

/** The bytes a slowloris client trickles after its partial head, one a second, over and over. */
const TRICKLE = 'X-a: b\r\n';

class Slot {
  sock: Socket | null = null;
  open = false;
  answered = false;
  private openedAt = 0;
  private tick: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  private sent = 0;

  constructor(private readonly owner: HeldConnections) {}

  connect(): void {
    if (this.owner.stopped) return;
    this.openedAt = Date.now();
    this.open = false;
    this.answered = false;
    const { port, path, kind } = this.owner;
    const sock = connect({ host: '127.0.0.1', port });
    this.sock = sock;
    sock.setNoDelay(true);
    sock.on('connect', () => {
      this.open = true;
      if (kind === 'idle') {
        sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: bench-idle\r\n\r\n`);
        return;
      }
      sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: bench-slowloris\r\n`);
      // one byte a second, each slot at its own phase
      this.tick = setTimeout(() => {
        this.tick = setInterval(() => {
          sock.write(TRICKLE[this.sent++ % TRICKLE.length]!);
        }, 1000);
      }, Math.random() * 1000);
    });
    sock.on('data', () => {
      if (kind === 'idle') this.answered = true;
      else sock.destroy(); // the server answered a head that is not complete (408, 400): it gave up on it
    });
    sock.on('error', () => {
      /* followed by 'close' */
    });
    sock.on('close', () => {
      if (this.sock !== sock) return;
      this.clearTimers();
      this.open = false;
      this.answered = false;
      this.sock = null;
      if (this.owner.stopped) return;
      this.owner.replaced++;
      this.retry = setTimeout(() => this.connect(), Math.max(0, this.openedAt + 1000 - Date.now()));
    });
  }

  private clearTimers(): void {
    if (this.tick) clearTimeout(this.tick); // clears an interval too
    this.tick = null;
  }

  stop(): void {
    this.clearTimers();
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.sock?.destroy();
    this.sock = null;
  }
}

export class HeldConnections {
  stopped = false;
  replaced = 0;
  private readonly slots: Slot[];
  private sampler: NodeJS.Timeout | null = null;
  private minOpen = Infinity;
  private minIdle = Infinity;
  private readonly starting: NodeJS.Timeout[] = [];

  constructor(
    readonly port: number,
    readonly path: string,
    private readonly holders: Holders,
  ) {
    this.slots = Array.from({ length: holders.count }, () => new Slot(this));
  }

  get kind(): Holders['kind'] {
    return this.holders.kind;
  }

  private holding(s: Slot): boolean {
    return this.holders.kind === 'idle' ? s.answered : s.open;
  }

  /**
   * Open them all, spread evenly over `spreadMs` (so that the server's timeouts do not later close them
   * all in the same instant); resolves once every one is holding (idle: answered) or `maxMs` after the start.
   */
  async start(maxMs: number, spreadMs = 1000): Promise<number> {
    this.slots.forEach((s, i) => {
      const timer = setTimeout(() => s.connect(), (i * spreadMs) / this.slots.length);
      this.starting.push(timer);
    });
    const t0 = Date.now();
    let n = 0;
    while (Date.now() - t0 < maxMs) {
      n = this.slots.filter((s) => this.holding(s)).length;
      if (n === this.slots.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return n;
  }

  /** From now on, count replacements and sample how many stay open (call right before the measured run). */
  measure(): void {
    this.replaced = 0;
    this.minOpen = Infinity;
    this.minIdle = Infinity;
    const sample = (): void => {
      this.minOpen = Math.min(this.minOpen, this.slots.filter((s) => s.open).length);
      this.minIdle = Math.min(this.minIdle, this.slots.filter((s) => s.answered).length);
    };
    sample();
    this.sampler = setInterval(sample, 100);
  }

  stats(): HolderStats {
    return {
      kind: this.holders.kind,
      count: this.holders.count,
      minOpen: Number.isFinite(this.minOpen) ? this.minOpen : 0,
      minIdle: Number.isFinite(this.minIdle) ? this.minIdle : 0,
      replaced: this.replaced,
    };
  }

  stop(): void {
    this.stopped = true;
    this.starting.forEach(clearTimeout);
    if (this.sampler) clearInterval(this.sampler);
    for (const s of this.slots) s.stop();
  }
}
