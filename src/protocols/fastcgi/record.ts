// FastCGI 1.0 records, sans-I/O: bytes in, records out, and record builders.
// The responder (warpipe behind nginx) and the client (warpipe in front of
// php-fpm) share this file, as Go's fcgi.go serves child.go.
//
// Rule 1: a record is only ever yielded whole, the same however the stream was
// cut into reads. Rule 2: the header is checked (version 1) before its content
// is awaited; anything else about a record (its type, its request id) is for
// the role that reads it to judge.

import { ByteQueue } from '../../byte-queue.js';
import { RemoteProtocolError, codes } from '../../errors.js';
import { NEED_DATA } from '../need-data.js';

// Spec §3.3:
//   typedef struct {
//       unsigned char version;
//       unsigned char type;
//       unsigned char requestIdB1, requestIdB0;
//       unsigned char contentLengthB1, contentLengthB0;
//       unsigned char paddingLength;
//       unsigned char reserved;
//       unsigned char contentData[contentLength];
//       unsigned char paddingData[paddingLength];
//   } FCGI_Record;
export const FCGI_VERSION_1 = 1;
export const HEADER_LEN = 8;
export const MAX_CONTENT = 0xffff;
/** The largest content that needs no padding (a multiple of 8): stream data is cut at this size. */
export const MAX_ALIGNED_CONTENT = 0xfff8;

// Spec §8: record types. 1-8 belong to a request; 9-11 are management records (request id 0).
export const enum RecordType {
  BeginRequest = 1,
  AbortRequest = 2,
  EndRequest = 3,
  Params = 4,
  Stdin = 5,
  Stdout = 6,
  Stderr = 7,
  Data = 8,
  GetValues = 9,
  GetValuesResult = 10,
  UnknownType = 11,
}

export const enum Role {
  Responder = 1,
  Authorizer = 2,
  Filter = 3,
}

/** FCGI_BeginRequestBody flags: keep the connection open after this request. */
export const FCGI_KEEP_CONN = 1;

export const enum ProtocolStatus {
  RequestComplete = 0,
  CantMpxConn = 1,
  Overloaded = 2,
  UnknownRole = 3,
}

export interface FcgiRecord {
  type: number;
  requestId: number;
  /** The content, without padding: a view of the received bytes, valid as long as they are. */
  content: Buffer;
}

const EMPTY = Buffer.alloc(0);

function badRecord(why: string): RemoteProtocolError {
  return new RemoteProtocolError(codes.FCGI_BAD_RECORD, `bad FastCGI record: ${why}`, 400);
}

/**
 * Splits a byte stream into records.
 * @example
 * const r = new RecordReader();
 * r.receive(bytes);
 * for (let rec = r.next(); rec !== NEED_DATA; rec = r.next()) handle(rec);
 */
export class RecordReader {
  private buf: Buffer = EMPTY;
  private pos = 0;
  private failure: RemoteProtocolError | null = null;
  /**
   * A record straddles reads: its bytes gather here until `need` have come, and
   * are joined once (joining per read made a record dripped a byte at a time
   * quadratic; the queue keeps tiny reads at about a byte a byte).
   */
  private readonly pending = new ByteQueue();
  private need = 0;

  receive(chunk: Buffer): void {
    if (this.pending.bytes === 0 && this.pos >= this.buf.length) {
      this.buf = chunk;
      this.pos = 0;
      return;
    }
    if (this.pending.bytes === 0) {
      const rest = this.buf.subarray(this.pos);
      this.need = rest.length < HEADER_LEN ? HEADER_LEN : HEADER_LEN + rest.readUInt16BE(4) + rest[6]!;
      this.pending.push(rest);
      this.buf = EMPTY;
      this.pos = 0;
    }
    this.pending.push(chunk);
    if (this.pending.bytes < this.need) return;
    this.buf = this.pending.take();
    this.pos = 0;
  }

  /** Bytes received and not yet yielded as records. */
  get bufferedBytes(): number {
    return this.buf.length - this.pos + this.pending.bytes;
  }

  /** The next whole record, or NEED_DATA. Throws RemoteProtocolError on a bad header; after that, always. */
  next(): FcgiRecord | typeof NEED_DATA {
    if (this.failure) throw this.failure;
    const buf = this.buf;
    const pos = this.pos;
    if (buf.length - pos < HEADER_LEN) {
      if (buf.length > pos && buf[pos] !== FCGI_VERSION_1) throw this.fail(`version ${buf[pos]}, expected 1`);
      return NEED_DATA;
    }
    if (buf[pos] !== FCGI_VERSION_1) throw this.fail(`version ${buf[pos]}, expected 1`);
    const contentLength = buf.readUInt16BE(pos + 4);
    const end = pos + HEADER_LEN + contentLength + buf[pos + 6]!;
    if (end > buf.length) return NEED_DATA;
    this.pos = end;
    return {
      type: buf[pos + 1]!,
      requestId: buf.readUInt16BE(pos + 2),
      content: buf.subarray(pos + HEADER_LEN, pos + HEADER_LEN + contentLength),
    };
  }

  private fail(why: string): RemoteProtocolError {
    this.failure = badRecord(why);
    return this.failure;
  }
}

/** One record: header, `content` (at most MAX_CONTENT bytes), and padding to a multiple of 8 (spec §3.3, recommended). */
export function encodeRecord(type: number, requestId: number, content: Uint8Array = EMPTY): Buffer {
  const length = content.length;
  if (length > MAX_CONTENT) throw new RangeError(`FastCGI record content of ${length} bytes (at most ${MAX_CONTENT})`);
  const padding = (8 - (length & 7)) & 7;
  const out = Buffer.allocUnsafe(HEADER_LEN + length + padding);
  out[0] = FCGI_VERSION_1;
  out[1] = type;
  out.writeUInt16BE(requestId, 2);
  out.writeUInt16BE(length, 4);
  out[6] = padding;
  out[7] = 0;
  out.set(content, HEADER_LEN);
  out.fill(0, HEADER_LEN + length);
  return out;
}

/**
 * `data` on a stream (PARAMS, STDIN, STDOUT, STDERR, DATA) as records of at
 * most MAX_ALIGNED_CONTENT bytes. An empty `data` gives the empty record that
 * ends the stream.
 */
export function encodeStream(type: number, requestId: number, data: Uint8Array): Buffer[] {
  if (data.length === 0) return [encodeRecord(type, requestId)];
  const out: Buffer[] = [];
  for (let off = 0; off < data.length; off += MAX_ALIGNED_CONTENT) {
    out.push(encodeRecord(type, requestId, data.subarray(off, Math.min(off + MAX_ALIGNED_CONTENT, data.length))));
  }
  return out;
}

const ZEROS = Buffer.alloc(8);

/**
 * `data` on a stream as encodeStream cuts it, the same bytes, without copying
 * it: each record's header, then a view of its part of `data`, then its
 * padding (only the last record can need any). For data of GATHER_MIN bytes
 * or more, written gathered: a copy that large is a buffer of its own outside
 * Node's pool, and that churn sets off the garbage collector.
 */
export function encodeStreamGathered(type: number, requestId: number, data: Uint8Array): Buffer[] {
  const records = Math.ceil(data.length / MAX_ALIGNED_CONTENT);
  if (records === 0) return [encodeRecord(type, requestId)];
  const headers = Buffer.allocUnsafe(records * HEADER_LEN);
  const view = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
  const out: Buffer[] = [];
  for (let i = 0, off = 0; i < records; i++, off += MAX_ALIGNED_CONTENT) {
    const length = Math.min(MAX_ALIGNED_CONTENT, data.length - off);
    const padding = (8 - (length & 7)) & 7;
    writeHeader(headers, i * HEADER_LEN, type, requestId, length, padding);
    out.push(headers.subarray(i * HEADER_LEN, (i + 1) * HEADER_LEN), view.subarray(off, off + length));
    if (padding > 0) out.push(ZEROS.subarray(0, padding));
  }
  return out;
}

function writeHeader(out: Buffer, off: number, type: number, requestId: number, length: number, padding: number): void {
  out[off] = FCGI_VERSION_1;
  out[off + 1] = type;
  out.writeUInt16BE(requestId, off + 2);
  out.writeUInt16BE(length, off + 4);
  out[off + 6] = padding;
  out[off + 7] = 0;
}

/**
 * The last of a response in one buffer, for one write: `head` (latin-1) and
 * `body` as one STDOUT record (none when both are empty; together at most
 * MAX_ALIGNED_CONTENT bytes), the empty STDOUT that ends the stream, and
 * END_REQUEST with `appStatus` and `protocolStatus`.
 */
export function encodeStdoutEnd(
  requestId: number,
  head: string,
  body: readonly Uint8Array[],
  bodyBytes: number,
  appStatus: number,
  protocolStatus: number,
): Buffer {
  const length = head.length + bodyBytes;
  if (length > MAX_ALIGNED_CONTENT) throw new RangeError(`FastCGI record content of ${length} bytes (at most ${MAX_ALIGNED_CONTENT})`);
  const padding = (8 - (length & 7)) & 7;
  const first = length === 0 ? 0 : HEADER_LEN + length + padding;
  const out = Buffer.allocUnsafe(first + HEADER_LEN * 3);
  let off = 0;
  if (length > 0) {
    writeHeader(out, 0, RecordType.Stdout, requestId, length, padding);
    off = HEADER_LEN + out.write(head, HEADER_LEN, 'latin1');
    for (const b of body) {
      out.set(b, off);
      off += b.length;
    }
    out.fill(0, off, first);
    off = first;
  }
  writeHeader(out, off, RecordType.Stdout, requestId, 0, 0);
  writeHeader(out, off + HEADER_LEN, RecordType.EndRequest, requestId, 8, 0);
  out.writeUInt32BE(appStatus >>> 0, off + 2 * HEADER_LEN);
  out[off + 2 * HEADER_LEN + 4] = protocolStatus;
  out.fill(0, off + 2 * HEADER_LEN + 5);
  return out;
}

// Spec §5.1: typedef struct { unsigned char roleB1, roleB0; unsigned char flags; unsigned char reserved[5]; } FCGI_BeginRequestBody;
export function beginRequestBody(role: number, flags: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt16BE(role, 0);
  out[2] = flags;
  return out;
}

export function parseBeginRequest(content: Buffer): { role: number; keepConn: boolean } {
  if (content.length !== 8) throw badRecord(`BEGIN_REQUEST body of ${content.length} bytes, expected 8`);
  return { role: content.readUInt16BE(0), keepConn: (content[2]! & FCGI_KEEP_CONN) !== 0 };
}

// Spec §5.5: typedef struct {
//   unsigned char appStatusB3..B0; unsigned char protocolStatus; unsigned char reserved[3];
// } FCGI_EndRequestBody;
export function endRequestBody(appStatus: number, protocolStatus: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt32BE(appStatus >>> 0, 0);
  out[4] = protocolStatus;
  return out;
}

export function parseEndRequest(content: Buffer): { appStatus: number; protocolStatus: number } {
  if (content.length !== 8) throw badRecord(`END_REQUEST body of ${content.length} bytes, expected 8`);
  return { appStatus: content.readUInt32BE(0), protocolStatus: content[4]! };
}

// Spec §4.2: typedef struct { unsigned char type; unsigned char reserved[7]; } FCGI_UnknownTypeBody;
export function unknownTypeBody(type: number): Buffer {
  const out = Buffer.alloc(8);
  out[0] = type;
  return out;
}
