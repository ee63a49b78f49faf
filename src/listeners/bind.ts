// Binding a listener's net.Server to an Address: TCP, or a unix socket made
// with the requested mode (a stale socket left by an earlier run is removed;
// never a regular file), or a listening socket inherited from systemd
// (socket activation). Shared by every listener.

import cluster from 'node:cluster';
import type net from 'node:net';
import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import type { Address } from '../address.js';

/** Where a listener listens: an address of the command line, or a descriptor systemd passed (LISTEN_FDS). */
export type ListenAddress = Address | { kind: 'fd'; fd: number };

/**
 * Listen on `address`; resolves with where: `HOST:PORT`, `[IPv6]:PORT`, `unix:/path` (or `fd:N` when it cannot say).
 * `reusePort`: one of --gateways N binds a TCP port (not 0) with a socket of its own in the port's SO_REUSEPORT group.
 */
export function bind(
  server: net.Server,
  address: ListenAddress,
  socketMode: number,
  onError: (err: Error) => void,
  reusePort = false,
): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const ready = (): void => {
      server.off('error', reject);
      server.on('error', onError);
      if (address.kind === 'unix') {
        chmodSync(address.path, socketMode);
        resolve(`unix:${address.path}`);
        return;
      }
      const a = server.address();
      if (typeof a === 'string') resolve(`unix:${a}`);
      else if (a === null) resolve(`fd:${address.kind === 'fd' ? address.fd : '?'}`);
      else resolve(a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`);
    };
    if (address.kind === 'fd') {
      server.listen({ fd: address.fd }, ready);
    } else if (address.kind === 'unix') {
      // one of --gateways N: the primary removed it before the first gateway, and the socket there now is the live one
      if (!cluster.isWorker) removeStaleSocket(address.path);
      server.listen(address.path, ready);
    } else {
      const own = reusePort && address.port !== 0 ? { reusePort: true } : {}; // (port 0: one shared socket, one port)
      server.listen({ host: address.host, port: address.port, backlog: 2048, ...own }, ready);
    }
  });
}

/** A socket file left at `path` by an earlier run (never a regular file). */
export function removeStaleSocket(path: string): void {
  if (!existsSync(path)) return;
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // listen() reports the real problem
  }
}

/** Whether this Node binds with SO_REUSEPORT (`reusePort`, Node 22.12 and 23.1 on). */
export function canReusePort(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}
