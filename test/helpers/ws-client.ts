// A bare WebSocket client over node:net for the tests that need to misbehave
// (never read, send an unmasked frame, invalid UTF-8, close first): the
// handshake by hand, frames masked with the codec's encoder, the server's
// (unmasked, uncompressed: no extension is offered) frames read here.

import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { encodeClose, encodeFrame, encodeMessage } from '../../src/protocols/websocket/frames.js';

export interface ServerFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

export class WsClient {
  /** The handshake's answer (status line and headers), as text. */
  head = '';
  private buf = Buffer.alloc(0);
  private readonly frames: ServerFrame[] = [];
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      this.parse();
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  /** Connect and send the handshake for `path`; resolves once the answer's head is in. */
  static async connect(port: number, path: string, extra = ''): Promise<WsClient> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const c = new WsClient(socket);
    const key = randomBytes(16).toString('base64');
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
    );
    await c.until(() => c.head !== '' || c.closed);
    return c;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private parse(): void {
    if (this.head === '') {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.head = this.buf.subarray(0, end).toString('latin1');
      this.buf = this.buf.subarray(end + 4);
      if (!this.head.startsWith('HTTP/1.1 101')) return; // the rest is an HTTP body
    }
    for (;;) {
      if (this.buf.length < 2) return;
      let len = this.buf[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) return;
      this.frames.push({ fin: (this.buf[0]! & 0x80) !== 0, opcode: this.buf[0]! & 0x0f, payload: this.buf.subarray(off, off + len) });
      this.buf = this.buf.subarray(off + len);
    }
  }

  /** The bytes after a non-101 answer's head (its body). */
  get rest(): Buffer {
    return this.buf;
  }

  async until(ok: () => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ok()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting on the WebSocket');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The next frame from the server (null once the connection closed with none left). */
  async next(): Promise<ServerFrame | null> {
    await this.until(() => this.frames.length > 0 || this.closed);
    return this.frames.shift() ?? null;
  }

  /** The next data message's text (control frames skipped). */
  async text(): Promise<string> {
    for (;;) {
      const f = await this.next();
      if (f === null) throw new Error('closed before a message');
      if (f.opcode === 1) return f.payload.toString('utf8');
    }
  }

  sendText(text: string): void {
    for (const b of encodeMessage(true, Buffer.from(text), { mask: randomBytes(4) })) this.socket.write(b);
  }

  sendBinary(data: Buffer, maxFrame?: number): void {
    const options = maxFrame === undefined ? { mask: randomBytes(4) } : { mask: randomBytes(4), maxFrame };
    for (const b of encodeMessage(false, data, options)) this.socket.write(b);
  }

  /** A raw frame, masked unless `unmasked`. */
  sendFrame(opcode: number, payload: Buffer, unmasked = false, fin = true): void {
    this.socket.write(encodeFrame(opcode, payload, unmasked ? { fin } : { fin, mask: randomBytes(4) }));
  }

  sendClose(code: number, reason = ''): void {
    const frame = encodeClose(code, reason);
    // mask it as a client must: re-encode its payload
    this.sendFrame(8, frame.subarray(2));
  }

  /** The close frame's code from the server (reads until it comes). */
  async closeCode(): Promise<number | null> {
    for (;;) {
      const f = await this.next();
      if (f === null) return null;
      if (f.opcode === 8) return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}
