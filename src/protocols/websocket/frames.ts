// WebSocket frames (RFC 6455 §5), server side, sans-I/O: the client's bytes in
// through receive(), events out of next() (messages whole, pings, pongs, the
// close, or the failure to close with), and the frames we send.
//
// Rule 1: strict. Whatever RFC 6455 says a server MUST fail on is a `fail`
// event with the close code to send (1002, 1007, 1009), never a throw, and
// the parser is done after it (and after a `close`): later bytes are dropped.
// That includes non-minimal payload lengths (§5.2: "the minimal number of
// bytes MUST be used to encode the length"), which ws and Python's websockets
// let through.
// Rule 2: split-invariant. A frame's header is judged as its bytes come (the
// first two bytes before the extended length), payloads are taken as they
// arrive, so the events are the same however the stream was cut into reads.
// Rule 3: bounded. A data frame whose declared length would take the message
// past maxMessage fails (1009) when its header is read, before any of its
// payload is held. Once next() has said NEED_DATA, the parser holds at most
// maxMessage bytes of message, a control frame's 125 and a partial header's 13
// (bufferedBytes). Payload pieces are unmasked in place (the chunks handed to
// receive() become the parser's) and kept as views; small ones are gathered
// into blocks so that a message dripped a byte a frame costs its bytes, not a
// Buffer object per byte.
// Rule 4: a compressed message (permessage-deflate, RSV1 on its first frame) is
// inflated once whole (deflate.ts). Below its async threshold that happens
// inside next(); above it next() returns a Promise of the event, and the
// parser waits for it: call next() again only once it settled (receive() may
// go on meanwhile, but the caller should pause its socket).

import { isUtf8 } from 'node:buffer';
import { LocalProtocolError } from '../../errors.js';
import { NEED_DATA } from '../need-data.js';
import type { PerMessageDeflate } from './deflate.js';
import { applyMask } from './mask.js';
import { CloseCode, MAX_CLOSE_REASON, MAX_CONTROL_PAYLOAD, MAX_HEADER, Opcode, WebSocketFailure, isValidCloseCode } from './rfc6455.js';
import { Utf8Validator } from './utf8.js';

export { NEED_DATA };

/** A whole data message: defragmented, inflated, and for text checked to be UTF-8 (`data` holds the UTF-8 bytes). */
export interface WsMessage {
  readonly kind: 'message';
  text: boolean;
  data: Buffer;
}
export interface WsPing {
  readonly kind: 'ping';
  data: Buffer;
}
export interface WsPong {
  readonly kind: 'pong';
  data: Buffer;
}
/** The client's close frame: its code (1005 when it sent none) and reason. The parser is done. */
export interface WsClose {
  readonly kind: 'close';
  code: number;
  reason: string;
}
/** The client broke the protocol or a limit: close with `code` (1002, 1007, 1009) and drop it. The parser is done. */
export interface WsFail {
  readonly kind: 'fail';
  code: number;
  reason: string;
}
export type WsEvent = WsMessage | WsPing | WsPong | WsClose | WsFail;

export interface ParserOptions {
  /** The largest message, in bytes (compressed and inflated alike); larger fails with 1009. */
  maxMessage: number;
  /** The connection's permessage-deflate when negotiated: RSV1 is allowed and means compressed. */
  deflate?: PerMessageDeflate | null;
}

const EMPTY = Buffer.alloc(0);
/** Payload pieces shorter than this are copied into a block instead of kept as views. */
const GATHER_BELOW = 1024;
const BLOCK = 16 * 1024;
const MIN_BLOCK = 256;

const HEADER = 0;
const PAYLOAD = 1;
const WAIT = 2; // a Promise from next() has not settled
const DONE = 3;

/**
 * The server's reader of a client's frames.
 * @example
 * const parser = new FrameParser({ maxMessage: 16 * 1024 * 1024 });
 * socket.on('data', async (chunk) => {
 *   parser.receive(chunk);
 *   for (let ev = parser.next(); ev !== NEED_DATA; ev = parser.next()) {
 *     if (ev instanceof Promise) ev = await ev; // only for big compressed messages (pause the socket meanwhile)
 *     handle(ev);
 *   }
 * });
 */
export class FrameParser {
  private readonly maxMessage: number;
  private readonly deflate: PerMessageDeflate | null;
  private state = HEADER;
  // received, not yet consumed
  private readonly chunks: Buffer[] = [];
  private first = 0;
  private pos = 0;
  private queued = 0;
  private readonly header = Buffer.alloc(MAX_HEADER);
  // the frame being read
  private opcode = 0;
  private fin = false;
  private remaining = 0;
  private phase = 0;
  private readonly key = Buffer.alloc(4);
  private control: Buffer = EMPTY;
  private controlFilled = 0;
  // the message being gathered
  private messageOpcode = 0; // 0: none
  private compressed = false;
  private pieces: Buffer[] = [];
  private messageBytes = 0;
  private block: Buffer | null = null;
  private blockUsed = 0;
  private readonly utf8 = new Utf8Validator();

  constructor(options: ParserOptions) {
    this.maxMessage = options.maxMessage;
    this.deflate = options.deflate ?? null;
  }

  /** Hand over the next bytes from the client (they are unmasked in place). Ignored once the parser is done. */
  receive(chunk: Buffer): void {
    if (this.state === DONE || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.queued += chunk.length;
  }

  /** Bytes held: received and not yet consumed, plus the message and control payload gathered so far. */
  get bufferedBytes(): number {
    return this.queued + this.messageBytes + this.controlFilled;
  }

  /** Whether the parser is done (after a `close` or `fail` event). */
  get done(): boolean {
    return this.state === DONE;
  }

  /**
   * The next event; NEED_DATA when the bytes so far hold none; a Promise of the
   * event while a big compressed message inflates (see Rule 4).
   */
  next(): WsEvent | typeof NEED_DATA | Promise<WsEvent> {
    if (this.state === WAIT) throw new LocalProtocolError('ERR_WS_BUSY', 'FrameParser.next() while a message inflates', 500);
    for (;;) {
      if (this.state === DONE) return NEED_DATA;
      if (this.state === HEADER) {
        const failure = this.readHeader();
        if (failure === NEED_DATA) return NEED_DATA;
        if (failure !== null) return this.fail(failure);
      }
      if (this.remaining > 0) {
        const failure = this.readPayload();
        if (failure !== null) return this.fail(failure);
        if (this.remaining > 0) return NEED_DATA;
      }
      this.state = HEADER;
      const event = this.opcode >= Opcode.Close ? this.endControl() : this.endData();
      if (event !== null) return event;
    }
  }

  private fail(failure: WebSocketFailure): WsFail {
    this.state = DONE;
    this.chunks.length = 0;
    this.queued = 0;
    this.pieces = [];
    this.block = null;
    this.messageBytes = 0;
    this.controlFilled = 0;
    return { kind: 'fail', code: failure.closeCode, reason: failure.message };
  }

  /** The first `n` queued bytes, contiguous: [buffer, offset] (copied into `header` when they straddle chunks). */
  private peek(n: number): [Buffer, number] {
    const chunk = this.chunks[this.first]!;
    if (chunk.length - this.pos >= n) return [chunk, this.pos];
    let filled = 0;
    for (let i = this.first, off = this.pos; filled < n; i++, off = 0) {
      const c = this.chunks[i]!;
      filled += c.copy(this.header, filled, off, Math.min(c.length, off + n - filled));
    }
    return [this.header, 0];
  }

  private consume(n: number): void {
    this.queued -= n;
    while (n > 0) {
      const chunk = this.chunks[this.first]!;
      const step = Math.min(n, chunk.length - this.pos);
      this.pos += step;
      n -= step;
      if (this.pos === chunk.length) this.dropChunk();
    }
  }

  private dropChunk(): void {
    this.first++;
    this.pos = 0;
    if (this.first === this.chunks.length) {
      this.chunks.length = 0;
      this.first = 0;
    } else if (this.first > 64) {
      this.chunks.splice(0, this.first);
      this.first = 0;
    }
  }

  /** RFC 6455 §5.2's base framing; null when the frame header was read, else NEED_DATA or why it fails. */
  private readHeader(): WebSocketFailure | typeof NEED_DATA | null {
    if (this.queued < 2) return NEED_DATA;
    const [two, at] = this.peek(2);
    const b0 = two[at]!;
    const b1 = two[at + 1]!;
    const failure = this.checkStart(b0, b1);
    if (failure !== null) return failure;
    const len7 = b1 & 0x7f;
    const size = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + 4;
    if (this.queued < size) return NEED_DATA;
    const [h, o] = this.peek(size);
    let length = len7;
    if (len7 === 126) {
      length = h.readUInt16BE(o + 2);
      if (length < 126) return protocolError('payload length not in its minimal form');
    } else if (len7 === 127) {
      const high = h.readUInt32BE(o + 2);
      if (high >= 0x80000000) return protocolError('64-bit payload length with its most significant bit set');
      length = high * 0x100000000 + h.readUInt32BE(o + 6);
      if (length < 0x10000) return protocolError('payload length not in its minimal form');
    }
    h.copy(this.key, 0, o + size - 4, o + size);
    this.consume(size);
    this.opcode = b0 & 0x0f;
    this.fin = (b0 & 0x80) !== 0;
    this.remaining = length;
    this.phase = 0;
    this.state = PAYLOAD;
    if (this.opcode >= Opcode.Close) {
      this.control = EMPTY;
      this.controlFilled = 0;
      return null;
    }
    if (this.messageBytes + length > this.maxMessage) {
      return new WebSocketFailure(CloseCode.TooBig, `message over ${this.maxMessage} bytes`);
    }
    if (this.opcode !== Opcode.Continuation) {
      this.messageOpcode = this.opcode;
      this.compressed = (b0 & 0x40) !== 0;
    }
    return null;
  }

  /** What the first two bytes alone can tell (§5.2, §5.4, §5.5, RFC 7692 §6). */
  private checkStart(b0: number, b1: number): WebSocketFailure | null {
    const opcode = b0 & 0x0f;
    if ((b0 & 0x30) !== 0) return protocolError('RSV2 or RSV3 set without an extension');
    if ((b1 & 0x80) === 0) return protocolError('unmasked client frame');
    if (opcode >= Opcode.Close) {
      if (opcode > Opcode.Pong) return protocolError(`reserved opcode ${opcode}`);
      if ((b0 & 0x80) === 0) return protocolError('fragmented control frame');
      if ((b1 & 0x7f) > MAX_CONTROL_PAYLOAD) return protocolError('control frame over 125 bytes');
      if ((b0 & 0x40) !== 0) return protocolError('RSV1 set on a control frame');
      return null;
    }
    if (opcode > Opcode.Binary) return protocolError(`reserved opcode ${opcode}`);
    if (opcode === Opcode.Continuation) {
      if (this.messageOpcode === 0) return protocolError('continuation frame without a message to continue');
      if ((b0 & 0x40) !== 0) return protocolError('RSV1 set on a continuation frame');
      return null;
    }
    if (this.messageOpcode !== 0) return protocolError('new data frame inside a fragmented message');
    if ((b0 & 0x40) !== 0 && this.deflate === null) return protocolError('RSV1 set without permessage-deflate');
    return null;
  }

  /** Take what has come of the payload; a failure when a text piece is not UTF-8. */
  private readPayload(): WebSocketFailure | null {
    while (this.remaining > 0 && this.queued > 0) {
      const chunk = this.chunks[this.first]!;
      const n = Math.min(this.remaining, chunk.length - this.pos);
      const piece = chunk.subarray(this.pos, this.pos + n);
      applyMask(piece, this.key, this.phase);
      this.phase += n;
      this.remaining -= n;
      this.consume(n);
      if (this.opcode >= Opcode.Close) {
        this.addControl(piece);
        continue;
      }
      if (this.messageOpcode === Opcode.Text && !this.compressed && !this.utf8.push(piece)) {
        return new WebSocketFailure(CloseCode.InvalidData, 'text message not UTF-8');
      }
      this.addPiece(piece);
    }
    return null;
  }

  private addControl(piece: Buffer): void {
    if (this.controlFilled === 0 && this.remaining === 0) {
      this.control = piece;
    } else {
      if (this.controlFilled === 0) this.control = Buffer.allocUnsafe(piece.length + this.remaining);
      piece.copy(this.control, this.controlFilled);
    }
    this.controlFilled += piece.length;
  }

  private addPiece(piece: Buffer): void {
    this.messageBytes += piece.length;
    // the first piece (all of a message that came in one read) and big ones are kept as views
    if (piece.length >= GATHER_BELOW || (this.pieces.length === 0 && this.block === null)) {
      this.sealBlock();
      this.pieces.push(piece);
      return;
    }
    if (this.block === null || this.blockUsed + piece.length > this.block.length) {
      this.sealBlock();
      const room = this.maxMessage - this.messageBytes + piece.length;
      const want = Math.max(MIN_BLOCK, piece.length + this.remaining);
      this.block = Buffer.allocUnsafe(Math.max(piece.length, Math.min(BLOCK, want, room)));
    }
    piece.copy(this.block, this.blockUsed);
    this.blockUsed += piece.length;
  }

  private sealBlock(): void {
    if (this.block === null) return;
    const used = this.block.subarray(0, this.blockUsed);
    this.pieces.push(this.blockUsed * 2 < this.block.length ? Buffer.from(used) : used);
    this.block = null;
    this.blockUsed = 0;
  }

  private endControl(): WsEvent {
    const data = this.control;
    this.control = EMPTY;
    this.controlFilled = 0;
    if (this.opcode === Opcode.Ping) return { kind: 'ping', data };
    if (this.opcode === Opcode.Pong) return { kind: 'pong', data };
    // §5.5.1: a close payload is empty, or a 2-byte code and a UTF-8 reason
    if (data.length === 0) return this.closed({ kind: 'close', code: CloseCode.NoStatus, reason: '' });
    if (data.length === 1) return this.fail(protocolError('close frame with a 1-byte payload'));
    const code = data.readUInt16BE(0);
    if (!isValidCloseCode(code)) return this.fail(protocolError(`close code ${code} is not one a peer may send`));
    const reason = data.subarray(2);
    if (!isUtf8(reason)) return this.fail(new WebSocketFailure(CloseCode.InvalidData, 'close reason not UTF-8'));
    return this.closed({ kind: 'close', code, reason: reason.toString('utf8') });
  }

  private closed(event: WsClose): WsClose {
    this.fail(new WebSocketFailure(CloseCode.Normal, 'closed'));
    return event;
  }

  /** A data frame ended: the message when it was the last, else null (read on). */
  private endData(): WsEvent | Promise<WsEvent> | null {
    if (!this.fin) return null;
    this.sealBlock();
    const text = this.messageOpcode === Opcode.Text;
    const pieces = this.pieces;
    const bytes = this.messageBytes;
    const compressed = this.compressed;
    this.pieces = [];
    this.messageBytes = 0;
    this.messageOpcode = 0;
    this.compressed = false;
    if (!compressed) {
      if (text && !this.utf8.end()) return this.fail(new WebSocketFailure(CloseCode.InvalidData, 'text message not UTF-8'));
      const data = pieces.length === 1 ? pieces[0]! : pieces.length === 0 ? EMPTY : Buffer.concat(pieces, bytes);
      return { kind: 'message', text, data };
    }
    let inflated: Buffer | Promise<Buffer>;
    try {
      inflated = this.deflate!.decompress(pieces, this.maxMessage);
    } catch (err) {
      return this.fail(asFailure(err));
    }
    if (!(inflated instanceof Promise)) return this.inflated(text, inflated);
    this.state = WAIT;
    return inflated.then(
      (data) => {
        this.state = HEADER;
        return this.inflated(text, data);
      },
      (err: unknown) => this.fail(asFailure(err)),
    );
  }

  private inflated(text: boolean, data: Buffer): WsEvent {
    if (text && !isUtf8(data)) return this.fail(new WebSocketFailure(CloseCode.InvalidData, 'text message not UTF-8'));
    return { kind: 'message', text, data };
  }
}

function protocolError(why: string): WebSocketFailure {
  return new WebSocketFailure(CloseCode.ProtocolError, why);
}

function asFailure(err: unknown): WebSocketFailure {
  if (err instanceof WebSocketFailure) return err;
  throw err;
}

// ---- what we send (RFC 6455 §5.1: "A server MUST NOT mask any frames") ----

export interface FrameOptions {
  /** Default true. */
  fin?: boolean;
  /** permessage-deflate's "compressed" bit; default false. */
  rsv1?: boolean;
  /** A client's masking key (tests, clients): the payload is masked into the copy. */
  mask?: Uint8Array;
}

/** A frame header for a payload of `length` bytes. */
export function frameHeader(opcode: number, length: number, options: FrameOptions = {}): Buffer {
  const extra = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const masked = options.mask !== undefined;
  const out = Buffer.allocUnsafe(2 + extra + (masked ? 4 : 0));
  out[0] = (options.fin === false ? 0 : 0x80) | (options.rsv1 === true ? 0x40 : 0) | opcode;
  out[1] = (masked ? 0x80 : 0) | (extra === 0 ? length : extra === 2 ? 126 : 127);
  if (extra === 2) out.writeUInt16BE(length, 2);
  if (extra === 8) {
    out.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    out.writeUInt32BE(length >>> 0, 6);
  }
  if (masked) out.set(options.mask!.subarray(0, 4), 2 + extra);
  return out;
}

/** One frame in one buffer (header and payload copied; masked when options.mask is given). */
export function encodeFrame(opcode: number, payload: Uint8Array, options: FrameOptions = {}): Buffer {
  const header = frameHeader(opcode, payload.length, options);
  const out = Buffer.allocUnsafe(header.length + payload.length);
  header.copy(out, 0);
  out.set(payload, header.length);
  if (options.mask !== undefined) applyMask(out.subarray(header.length), options.mask, 0);
  return out;
}

/** Payloads from this size up are written as [header, payload view] instead of copied into one buffer. */
const GATHER_FROM = 16 * 1024;

export interface MessageOptions {
  /** The payload is PerMessageDeflate.compress()'s output: RSV1 on the first frame. */
  compressed?: boolean;
  /** The largest frame payload: a longer message goes in several frames (continuations). Default: one frame. */
  maxFrame?: number;
  /** A client's masking key (tests): each frame is masked with it. */
  mask?: Uint8Array;
}

/**
 * A data message as frames, for one write (or writev): each small frame one
 * buffer, a large one its header and a view of `payload` (not copied: it must
 * not change until written). Never masked unless options.mask is given.
 * @example
 * socket.cork(); for (const b of encodeMessage(true, Buffer.from('hi'))) socket.write(b); socket.uncork();
 */
export function encodeMessage(text: boolean, payload: Uint8Array, options: MessageOptions = {}): Buffer[] {
  const maxFrame = options.maxFrame !== undefined && options.maxFrame > 0 ? options.maxFrame : Number.POSITIVE_INFINITY;
  const out: Buffer[] = [];
  let off = 0;
  do {
    const end = Math.min(payload.length, off + maxFrame);
    const piece = payload.subarray(off, end);
    const frame: FrameOptions = { fin: end === payload.length, rsv1: off === 0 && options.compressed === true };
    if (options.mask !== undefined) frame.mask = options.mask;
    const opcode = off === 0 ? (text ? Opcode.Text : Opcode.Binary) : Opcode.Continuation;
    if (piece.length < GATHER_FROM || options.mask !== undefined) out.push(encodeFrame(opcode, piece, frame));
    else out.push(frameHeader(opcode, piece.length, frame), Buffer.from(piece.buffer, piece.byteOffset, piece.length));
    off = end;
  } while (off < payload.length);
  return out;
}

function controlPayload(what: string, data: Uint8Array): Uint8Array {
  if (data.length > MAX_CONTROL_PAYLOAD) {
    throw new LocalProtocolError('ERR_WS_CONTROL_TOO_BIG', `${what} payload of ${data.length} bytes (at most 125)`, 500);
  }
  return data;
}

export function encodePing(data: Uint8Array = EMPTY): Buffer {
  return encodeFrame(Opcode.Ping, controlPayload('ping', data));
}

export function encodePong(data: Uint8Array = EMPTY): Buffer {
  return encodeFrame(Opcode.Pong, controlPayload('pong', data));
}

/**
 * A close frame: `code` and `reason` (UTF-8, at most 123 bytes), or no payload
 * when `code` is undefined or 1005 (the echo of a close that had no code).
 * A code a peer may not send (1004-1006, 1015, 1016-2999, out of range) or a
 * longer reason is a LocalProtocolError.
 */
export function encodeClose(code?: number, reason = ''): Buffer {
  if (code === undefined || code === CloseCode.NoStatus) return encodeFrame(Opcode.Close, EMPTY);
  if (!isValidCloseCode(code)) throw new LocalProtocolError('ERR_WS_BAD_CLOSE', `close code ${code} may not be sent`, 500);
  const why = Buffer.from(reason, 'utf8');
  if (why.length > MAX_CLOSE_REASON)
    throw new LocalProtocolError('ERR_WS_BAD_CLOSE', `close reason of ${why.length} bytes (at most 123)`, 500);
  const payload = Buffer.allocUnsafe(2 + why.length);
  payload.writeUInt16BE(code, 0);
  why.copy(payload, 2);
  return encodeFrame(Opcode.Close, payload);
}
