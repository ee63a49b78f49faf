// What every listener shares: its servers, its open connections, wsgi.errors
// into the log, and the drain on shutdown (stop accepting, let busy
// connections finish, close idle ones). A listener says how a connection is
// served (`connect`) and how its address reads in the log (`describe`).

import net from 'node:net';
import type { RequestObserver } from '../access-log.js';
import type { Logger } from '../log.js';
import type { ErrorStream } from '../pipeline/types.js';
import { bind, type ListenAddress, type SocketOwner } from './bind.js';
import { unlimited, type ConnectionBudget } from './budget.js';
import { sweepDeadlines, type Expiring } from './deadlines.js';

export interface ListenerConnection extends Expiring {
  readonly socket: net.Socket;
  /** Shutdown: close now if idle, else after what is in flight. */
  drain(): void;
}

/** What every listener of one server shares (none, for a listener made on its own: tests, embedding). */
export interface ListenerShared {
  budget?: ConnectionBudget;
  observer?: RequestObserver | null;
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
  /** Shared by every listener of the server: --max-connections, --max-connections-per-ip. */
  readonly budget: ConnectionBudget;
  /** Told of every answered request: --access-log, --metrics (null: neither). */
  readonly observer: RequestObserver | null;
  private refusedLogTimer: NodeJS.Timeout | null = null;
  /** One timer for every connection's deadline (deadlines.ts). */
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    readonly log: Logger,
    shared: ListenerShared = {},
  ) {
    this.budget = shared.budget ?? unlimited();
    this.observer = shared.observer ?? null;
    this.sweeper = sweepDeadlines(this.connections, () => this.afterSweep());
  }

  /** After each sweep of deadlines (HTTP logs the slowloris connections it closed). */
  protected afterSweep(): void {}

  /** Answer a connection over the budget (a 503 where the protocol has one), then close it. */
  protected refuse(socket: net.Socket): void {
    socket.destroy();
  }

  /** Send `answer` and close: the request is read and dropped, so the close does not reset the answer away. */
  protected answerAndClose(socket: net.Socket, answer: string): void {
    socket.resume();
    socket.end(answer);
    setTimeout(() => socket.destroy(), 2000).unref();
  }

  /** Serve one accepted connection. */
  protected abstract connect(socket: net.Socket): C;

  /** How `where` (`HOST:PORT`, `[IPv6]:PORT` or `unix:/path`) reads in the log. */
  protected abstract describe(where: string): string;

  /** The server for one address: plain TCP (or unix); a TLS listener overrides it. */
  protected createServer(onConnection: (socket: net.Socket) => void): net.Server {
    return net.createServer({ noDelay: true, allowHalfOpen: this.allowHalfOpen }, onConnection);
  }

  /** Bind `address`; resolves with a printable description of where we listen. `reusePort`: see bind(). */
  async listen(address: ListenAddress, socketMode: number, reusePort = false, owner: SocketOwner | null = null): Promise<string> {
    const server = this.createServer((socket) => {
      if (this.closing) return void socket.destroy();
      const over = this.budget.admit(socket);
      if (over !== null) return this.overBudget(socket, over);
      // its place in the budget is given back in connectionOnClose: no listener of its own per socket
      this.connections.add(this.connect(socket));
    });
    this.servers.push(server);
    const where = await bind(
      server,
      address,
      socketMode,
      (err) => this.log.error(`listener error on ${this.describe('')}: ${err.message}`),
      reusePort,
      owner,
    );
    return this.describe(where);
  }

  private overBudget(socket: net.Socket, why: string): void {
    this.budget.refused++;
    socket.on('error', () => {});
    this.refuse(socket);
    // one line per 10 s at most: a flood must not flood the log too
    if (this.refusedLogTimer) return;
    const first = this.budget.refused;
    this.log.warning(`refusing connections: already holding ${why}`);
    this.refusedLogTimer = setTimeout(() => {
      this.refusedLogTimer = null;
      const more = this.budget.refused - first;
      if (more > 0) this.log.warning(`refused ${more} more connection(s) over the limit in the last 10s`);
    }, 10_000);
    this.refusedLogTimer.unref();
  }

  /** A connection's socket closed (each connection calls this from its 'close' listener). */
  connectionOnClose(conn: C): void {
    if (this.connections.delete(conn)) this.budget.release(conn.socket);
    if (this.drained && this.connections.size === 0) this.drained();
  }

  /**
   * Stop accepting; close idle connections now and busy ones after their response. (net.Server's
   * close callback comes only once every connection is gone, so the connections are drained
   * before it, not after: idle kept-alive ones would otherwise hold the drain until their client
   * closed them, or --graceful-timeout. The sweep goes on meanwhile: a closed connection's linger,
   * a client that reads nothing, still end.)
   */
  async close(): Promise<void> {
    this.closing = true;
    const stopped = Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    const done = new Promise<void>((resolve) => (this.drained = resolve));
    for (const conn of this.connections) conn.drain();
    if (this.connections.size > 0) await done;
    await stopped;
    clearInterval(this.sweeper);
  }

  /** Abort every connection at once (the grace period ran out). */
  destroyAll(): void {
    for (const conn of this.connections) conn.socket.destroy();
  }
}
