// permessage-deflate (RFC 7692): negotiating it from the client's offers, and
// per connection compressing what we send and decompressing what we receive.
//
// Rule 1: no zlib stream lives between messages. Each message is one node:zlib
// one-shot call (deflateRaw/inflateRaw), and context takeover (§7.1.1) is the
// last window of the stream's uncompressed bytes, kept here and handed to zlib
// as a preset dictionary: a raw DEFLATE back-reference into the dictionary is
// the same bytes as one into the previous messages, so the peer cannot tell.
// A connection costs its windows (2^bits bytes a direction, only with context
// takeover) instead of two live zlib streams (~300 KiB native with memLevel 8
// and 15-bit windows), and small messages stay synchronous: Node's only
// persistent zlib API is the async stream, which costs a thread-pool round trip
// (~100 µs CPU) per message where a one-shot sync call costs 10-60 µs.
// Rule 2: big messages never stall the event loop. A message of asyncAbove
// bytes or more (compressed size for inflating) goes to zlib's thread pool and
// the call returns a Promise; smaller ones are done synchronously. Inflating is
// bounded (zlib's maxOutputLength): a message that would inflate past
// maxMessage fails with 1009 after at most maxMessage bytes of output, and a
// synchronous inflate stops at SYNC_OUTPUT bytes and goes on in the pool.
// Rule 3: §7.2.1: compress with a sync flush and drop the trailing 00 00 ff ff;
// §7.2.2: append 00 00 ff ff before inflating (a final block from the peer is
// fine: inflate stops there and the message still ends).

import zlib from 'node:zlib';
import { CloseCode, WebSocketFailure } from './rfc6455.js';
import type { ExtensionOffer } from './extensions.js';

export const EXTENSION_NAME = 'permessage-deflate';
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const SYNC_FLUSH = zlib.constants.Z_SYNC_FLUSH;
/** A synchronous inflate stops after this much output and goes on in the thread pool. */
const SYNC_OUTPUT = 1024 * 1024;

/** What both sides agreed on (RFC 7692 §7.1), from our side's point of view. */
export interface DeflateParams {
  /** We start each message we compress from an empty window. */
  serverNoContextTakeover: boolean;
  /** The client starts each message from an empty window: so do we when inflating. */
  clientNoContextTakeover: boolean;
  /** Our LZ77 window, 8-15 bits (8 is deflated with zlib's 9, whose matches reach 250 bytes back at most). */
  serverMaxWindowBits: number;
  /** The client's window, 8-15 bits (15 unless we asked for less). */
  clientMaxWindowBits: number;
}

/** What our server prefers; each is a ceiling the client's offer can only lower. */
export interface DeflateOptions {
  /** Always ask for server_no_context_takeover (less memory, worse ratio). Default false. */
  serverNoContextTakeover?: boolean;
  /** Always ask for client_no_context_takeover. Default false. */
  clientNoContextTakeover?: boolean;
  /**
   * Our window, 9-15. Default 12 (as Python's websockets): 4 KiB of window per
   * connection, and a 4 KiB dictionary is ~5 µs a message where 32 KiB is ~45.
   */
  serverMaxWindowBits?: number;
  /** The client's window we ask for when it offers client_max_window_bits, 9-15. Default 12. */
  clientMaxWindowBits?: number;
}

/** How a connection compresses (not negotiated: ours alone). */
export interface CompressOptions {
  /** zlib level, 0-9. Default 6 (zlib's). */
  level?: number;
  /** zlib memLevel, 1-9. Default 8 (zlib's). */
  memLevel?: number;
  /** Messages shorter than this go uncompressed (RSV1 clear). Default 128. */
  threshold?: number;
  /** Messages of this many bytes or more (compressed bytes when inflating) use zlib's thread pool. Default 64 KiB. */
  asyncAbove?: number;
}

const WINDOW_BITS = /^(?:[89]|1[0-5])$/;

/** The params of one permessage-deflate offer, or null when they break §7.1 (that offer is declined). */
function readOffer(offer: ExtensionOffer): Map<string, string | null> | null {
  const seen = new Map<string, string | null>();
  for (const [name, value] of offer.params) {
    if (seen.has(name)) return null;
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== null) return null;
        break;
      case 'server_max_window_bits':
        if (value === null || !WINDOW_BITS.test(value)) return null;
        break;
      case 'client_max_window_bits':
        if (value !== null && !WINDOW_BITS.test(value)) return null;
        break;
      default:
        return null;
    }
    seen.set(name, value);
  }
  return seen;
}

function bitsOption(value: number | undefined, name: string): number {
  const bits = value ?? 12;
  if (!Number.isInteger(bits) || bits < 9 || bits > 15) throw new RangeError(`${name} must be 9-15, not ${bits}`);
  return bits;
}

/**
 * The first permessage-deflate offer we can accept (§5: offers in the client's
 * order of preference), the params agreed, and the Sec-WebSocket-Extensions
 * value that says so; null when there is none (no compression). Other
 * extensions are ignored (declined). Per §7.1: server_no_context_takeover and
 * client_no_context_takeover are granted when offered (and asked for when the
 * options want them); server_max_window_bits is the lower of the offer and our
 * ceiling (sent when below 15); client_max_window_bits, only when offered (§7.1.2.2),
 * is the lower of the offered value and our ceiling (sent when below 15).
 * @example
 * negotiateDeflate(parseExtensions(['permessage-deflate; client_max_window_bits'])!, { clientMaxWindowBits: 12 })
 * // { params: { …, clientMaxWindowBits: 12 }, header: 'permessage-deflate; client_max_window_bits=12' }
 */
export function negotiateDeflate(
  offers: readonly ExtensionOffer[],
  options: DeflateOptions = {},
): { params: DeflateParams; header: string } | null {
  const ourServerBits = bitsOption(options.serverMaxWindowBits, 'serverMaxWindowBits');
  const ourClientBits = bitsOption(options.clientMaxWindowBits, 'clientMaxWindowBits');
  for (const offer of offers) {
    if (offer.name !== EXTENSION_NAME) continue;
    const p = readOffer(offer);
    if (p === null) continue;
    const params: DeflateParams = {
      serverNoContextTakeover: p.has('server_no_context_takeover') || options.serverNoContextTakeover === true,
      clientNoContextTakeover: p.has('client_no_context_takeover') || options.clientNoContextTakeover === true,
      serverMaxWindowBits: Math.min(Number(p.get('server_max_window_bits') ?? 15), ourServerBits),
      clientMaxWindowBits: 15,
    };
    const parts = [EXTENSION_NAME];
    if (params.serverNoContextTakeover) parts.push('server_no_context_takeover');
    if (params.clientNoContextTakeover) parts.push('client_no_context_takeover');
    if (params.serverMaxWindowBits < 15) parts.push(`server_max_window_bits=${params.serverMaxWindowBits}`);
    if (p.has('client_max_window_bits')) {
      params.clientMaxWindowBits = Math.min(Number(p.get('client_max_window_bits') ?? 15), ourClientBits);
      if (params.clientMaxWindowBits < 15) parts.push(`client_max_window_bits=${params.clientMaxWindowBits}`);
    }
    return { params, header: parts.join('; ') };
  }
  return null;
}

/** The last `size` bytes of `window` followed by `data` (the sliding window after `data` went through). */
function slide(window: Buffer | null, data: Uint8Array, size: number): Buffer {
  if (data.length >= size) return Buffer.from(data.subarray(data.length - size));
  const keep = window === null ? 0 : Math.min(window.length, size - data.length);
  const out = Buffer.allocUnsafe(keep + data.length);
  if (keep > 0) window!.copy(out, 0, window!.length - keep);
  out.set(data, keep);
  return out;
}

function inflateFailure(err: unknown, maxMessage: number): WebSocketFailure {
  if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
    return new WebSocketFailure(CloseCode.TooBig, `message inflates past ${maxMessage} bytes`);
  }
  return new WebSocketFailure(CloseCode.InvalidData, 'invalid compressed data');
}

/**
 * One connection's permessage-deflate, both directions. Calls must come in
 * stream order: compress() in the order the messages are sent (a Promise it
 * returns is that message's payload; write the frames in call order),
 * decompress() one message at a time, after the previous one settled.
 */
export class PerMessageDeflate {
  private readonly level: number;
  private readonly memLevel: number;
  /** Messages shorter than this are better sent uncompressed. */
  readonly threshold: number;
  private readonly asyncAbove: number;
  private sendWindow: Buffer | null = null;
  private receiveWindow: Buffer | null = null;

  constructor(
    readonly params: DeflateParams,
    options: CompressOptions = {},
  ) {
    this.level = options.level ?? zlib.constants.Z_DEFAULT_COMPRESSION;
    this.memLevel = options.memLevel ?? 8;
    this.threshold = options.threshold ?? 128;
    this.asyncAbove = options.asyncAbove ?? 64 * 1024;
  }

  /**
   * A whole message's compressed payload (RSV1 set on its first frame): a
   * Buffer at once below asyncAbove bytes, else a Promise (zlib's thread pool).
   * `data` must not change until then.
   */
  compress(data: Uint8Array): Buffer | Promise<Buffer> {
    const bits = Math.max(9, this.params.serverMaxWindowBits);
    const opts: zlib.ZlibOptions = { finishFlush: SYNC_FLUSH, windowBits: bits, level: this.level, memLevel: this.memLevel };
    if (this.sendWindow !== null) opts.dictionary = this.sendWindow;
    if (!this.params.serverNoContextTakeover) this.sendWindow = slide(this.sendWindow, data, 1 << this.params.serverMaxWindowBits);
    if (data.length < this.asyncAbove) return zlib.deflateRawSync(data, opts).subarray(0, -TAIL.length);
    return new Promise((resolve, reject) => {
      zlib.deflateRaw(data, opts, (err, out) => (err ? reject(err) : resolve(out.subarray(0, -TAIL.length))));
    });
  }

  /**
   * The message whose compressed payload came in `pieces` (its frames'
   * payloads in order). At most `maxMessage` bytes: past that, WebSocketFailure
   * 1009; data zlib cannot inflate, 1007. Synchronous (a Buffer, or a throw)
   * below asyncAbove compressed bytes, else a Promise.
   */
  decompress(pieces: readonly Buffer[], maxMessage: number): Buffer | Promise<Buffer> {
    const input = Buffer.concat([...pieces, TAIL]);
    const opts: zlib.ZlibOptions = { finishFlush: SYNC_FLUSH, windowBits: 15, maxOutputLength: Math.max(1, maxMessage) };
    if (this.receiveWindow !== null) opts.dictionary = this.receiveWindow;
    if (input.length < this.asyncAbove) {
      try {
        const out = zlib.inflateRawSync(input, { ...opts, maxOutputLength: Math.max(1, Math.min(maxMessage, SYNC_OUTPUT)) });
        return this.received(out, maxMessage);
      } catch (err) {
        if ((err as { code?: string }).code !== 'ERR_BUFFER_TOO_LARGE' || maxMessage <= SYNC_OUTPUT) throw inflateFailure(err, maxMessage);
      }
    }
    return new Promise((resolve, reject) => {
      zlib.inflateRaw(input, opts, (err, out) => {
        if (err) reject(inflateFailure(err, maxMessage));
        else {
          try {
            resolve(this.received(out, maxMessage));
          } catch (failure) {
            reject(failure);
          }
        }
      });
    });
  }

  private received(out: Buffer, maxMessage: number): Buffer {
    if (out.length > maxMessage) throw new WebSocketFailure(CloseCode.TooBig, `message inflates past ${maxMessage} bytes`);
    if (!this.params.clientNoContextTakeover) this.receiveWindow = slide(this.receiveWindow, out, 1 << this.params.clientMaxWindowBits);
    return out;
  }
}
