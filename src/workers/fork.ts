// --preload: where forked workers connect back. Node cannot make socketpairs
// for a process it did not spawn, so a worker forked by the template connects
// its control and request sockets to this unix socket instead. It lives in a
// private directory (mode 0700) made at startup, and every connection must
// first present a HELLO with the worker's id and a random token known only to
// the gateway and the template; anything else is dropped.

import net from 'node:net';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HEADER_SIZE, T } from './frame.js';
import type { WorkerProcess } from './worker.js';

const TOKEN_BYTES = 32;
/** HELLO payload: u32le worker id, u8 role, u8 thread index, token. */
const HELLO_SIZE = HEADER_SIZE + 6 + TOKEN_BYTES;
/** A connection that has not said HELLO within this long is dropped. */
const HELLO_TIMEOUT_MS = 10_000;

export class ForkServer {
  readonly path: string;
  private readonly dir: string;
  private readonly token = randomBytes(TOKEN_BYTES);
  private readonly pending = new Map<number, WorkerProcess>();
  private nextId = 1;
  private readonly server: net.Server;

  private constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'warpipe-fork-'));
    chmodSync(this.dir, 0o700);
    this.path = join(this.dir, 'fork.sock');
    this.server = net.createServer((sock) => this.serverOnConnection(sock));
  }

  static async open(): Promise<ForkServer> {
    const fs = new ForkServer();
    await new Promise<void>((resolve, reject) => {
      fs.server.once('error', reject);
      fs.server.listen(fs.path, () => resolve());
    });
    fs.server.unref();
    return fs;
  }

  /** A template is about to fork `worker`: the id and token its sockets' HELLO must carry. */
  expect(worker: WorkerProcess): { id: number; token: Buffer } {
    // workers that died before all their sockets came are not waited for any more
    for (const [id, w] of this.pending) if (w.state === 'exited') this.pending.delete(id);
    const id = this.nextId++;
    this.pending.set(id, worker);
    return { id, token: this.token };
  }

  close(): void {
    this.server.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private serverOnConnection(sock: net.Socket): void {
    let head: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => sock.destroy(), HELLO_TIMEOUT_MS);
    sock.on('error', () => {});
    const onData = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      if (head.length < HELLO_SIZE) return;
      sock.off('data', onData);
      sock.pause();
      clearTimeout(timer);
      // bytes the worker sent after its HELLO belong to the channel: back to the stream, which
      // stays paused until the worker has a reader on it (WorkerProcess.attach resumes it)
      const rest = head.subarray(HELLO_SIZE);
      if (rest.length > 0) sock.unshift(rest);
      if (!this.admit(head.subarray(0, HELLO_SIZE), sock)) sock.destroy();
    };
    sock.on('data', onData);
  }

  private admit(hello: Buffer, sock: net.Socket): boolean {
    if (hello.readUInt32LE(0) !== HELLO_SIZE - HEADER_SIZE || hello[4] !== T.HELLO) return false;
    if (!timingSafeEqual(hello.subarray(HEADER_SIZE + 6), this.token)) return false;
    const id = hello.readUInt32LE(HEADER_SIZE);
    const worker = this.pending.get(id);
    if (!worker) return false;
    if (!worker.attach(hello[HEADER_SIZE + 4]!, hello[HEADER_SIZE + 5]!, sock)) return false;
    if (worker.channels.length > 0) this.pending.delete(id); // every socket is in
    return true;
  }
}
