// The WebSocket load generator (there is no wrk for WebSockets): N client
// connections over node:net, each sending a text message and waiting for its
// echo before sending the next, for D seconds. Run as a child process by
// bench/ws-load.ts, so its CPU is the load generator's, as wrk's is, and the
// bench's own event loop stays free for its samplers.
//
//   node dist/bench/ws-client.js PORT PATH CONNECTIONS SECONDS DEFLATE(0|1) MAX_ROUND_TRIPS
//
// It prints one line `WSJSON {...}` with wrk's summary fields (requests are
// round trips; latency from a message's send to its echo's last byte) and
// exits. Bounded: SECONDS of load (or MAX_ROUND_TRIPS, whichever comes first),
// then a close handshake per connection with 2 s to finish it.
//
// Frames out are the codec's own (frames.ts encodeMessage with a mask, and
// PerMessageDeflate for RSV1 messages); frames in are read by the small
// client-side reader below, since the codec's FrameParser is a server's (it
// fails on unmasked frames, as RFC 6455 §5.1 tells a server to).

import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { PerMessageDeflate } from '../src/protocols/websocket/deflate.js';
import { parseExtensions } from '../src/protocols/websocket/extensions.js';
import { encodeClose, encodeMessage } from '../src/protocols/websocket/frames.js';
import { acceptKey } from '../src/protocols/websocket/handshake.js';
import { applyMask } from '../src/protocols/websocket/mask.js';
import { WS_MARK } from './ws-load.js';

/** The client's permessage-deflate offer: what browsers send. */
const OFFER = 'permessage-deflate; client_max_window_bits';
const MAX_MESSAGE = 1 << 20;

// The messages: ~420 bytes of chat-like JSON whose words change with the sequence number, so compression
// sees text that repeats in kind but not byte for byte (as a chat's does).
const WORDS = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna'.split(
  ' ',
);
function message(conn: number, seq: number): Buffer {
  const words: string[] = [];
  for (let i = 0; i < 40; i++) words.push(WORDS[(seq * 7 + i * (conn + 3)) % WORDS.length]!);
  const text = words.join(' ');
  return Buffer.from(
    JSON.stringify({ type: 'message', room: `room-${conn % 8}`, user: `user-${conn}`, seq, sent: 1_764_000_000_000 + seq, text }),
  );
}

interface Totals {
  roundTrips: number;
  /** when the last round trip ended (hrtime ns) */
  lastAt: bigint;
  latenciesUs: Float64Array;
  errors: { connect: number; read: number; write: number; timeout: number; status: number };
}

/** Opcodes and flags of the frames a server sends (RFC 6455 §5.2). */
const FIN = 0x80;
const RSV1 = 0x40;

/**
 * Server frames in, whole messages out: unmasked frames, fragmented messages joined, RSV1 messages inflated.
 * Control frames: a ping is answered with a pong, a close ends the connection. Enough for an echo client.
 */
class ClientReader {
  private buf: Buffer = Buffer.alloc(0);
  private pieces: Buffer[] = [];
  private compressed = false;

  constructor(
    private readonly deflate: PerMessageDeflate | null,
    private readonly onMessage: (data: Buffer) => void,
    private readonly onControl: (opcode: number, payload: Buffer) => void,
  ) {}

  receive(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      if (b[1]! & 0x80) throw new Error('a server frame is masked');
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = b.readUInt32BE(2) * 0x100000000 + b.readUInt32BE(6);
        off = 10;
      }
      if (len > MAX_MESSAGE) throw new Error(`a frame of ${len} bytes`);
      if (b.length < off + len) return;
      const payload = b.subarray(off, off + len);
      this.buf = b.subarray(off + len);
      this.frame(b[0]!, payload);
    }
  }

  private frame(first: number, payload: Buffer): void {
    const opcode = first & 0x0f;
    if (opcode >= 8) return this.onControl(opcode, payload);
    if (opcode !== 0) this.compressed = (first & RSV1) !== 0;
    this.pieces.push(payload);
    if ((first & FIN) === 0) return;
    const pieces = this.pieces;
    this.pieces = [];
    if (!this.compressed) return this.onMessage(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces));
    if (this.deflate === null) throw new Error('a compressed message, but no permessage-deflate was agreed');
    const out = this.deflate.decompress(pieces, MAX_MESSAGE);
    if (out instanceof Promise) throw new Error('an echo too large to inflate at once');
    this.onMessage(out);
  }
}

/** The agreed permessage-deflate from the server's answer, seen from the client (our sends are the "server" side of the class). */
function clientDeflate(header: string | undefined): PerMessageDeflate | null {
  if (header === undefined) return null;
  const offer = parseExtensions([header])?.find((e) => e.name === 'permessage-deflate');
  if (!offer) return null;
  const p = new Map(offer.params);
  return new PerMessageDeflate(
    {
      serverNoContextTakeover: p.has('client_no_context_takeover'),
      serverMaxWindowBits: Number(p.get('client_max_window_bits') ?? 15),
      clientNoContextTakeover: p.has('server_no_context_takeover'),
      clientMaxWindowBits: Number(p.get('server_max_window_bits') ?? 15),
    },
    { threshold: 0, asyncAbove: MAX_MESSAGE + 1 },
  );
}

/** Open one WebSocket: resolves with the socket, the bytes after the 101's head and the agreed compression. */
function open(
  port: number,
  path: string,
  offerDeflate: boolean,
): Promise<{ sock: Socket; rest: Buffer; deflate: PerMessageDeflate | null }> {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    const sock = connect({ host: '127.0.0.1', port, noDelay: true });
    let head = Buffer.alloc(0);
    const fail = (why: string): void => {
      sock.destroy();
      reject(new Error(why));
    };
    sock.setTimeout(10_000, () => fail('no handshake answer in 10 s'));
    sock.on('error', (err) => fail(err.message));
    sock.on('connect', () => {
      sock.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
          `${offerDeflate ? `Sec-WebSocket-Extensions: ${OFFER}\r\n` : ''}\r\n`,
      );
    });
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      sock.off('data', onData);
      sock.setTimeout(0);
      const lines = head.subarray(0, end).toString('latin1').split('\r\n');
      if (!/^HTTP\/1\.1 101 /.test(lines[0] ?? '')) return fail(`handshake answered ${lines[0]}`);
      const headers = new Map(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      if (headers.get('sec-websocket-accept') !== acceptKey(key)) return fail('wrong Sec-WebSocket-Accept');
      sock.removeAllListeners('error');
      resolve({ sock, rest: head.subarray(end + 4), deflate: clientDeflate(headers.get('sec-websocket-extensions')) });
    };
    sock.on('data', onData);
  });
}

/** One connection's loop: send, wait for the echo, check it, record the latency, until `deadline`. */
async function drive(conn: number, port: number, path: string, offerDeflate: boolean, deadline: bigint, totals: Totals, max: number) {
  let ws: Awaited<ReturnType<typeof open>>;
  try {
    ws = await open(port, path, offerDeflate);
  } catch {
    totals.errors.connect++;
    return;
  }
  const { sock, deflate } = ws;
  const key = randomBytes(4);
  let seq = 0;
  let expected: Buffer = Buffer.alloc(0);
  let sentAt = 0n;
  let finished: () => void = () => {};
  const done = new Promise<void>((r) => (finished = r));
  let closing = false;

  const send = (): void => {
    if (process.hrtime.bigint() >= deadline || totals.roundTrips >= max) {
      closing = true;
      sock.write(maskedClose(key));
      sock.setTimeout(2000, () => sock.destroy());
      return;
    }
    expected = message(conn, seq++);
    const payload = deflate ? deflate.compress(expected) : expected;
    if (payload instanceof Promise) throw new Error('compress went async');
    sentAt = process.hrtime.bigint();
    for (const frame of encodeMessage(true, payload, { mask: key, compressed: deflate !== null })) sock.write(frame);
  };
  const reader = new ClientReader(
    deflate,
    (data) => {
      if (closing) return;
      const us = Number(process.hrtime.bigint() - sentAt) / 1000;
      if (!data.equals(expected)) totals.errors.status++;
      if (totals.roundTrips < totals.latenciesUs.length) totals.latenciesUs[totals.roundTrips] = us;
      totals.roundTrips++;
      totals.lastAt = process.hrtime.bigint();
      send();
    },
    (opcode, payload) => {
      if (opcode === 0x9) sock.write(encodeMessageControl(0xa, payload, key));
      else if (opcode === 0x8) {
        if (!closing) totals.errors.read++; // the server closed first
        sock.end();
      }
    },
  );
  sock.on('data', (chunk: Buffer) => {
    try {
      reader.receive(chunk);
    } catch {
      totals.errors.read++;
      sock.destroy();
    }
  });
  sock.on('error', () => {
    if (!closing) totals.errors.read++;
  });
  sock.on('close', () => finished());
  if (ws.rest.length > 0) reader.receive(ws.rest);
  send();
  await done;
}

/** A masked control frame (pong, close): the client must mask every frame. */
function encodeMessageControl(opcode: number, payload: Buffer, key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(6 + payload.length);
  out[0] = 0x80 | opcode;
  out[1] = 0x80 | payload.length;
  key.copy(out, 2);
  payload.copy(out, 6);
  applyMask(out.subarray(6), key, 0);
  return out;
}

function maskedClose(key: Buffer): Buffer {
  const frame = encodeClose(1000);
  return encodeMessageControl(0x8, frame.subarray(2), key);
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const [port, path, connections, seconds, deflate, max] = process.argv.slice(2);
  if (max === undefined) {
    process.stderr.write('usage: ws-client.js PORT PATH CONNECTIONS SECONDS DEFLATE(0|1) MAX_ROUND_TRIPS\n');
    process.exit(2);
  }
  const maxRoundTrips = Number(max);
  const totals: Totals = {
    roundTrips: 0,
    lastAt: 0n,
    latenciesUs: new Float64Array(Math.min(maxRoundTrips, 20_000_000)),
    errors: { connect: 0, read: 0, write: 0, timeout: 0, status: 0 },
  };
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(Math.round(Number(seconds) * 1e9));
  const runs = Array.from({ length: Number(connections) }, (_, i) =>
    drive(i, Number(port), path!, deflate === '1', deadline, totals, maxRoundTrips),
  );
  // a connection that outlives the run by 5 s is abandoned (counted as a timeout)
  const bound = new Promise<'late'>((r) => setTimeout(() => r('late'), Number(seconds) * 1000 + 5000).unref());
  if ((await Promise.race([Promise.all(runs), bound])) === 'late') totals.errors.timeout++;
  // the load's time: to the last echo (the close handshakes after it are not part of it)
  const elapsedUs = totals.lastAt > t0 ? Number(totals.lastAt - t0) / 1000 : 0;
  const n = Math.min(totals.roundTrips, totals.latenciesUs.length);
  const sorted = totals.latenciesUs.subarray(0, n).sort();
  const e = totals.errors;
  process.stdout.write(
    `${WS_MARK}${JSON.stringify({
      requests: totals.roundTrips,
      duration_us: Math.round(elapsedUs),
      p50: Math.round(percentile(sorted, 50)),
      p99: Math.round(percentile(sorted, 99)),
      max: Math.round(n > 0 ? sorted[n - 1]! : 0),
      connect: e.connect,
      read: e.read,
      write: e.write,
      timeout: e.timeout,
      status: e.status,
    })}\n`,
  );
  process.exit(0);
}

void main();
