// Binding a listener's net.Server to an Address: TCP, or a unix socket made
// with the requested mode (a stale socket left by an earlier run is removed;
// never a regular file). Shared by every listener.

import net from 'node:net';
import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import type { Address } from '../config/load.js';

/** Listen on `address`; resolves with where: `HOST:PORT`, `[IPv6]:PORT` or `unix:/path`. */
export function bind(server: net.Server, address: Address, socketMode: number, onError: (err: Error) => void): Promise<string> {
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
      const a = server.address() as net.AddressInfo;
      resolve(a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`);
    };
    if (address.kind === 'unix') {
      if (existsSync(address.path)) removeStaleSocket(address.path);
      server.listen(address.path, ready);
    } else {
      server.listen({ host: address.host, port: address.port, backlog: 2048 }, ready);
    }
  });
}

function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // listen() reports the real problem
  }
}
