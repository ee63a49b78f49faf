// The worker protocol's framing, gateway side (docs/worker-protocol.md).
// Sans-I/O: bytes in, frames out, and frame builders; channel.ts does the I/O.
//
// Frame: u32le payload length, u8 type, payload. Environ and head blocks are
// NUL-terminated latin-1 strings, k NUL v NUL ..., so the worker splits them
// with one bytes.split().

import { GATHER_MIN, asBuffer } from '../byte-queue.js';
import { WorkerError, codes } from '../errors.js';

export const HEADER_SIZE = 5;
export const MAX_PAYLOAD = 0x01000000; // 16 MiB

export const enum T {
  // gateway -> worker, request channel
  REQUEST = 0x01,
  DATA = 0x02,
  END = 0x03,
  FILE_ACK = 0x04,
  /** The running request's client is gone: stop producing its response. */
  CANCEL = 0x05,
  // gateway -> worker, on a stream of an ASGI worker (docs/worker-protocol.md, "ASGI workers")
  WS_RECEIVE = 0x06,
  WS_CLOSED = 0x07,
  PAUSE = 0x08,
  RESUME = 0x09,
  TIMEOUT = 0x0a,
  // worker -> gateway, request channel
  RESPONSE = 0x11,
  RDATA = 0x12,
  REND = 0x13,
  FILE = 0x14,
  LOG = 0x15,
  ABORT = 0x16,
  // worker -> gateway, on a stream of an ASGI worker
  WS_ACCEPT = 0x17,
  WS_SEND = 0x18,
  WS_CLOSE = 0x19,
  WPAUSE = 0x1a,
  WRESUME = 0x1b,
  /** Both ways on an ASGI worker's channel: the frames after it belong to this stream. */
  STREAM = 0x30,
  // control channel
  READY = 0x21,
  BOOT_ERROR = 0x22,
  STOP = 0x23,
  // --preload (docs/worker-protocol.md): a forked worker announces each socket; the template forks
  HELLO = 0x24,
  FORK = 0x25,
  FORKED = 0x26,
  /** Template: a worker it forked exited (it reaps them). */
  EXITED = 0x27,
}

export const FLAG_COMPLETE = 0x01;
/** REQUEST flag: a WebSocket handshake (ASGI workers). */
export const FLAG_WEBSOCKET = 0x02;
/** WS_RECEIVE / WS_SEND flags. */
export const WS_TEXT = 0x01;
export const WS_MORE = 0x02;
export const END_COMPLETE = 0;
export const END_CUT = 1;

/** Called once per whole frame; `payload` is a view valid only during the call unless copied. */
export type FrameHandler = (type: number, payload: Buffer) => void;

/**
 * Splits a byte stream into frames. Payloads are subarrays of the received
 * buffers (no copy) except when a frame straddles reads: then its pieces are
 * kept until the whole frame is in, and joined once (a 10 MiB frame arriving in
 * 64 KiB reads is copied once, not 160 times). Frames of the `splittable` type
 * (body data, whose frame boundaries mean nothing) are not joined at all: a
 * straddling one is handed on in pieces, one call per read, so a stream of
 * 64 KiB DATA frames (which never fit Node's 64 KiB reads) is never copied.
 */
export class FrameReader {
  private pieces: Buffer[] = [];
  private pieceBytes = 0;
  /** Bytes needed before the pending pieces can yield a frame. */
  private need = 0;
  /** Payload bytes still to come of a splittable frame handed on in pieces. */
  private partLeft = 0;
  constructor(
    private readonly onFrame: FrameHandler,
    private readonly splittable = -1,
  ) {}

  receive(chunk: Buffer): void {
    let buf = chunk;
    let off = 0;
    if (this.partLeft > 0) {
      off = Math.min(this.partLeft, buf.length);
      this.partLeft -= off;
      this.onFrame(this.splittable, buf.subarray(0, off));
    } else if (this.pieceBytes > 0) {
      this.pieces.push(chunk);
      this.pieceBytes += chunk.length;
      if (this.pieceBytes < this.need) return;
      buf = Buffer.concat(this.pieces, this.pieceBytes);
      this.pieces = [];
      this.pieceBytes = 0;
    }
    const len = buf.length;
    while (len - off >= HEADER_SIZE) {
      const size = buf.readUInt32LE(off);
      if (size > MAX_PAYLOAD) {
        throw new WorkerError(codes.WORKER_PROTOCOL, `worker sent a frame of ${size} bytes`, 502);
      }
      const end = off + HEADER_SIZE + size;
      const type = buf[off + 4]!;
      if (end > len) {
        if (type !== this.splittable) break;
        this.partLeft = end - len;
        if (len > off + HEADER_SIZE) this.onFrame(type, buf.subarray(off + HEADER_SIZE));
        return;
      }
      this.onFrame(type, buf.subarray(off + HEADER_SIZE, end));
      off = end;
    }
    if (off < len) {
      const rest = off === 0 ? buf : buf.subarray(off);
      this.pieces.push(rest);
      this.pieceBytes = rest.length;
      this.need = rest.length >= HEADER_SIZE ? HEADER_SIZE + rest.readUInt32LE(0) : HEADER_SIZE;
    }
  }
}

/** A frame with an empty or tiny payload. */
export function frame(type: number, payload?: Uint8Array): Buffer {
  const size = payload ? payload.length : 0;
  const out = Buffer.allocUnsafe(HEADER_SIZE + size);
  out.writeUInt32LE(size, 0);
  out[4] = type;
  if (payload) out.set(payload, HEADER_SIZE);
  return out;
}

export function endFrame(reason: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE + 1);
  out.writeUInt32LE(1, 0);
  out[4] = T.END;
  out[5] = reason;
  return out;
}

/**
 * REQUEST: u8 flags, u32le env_len, environ block, body.
 * `env` is the environ block already joined as a latin-1 string.
 */
export function requestFrame(env: string, body: Uint8Array | null, complete: boolean): Buffer {
  const parts = requestFrameParts(env, body, complete);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/**
 * The REQUEST frame as the pieces to write in order: one buffer, or, for a body
 * of GATHER_MIN bytes or more, the frame's head and environ followed by a view
 * of the body (a gathered write; the body is not copied).
 */
export function requestFrameParts(env: string, body: Uint8Array | null, complete: boolean, flags = 0): Buffer[] {
  const envLen = env.length;
  const bodyLen = body ? body.length : 0;
  const size = 5 + envLen + bodyLen;
  if (size > MAX_PAYLOAD) {
    throw new WorkerError(codes.WORKER_PROTOCOL, `request frame of ${size} bytes is too large`, 500);
  }
  const gather = body !== null && bodyLen >= GATHER_MIN;
  const out = Buffer.allocUnsafe(HEADER_SIZE + size - (gather ? bodyLen : 0));
  out.writeUInt32LE(size, 0);
  out[4] = T.REQUEST;
  out[5] = (complete ? FLAG_COMPLETE : 0) | flags;
  out.writeUInt32LE(envLen, 6);
  out.write(env, 10, 'latin1');
  if (!body) return [out];
  if (gather) return [out, asBuffer(body)];
  out.set(body, 10 + envLen);
  return [out];
}

/**
 * `data` as DATA frames (split at MAX_PAYLOAD), as the pieces to write in
 * order: small data copied behind its header, large data as a 5-byte header
 * and a view, for a gathered write (a 64 KiB upload chunk is not copied again).
 */
export function dataFrames(data: Uint8Array): Buffer[] {
  if (data.length < GATHER_MIN) return [frame(T.DATA, data)];
  const out: Buffer[] = [];
  for (let off = 0; off < data.length; off += MAX_PAYLOAD) {
    const piece = data.subarray(off, Math.min(off + MAX_PAYLOAD, data.length));
    const head = Buffer.allocUnsafe(HEADER_SIZE);
    head.writeUInt32LE(piece.length, 0);
    head[4] = T.DATA;
    out.push(head, Buffer.from(piece.buffer, piece.byteOffset, piece.length));
  }
  return out;
}

/** Decode a NUL-terminated latin-1 block into its strings. */
export function splitBlock(block: Buffer): string[] {
  const parts = block.toString('latin1').split('\0');
  parts.pop(); // the terminator's empty tail
  return parts;
}

/** The parts of a RESPONSE payload. */
export interface ResponseParts {
  end: boolean;
  status: string;
  headers: [string, string][];
  body: Buffer;
}

export function parseResponse(payload: Buffer): ResponseParts {
  if (payload.length < 5) throw badFrame('RESPONSE too short');
  const flags = payload[0]!;
  const headLen = payload.readUInt32LE(1);
  if (5 + headLen > payload.length) throw badFrame('RESPONSE head overruns the frame');
  // splitBlock drops what follows the last NUL: a last string without its NUL would be lost unseen
  if (headLen > 0 && payload[4 + headLen] !== 0) throw badFrame('RESPONSE head block does not end with NUL');
  const parts = splitBlock(payload.subarray(5, 5 + headLen));
  if (parts.length % 2 !== 1) throw badFrame('RESPONSE head has an odd header list');
  const headers: [string, string][] = [];
  for (let i = 1; i < parts.length; i += 2) headers.push([parts[i]!, parts[i + 1]!]);
  return { end: (flags & FLAG_COMPLETE) !== 0, status: parts[0]!, headers, body: payload.subarray(5 + headLen) };
}

export interface FileParts {
  offset: number;
  count: number;
  path: string;
}

export function parseFile(payload: Buffer): FileParts {
  if (payload.length < 17) throw badFrame('FILE too short');
  const offset = Number(payload.readBigUInt64LE(0));
  const count = Number(payload.readBigInt64LE(8));
  return { offset, count, path: payload.toString('utf8', 16) };
}

export function badFrame(why: string): WorkerError {
  return new WorkerError(codes.WORKER_PROTOCOL, `worker protocol error: ${why}`, 502);
}

/** STREAM: the frames after it belong to stream `id`. */
export function streamFrame(id: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE + 4);
  out.writeUInt32LE(4, 0);
  out[4] = T.STREAM;
  out.writeUInt32LE(id, 5);
  return out;
}
