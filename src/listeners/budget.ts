// How many client connections warpipe holds at once, over all its listeners
// (--max-connections), and from one address (--max-connections-per-ip). A
// connection over either is answered at once (HTTP, SCGI and uwsgi: 503 with
// Retry-After; FastCGI: closed) and costs no worker, so a flood of sockets
// cannot exhaust file descriptors or memory (waitress CVE-2024-49769 class).
//
// Idle kept-alive connections must not crowd out new clients (the keep-alive
// timeout is long, 75 s, to outlast load balancers' pools): when the budget is
// full, the HTTP connection idle longest, with no request in flight, is closed
// to make room for the newcomer, as nginx's ngx_drain_connections reuses its
// keep-alive connections; only with none idle is the newcomer refused. The
// search runs only then (no per-request bookkeeping): it walks the open
// connections once.

import type net from 'node:net';

export interface BudgetOptions {
  /** 0: no limit. */
  maxConnections: number;
  /** 0: no limit. Unix-socket clients have no address and are not counted here. */
  maxPerIp: number;
}

/** Connections the budget may close to make room: a listener's kept-alive ones waiting for their next request. */
export interface IdleConnections {
  /** The one idle longest (since: Date.now() ms), or null; `close()` gives its place back at once. */
  longestIdle(): { since: number; close(): void } | null;
}

export class ConnectionBudget {
  open = 0;
  /** Refused since start. */
  refused = 0;
  /** Idle kept-alive connections closed to make room for new ones, since start. */
  reclaimed = 0;
  private readonly perIp = new Map<string, number>();
  private readonly idle: IdleConnections[] = [];

  constructor(readonly options: BudgetOptions) {}

  /** `source`'s idle kept-alive connections may be closed when the budget is full (the HTTP listeners). */
  reclaimFrom(source: IdleConnections): void {
    this.idle.push(source);
  }

  /** Take a place for `socket` (null); over a limit, nothing is taken and the limit is named. */
  admit(socket: net.Socket): string | null {
    const { maxConnections, maxPerIp } = this.options;
    const full = maxConnections > 0 && this.open >= maxConnections;
    // the peer's address only with a limit per address: it costs a getpeername() per connection
    const ip = maxPerIp > 0 ? socket.remoteAddress : undefined;
    // full: room is made only for a newcomer its address's limit would take (so none is closed for nothing)
    const overIp = ip !== undefined && (this.perIp.get(ip) ?? 0) >= maxPerIp;
    if (full && (overIp || !this.reclaim())) return `${maxConnections} connections (--max-connections)`;
    if (ip !== undefined) {
      const n = this.perIp.get(ip) ?? 0; // (after a reclaim, which may have given one back)
      if (n >= maxPerIp) return `${maxPerIp} connections from ${ip} (--max-connections-per-ip)`;
      this.perIp.set(ip, n + 1);
    }
    this.open++;
    return null;
  }

  /** Close the kept-alive connection idle longest over every listener; false if none is idle. */
  private reclaim(): boolean {
    let oldest: { since: number; close(): void } | null = null;
    for (const source of this.idle) {
      const c = source.longestIdle();
      if (c !== null && (oldest === null || c.since < oldest.since)) oldest = c;
    }
    if (oldest === null) return false;
    oldest.close();
    this.reclaimed++;
    return true;
  }

  /** Give back the place `socket` took (its address was read by admit, and stays cached on it). */
  release(socket: net.Socket): void {
    this.open--;
    if (this.options.maxPerIp === 0) return;
    const ip = socket.remoteAddress;
    if (ip === undefined) return;
    const n = (this.perIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, n);
  }
}

/** No limits: for listeners made outside the CLI (tests, embedding). */
export const unlimited = (): ConnectionBudget => new ConnectionBudget({ maxConnections: 0, maxPerIp: 0 });
