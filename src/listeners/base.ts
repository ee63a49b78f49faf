// What every listener shares: its servers, its open connections, wsgi.errors
// into the log, and the drain on shutdown (stop accepting, let busy
// connections finish, close idle ones). A listener says how a connection is
// served (`connect`) and how its address reads in the log (`describe`).

import net from 'node:net';
import type { Address } from '../config/load.js';
import type { Logger } from '../log.js';
import type { ErrorStream } from '../pipeline/types.js';
import { bind } from './bind.js';

export interface ListenerConnection {
  readonly socket: net.Socket;
  /** Shutdown: close now if idle, else after what is in flight. */
  drain(): void;
}

export abstract class Listener<C extends ListenerConnection> {
  readonly servers: net.Server[] = [];
  readonly connections = new Set<C>();
  closing = false;
  /** wsgi.errors: lines go to the log. */
  readonly errors: ErrorStream = { write: (text: string) => this.log.error(text.replace(/\n$/, '')) };
  private drained: (() => void) | null = null;
  /** Keep answering after the client has finished sending (a request-per-connection protocol may half-close). */
  protected readonly allowHalfOpen: boolean = false;

  constructor(readonly log: Logger) {}

  /** Serve one accepted connection. */
  protected abstract connect(socket: net.Socket): C;

  /** How `where` (`HOST:PORT`, `[IPv6]:PORT` or `unix:/path`) reads in the log. */
  protected abstract describe(where: string): string;

  /** Bind `address`; resolves with a printable description of where we listen. */
  async listen(address: Address, socketMode: number): Promise<string> {
    const server = net.createServer({ noDelay: true, allowHalfOpen: this.allowHalfOpen }, (socket) => {
      if (this.closing) socket.destroy();
      else this.connections.add(this.connect(socket));
    });
    this.servers.push(server);
    const where = await bind(server, address, socketMode, (err) => this.log.error(`listener error on ${this.describe('')}: ${err.message}`));
    return this.describe(where);
  }

  connectionOnClose(conn: C): void {
    this.connections.delete(conn);
    if (this.drained && this.connections.size === 0) this.drained();
  }

  /** Stop accepting; close idle connections now and busy ones after their response. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    const done = new Promise<void>((resolve) => (this.drained = resolve));
    for (const conn of this.connections) conn.drain();
    if (this.connections.size > 0) await done;
  }

  /** Abort every connection at once (the grace period ran out). */
  destroyAll(): void {
    for (const conn of this.connections) conn.socket.destroy();
  }
}
