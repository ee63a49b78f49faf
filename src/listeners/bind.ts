// Binding a listener's net.Server to an Address: TCP, a unix socket, or a
// listening socket inherited from systemd (socket activation). Shared by every
// listener, --metrics and --control.
//
// A unix socket path is claimed with care (issue 14: a second warpipe took a
// live socket over, and the first one's exit then deleted the second's):
//   - the parent directory must exist (a missing one is said as missing);
//   - something that is not a socket is never removed;
//   - a socket that accepts a connection is live: "address already in use";
//     only one that refuses connections (ECONNREFUSED) is stale and removed;
//   - the socket is bound under a private name beside the path, given its mode
//     and owner there, then hard-linked into place (link(2) fails if the path
//     was taken meanwhile) and the private name unlinked. So nobody ever sees
//     the path with the wrong permissions, and libuv, which unlinks the name
//     it bound when the server closes, unlinks only that private name;
//   - on exit the path is removed only if it is still the socket we made (same
//     device and inode), so an instance that exits cannot delete the socket of
//     one started after it.
// One of --gateways N does not bind: the primary does, through node:cluster,
// under the private name the primary chose, and publishes it (src/primary.ts).

import cluster from 'node:cluster';
import net from 'node:net';
import { chmodSync, chownSync, linkSync, lstatSync, renameSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Address } from '../address.js';
import { ConfigCheckError } from '../errors.js';

/** Where a listener listens: an address of the command line, or a descriptor systemd passed (LISTEN_FDS). */
export type ListenAddress = Address | { kind: 'fd'; fd: number };

/** Who a unix socket is given to (`chown`); -1 leaves that id as it is. */
export interface SocketOwner {
  uid: number;
  gid: number;
}

/**
 * Listen on `address`; resolves with where: `HOST:PORT`, `[IPv6]:PORT`, `unix:/path` (or `fd:N` when it cannot say).
 * `reusePort`: one of --gateways N binds a TCP port (not 0) with a socket of its own in the port's SO_REUSEPORT group.
 * `owner`: a unix socket is given to it before it appears at its path.
 */
export async function bind(
  server: net.Server,
  address: ListenAddress,
  socketMode: number,
  onError: (err: Error) => void,
  reusePort = false,
  owner: SocketOwner | null = null,
): Promise<string> {
  if (address.kind === 'unix') {
    if (cluster.isWorker)
      await listen(server, privateName(address.path, process.ppid)); // the primary publishes it
    else await bindUnix(server, address.path, socketMode, owner);
    server.on('error', onError);
    return `unix:${address.path}`;
  }
  if (address.kind === 'fd') await listen(server, { fd: address.fd });
  else {
    const own = reusePort && address.port !== 0 ? { reusePort: true } : {}; // (port 0: one shared socket, one port)
    await listen(server, { host: address.host, port: address.port, backlog: 2048, ...own });
  }
  server.on('error', onError);
  const a = server.address();
  if (typeof a === 'string') return `unix:${a}`;
  if (a === null) return `fd:${address.kind === 'fd' ? address.fd : '?'}`;
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

function listen(server: net.Server, where: string | net.ListenOptions | { fd: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const listening = (): void => {
      server.off('error', reject);
      resolve();
    };
    if (typeof where === 'string') server.listen(where, listening);
    // { fd } is a handle, not ListenOptions
    else if ('fd' in where) server.listen(where as object, listening);
    else server.listen(where, listening);
  });
}

/** The name a socket for `path` is bound under before it is published: beside it (link(2) needs the same filesystem). */
export function privateName(path: string, pid: number): string {
  return join(dirname(path), `.${basename(path)}.${pid}.bind`);
}

async function bindUnix(server: net.Server, path: string, mode: number, owner: SocketOwner | null): Promise<void> {
  await claimSocketPath(path);
  const temp = privateName(path, process.pid);
  removeIfSocket(temp); // left by a process of this pid that was killed
  await listen(server, temp);
  try {
    publishSocket(temp, path, mode, owner);
  } catch (err) {
    server.close();
    throw err;
  }
}

/** An error that reads as a taken port does ("address already in use"): exit 1. */
export function inUse(path: string, why: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`address already in use (${why})`), { code: 'EADDRINUSE', path });
}

/**
 * Make `path` free for a socket of ours, or say why not: its directory missing (ConfigCheckError: exit 2),
 * something there that is not a socket (the same), a socket something accepts on (EADDRINUSE: exit 1).
 * A socket that refuses connections is stale, left by a process that died, and is removed.
 */
export async function claimSocketPath(path: string): Promise<void> {
  const st = checkSocketPath(path);
  if (!st) return;
  const answer = await probe(path);
  if (answer === 'live') throw inUse(path, 'a running server accepts connections on it');
  if (answer !== 'stale') throw inUse(path, `cannot tell whether a server accepts connections on it: ${answer}`);
  const now = lstatSync(path, { throwIfNoEntry: false });
  if (now && sameFile(now, st)) unlinkSync(path);
}

/** What is at `path` (undefined: nothing), once its directory exists and nothing but a socket is there; else a ConfigCheckError. */
export function checkSocketPath(path: string): Stats | undefined {
  const dir = dirname(path);
  const d = statSync(dir, { throwIfNoEntry: false });
  if (!d) throw new ConfigCheckError(`no such directory ${dir}`);
  if (!d.isDirectory()) throw new ConfigCheckError(`${dir} is not a directory`);
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st && !st.isSocket()) throw new ConfigCheckError(`${path} is there and is not a socket (warpipe removes only stale sockets)`);
  return st;
}

/** Connect to the socket at `path`: 'live' (it accepted, or its backlog is full), 'stale' (refused, or gone), else the error code. */
function probe(path: string): Promise<'live' | 'stale' | string> {
  return new Promise((resolve) => {
    const sock = net.connect(path);
    sock.once('connect', () => {
      sock.destroy();
      resolve('live');
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      sock.destroy();
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve('stale');
      else if (err.code === 'EAGAIN') resolve('live');
      else resolve(err.code ?? err.message);
    });
  });
}

/**
 * Give the socket bound at `temp` its mode and owner, and put it at `path`: link(2), which fails if `path` exists
 * (EADDRINUSE then), or where the filesystem has no hard links, rename(2) (the path was just found free). The socket
 * is then ours to remove on exit. Returns false (and changes nothing) when `temp` is gone: published already.
 */
export function publishSocket(temp: string, path: string, mode: number, owner: SocketOwner | null): boolean {
  const made = lstatSync(temp, { throwIfNoEntry: false });
  if (!made) return false;
  try {
    chmodSync(temp, mode);
    if (owner) chownSync(temp, owner.uid, owner.gid);
    const there = lstatSync(path, { throwIfNoEntry: false });
    if (there && owned.get(path) === fileId(there)) unlinkSync(path); // ours, from a socket since closed (every gateway died)
    try {
      linkSync(temp, path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw inUse(path, 'another server made it while this one started');
      if (code !== 'EPERM' && code !== 'EXDEV' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
      renameSync(temp, path);
    }
  } finally {
    removeIfSocket(temp);
  }
  removeOnExit(path, fileId(made));
  return true;
}

/** The sockets this process made, by path: their `dev:ino`, removed on exit if the path still names them. */
const owned = new Map<string, string>();

const fileId = (st: Stats): string => `${st.dev}:${st.ino}`;
const sameFile = (a: Stats, b: Stats): boolean => fileId(a) === fileId(b);

function removeOnExit(path: string, id: string): void {
  if (owned.size === 0) process.once('exit', removeOwnSockets);
  owned.set(path, id);
}

/** Remove every socket this process made whose path still names it (another instance's socket there is left alone). */
export function removeOwnSockets(): void {
  for (const [path, id] of owned) {
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st && fileId(st) === id) {
      try {
        unlinkSync(path);
      } catch {
        // a directory we may no longer write to (after --user): the next start removes it, as a stale socket
      }
    }
  }
  owned.clear();
}

function removeIfSocket(path: string): void {
  try {
    if (lstatSync(path, { throwIfNoEntry: false })?.isSocket()) unlinkSync(path);
  } catch {
    // bind reports the real problem
  }
}

/** Whether this Node binds with SO_REUSEPORT (`reusePort`, Node 22.12 and 23.1 on). */
export function canReusePort(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}
