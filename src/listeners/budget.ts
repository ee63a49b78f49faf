// How many client connections warpipe holds at once, over all its listeners
// (--max-connections), and from one address (--max-connections-per-ip). A
// connection over either is answered at once (HTTP, SCGI and uwsgi: 503 with
// Retry-After; FastCGI: closed) and costs no worker, so a flood of sockets
// cannot exhaust file descriptors or memory (waitress CVE-2024-49769 class).

import type net from 'node:net';

export interface BudgetOptions {
  /** 0: no limit. */
  maxConnections: number;
  /** 0: no limit. Unix-socket clients have no address and are not counted here. */
  maxPerIp: number;
}

export class ConnectionBudget {
  open = 0;
  /** Refused since start. */
  refused = 0;
  private readonly perIp = new Map<string, number>();

  constructor(readonly options: BudgetOptions) {}

  /** Take a place for `socket` (null); over a limit, nothing is taken and the limit is named. */
  admit(socket: net.Socket): string | null {
    const { maxConnections, maxPerIp } = this.options;
    if (maxConnections > 0 && this.open >= maxConnections) return `${maxConnections} connections (--max-connections)`;
    // the peer's address only with a limit per address: it costs a getpeername() per connection
    if (maxPerIp > 0) {
      const ip = socket.remoteAddress;
      if (ip !== undefined) {
        const n = this.perIp.get(ip) ?? 0;
        if (n >= maxPerIp) return `${maxPerIp} connections from ${ip} (--max-connections-per-ip)`;
        this.perIp.set(ip, n + 1);
      }
    }
    this.open++;
    return null;
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
