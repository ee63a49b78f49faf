// The HTTP/1.1 request parser (RFC 9112), sans-I/O: bytes in via receive(),
// events out via next() — RequestHead, Data*, EndOfMessage, per request, in order.
//
// Rule 1: strict. Anything RFC 9112 lets a server reject is rejected, with one
// RemoteProtocolError carrying the status to answer; after a throw the parser is
// dead. This is what keeps us out of the request-smuggling CVEs of gunicorn,
// waitress and meinheld: one framing, one meaning, no repairs.
// Rule 2: split-invariant. Every error has a byte position (the first byte that
// makes the input invalid, or a line's LF for errors about a whole line); the
// earliest one wins, so the result is the same however the bytes were cut into
// reads. Bare CR/LF and size limits are therefore found before the head is complete.
// Rule 3: cheap. Received buffers are queued, never copied or mutated; a head is
// decoded once as latin-1 (a short read whole, a long one up to the CRLFCRLF that
// Buffer.indexOf finds) and cut into strings; body Data are subarrays of what was
// received. A head split across reads costs one decode per read, never a concat.

import { RemoteProtocolError, codes } from '../../errors.js';
import { ChunkedDecoder } from './chunked.js';
import { checkTransferEncoding, trimOWS } from './transfer-coding.js';
import { NEED_DATA } from '../need-data.js';

export { NEED_DATA };
import {
  CONTENT_LENGTH,
  FIELD_VALUE_INVALID,
  HEAD_END,
  HOST,
  HTAB,
  HTTP_VERSION,
  MAX_LEADING_EMPTY_LINES,
  PCT_INVALID,
  SP,
  TARGET_INVALID,
  TCHAR,
  WS,
  CR,
  LF,
  COLON,
} from './rfc9112.js';

import { END_OF_MESSAGE, defaultLimits, type Data, type EndOfMessage, type Limits, type ParseEvent, type RequestHead } from './events.js';

export { END_OF_MESSAGE, defaultLimits, type Data, type EndOfMessage, type Limits, type ParseEvent, type RequestHead };

// Parser states.
const HEAD = 0;
const BODY = 1;
const CHUNKED = 2;
const TRAILERS = 3;
const END = 4; // the body is complete; EndOfMessage is next
const DEAD = 5;

// Reads up to this size are decoded whole when looking for a head's end; longer ones
// are searched with Buffer.indexOf first (a native call costs about as much as
// decoding this many bytes).
const DECODE_WHOLE = 2048;

// Reads smaller than this that arrive behind unconsumed bytes are copied into BLOCK-sized blocks.
const SMALL_READ = 1024;
const BLOCK = 16 * 1024;

// Head errors that depend on position (see Rule 2), in tie-break order.
const NONE = 0;
const BARE_CR = 1;
const BARE_LF = 2;
const TOO_MANY = 3;
const TOO_LONG = 4;
const TOO_LARGE = 5;

const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: (this: Buffer, start: number, end: number) => string }).latin1Slice;
function latin1(buf: Buffer, start: number, end: number): string {
  return latin1Slice !== undefined ? latin1Slice.call(buf, start, end) : buf.toString('latin1', start, end);
}

function fail(code: string, message: string, status = 400): RemoteProtocolError {
  return new RemoteProtocolError(code, message, status);
}

/**
 * Whether the token at str[a…] equals `lower` case-insensitively. `c | 0x20` lower-cases
 * a letter and maps no other tchar onto a letter or "-", so this is exact for tokens.
 */
function sameName(str: string, a: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if ((str.charCodeAt(a + i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Parses a stream of HTTP/1.x requests into events.
 *
 * @example
 * const p = new RequestParser();
 * p.receive(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n'));
 * p.next(); // { kind: 'request', method: 'GET', target: '/', … }
 * p.next(); // END_OF_MESSAGE
 * p.next(); // NEED_DATA
 */
export class RequestParser {
  readonly limits: Limits;

  // Received, unconsumed input: chunks[first] from off, then the later chunks whole.
  // A head index, not shift(): a slow-drip peer can queue tens of thousands of tiny reads.
  private chunks: Buffer[] = [];
  // Small reads gather in `block`; `blockView` (its [blockFrom, blockUsed)) is the queue's last piece while it grows.
  private block: Buffer | null = null;
  private blockView: Buffer | null = null;
  private blockFrom = 0;
  private blockUsed = 0;
  private first = 0;
  private off = 0;
  private buffered = 0;
  private state = HEAD;
  private failure: unknown = null;

  // Scanning a field section (the head, or a trailer section) — see walk().
  private trailer = false;
  private scanIdx = 0; // chunk being scanned
  private scanOff = 0; // offset in it
  private scanned = 0; // section bytes scanned so far
  private lineStart = 0; // section offset of the current line
  private lineCR = -1; // section offset of the first CR in the current line, or -1
  private lineText = ''; // the current line's text from earlier pieces
  private lineAppends = 0;
  private lineIdx = 0; // 0: request line; n: n-th field line
  private emptyLines = 0;

  // The head being read.
  private method = '';
  private target = '';
  private minor: 0 | 1 = 1;
  private headers: string[] = [];
  private hostCount = 0;
  private host: string | null = null;
  private clCount = 0;
  private clValue = '';
  private teCount = 0;
  private teValue = '';
  private connClose = false;
  private connKeepAlive = false;
  private expectContinue = false;
  private expectOther = false;

  // The body being read.
  private remaining = 0;
  private decoder: ChunkedDecoder | null = null;

  constructor(limits: Limits = defaultLimits) {
    this.limits = limits;
  }

  /**
   * Queue bytes from the peer; the buffer must not be changed afterwards. A read
   * that arrives while others wait, and is small, is copied onto the end of a
   * block of such reads (the queue's last piece grows in place, so positions
   * into it hold): a head dripped a byte per packet then costs about a byte a
   * byte, not a Buffer each (issue 11). Anything else is queued as it is.
   */
  receive(chunk: Buffer): void {
    const n = chunk.length;
    if (n === 0 || this.state === DEAD) return;
    this.buffered += n;
    const chunks = this.chunks;
    if (n >= SMALL_READ || this.first === chunks.length) {
      chunks.push(chunk);
      return;
    }
    let block = this.block;
    const last = chunks.length - 1;
    if (block !== null && chunks[last] === this.blockView && this.blockUsed + n <= block.length) {
      block.set(chunk, this.blockUsed);
      this.blockUsed += n;
      chunks[last] = this.blockView = block.subarray(this.blockFrom, this.blockUsed);
      return;
    }
    if (block === null || this.blockUsed + n > block.length) {
      block = this.block = Buffer.allocUnsafeSlow(BLOCK);
      this.blockUsed = 0;
    }
    block.set(chunk, this.blockUsed);
    this.blockFrom = this.blockUsed;
    this.blockUsed += n;
    chunks.push((this.blockView = block.subarray(this.blockFrom, this.blockUsed)));
  }

  /** Bytes received but not yet consumed by events. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * The request line of the message being read, once it has been read (else
   * null), so that a request refused before its head was complete (413, 431)
   * can still be named in the access log.
   */
  get readRequestLine(): { method: string; target: string; minor: 0 | 1 } | null {
    return this.method === '' ? null : { method: this.method, target: this.target, minor: this.minor };
  }

  /**
   * The bytes received and not consumed, handed over (the connection leaves HTTP: a WebSocket
   * after its 101); the parser holds nothing after it.
   */
  takeBuffered(): Buffer {
    const parts = this.chunks.slice(this.first);
    if (parts.length > 0 && this.off > 0) parts[0] = parts[0]!.subarray(this.off);
    this.chunks = [];
    this.first = 0;
    this.off = 0;
    this.buffered = 0;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** True between requests with nothing of the next one received. */
  get idle(): boolean {
    return this.state === HEAD && this.buffered === 0;
  }

  /** The next event, or NEED_DATA. Throws RemoteProtocolError on bad input; after that it rethrows it. */
  next(): ParseEvent | typeof NEED_DATA {
    try {
      switch (this.state) {
        case HEAD:
          return this.readHead();
        case BODY:
          return this.readBody();
        case CHUNKED:
          return this.readChunked();
        case TRAILERS:
          return this.readTrailers();
        case END:
          return this.endMessage();
        default:
          throw this.failure;
      }
    } catch (err) {
      if (this.state !== DEAD) {
        this.state = DEAD;
        this.failure = err;
        this.chunks = [];
        this.first = 0;
        this.off = 0;
        this.buffered = 0;
      }
      throw err;
    }
  }

  // --- input queue ---

  /** Drop n bytes from the front of the queue. */
  private consume(n: number): void {
    this.buffered -= n;
    let off = this.off + n;
    const chunks = this.chunks;
    let first = this.first;
    while (first < chunks.length && off >= chunks[first]!.length) {
      off -= chunks[first]!.length;
      first++;
    }
    if (first === chunks.length) {
      chunks.length = 0;
      first = 0;
    } else if (first >= 64 && first * 2 >= chunks.length) {
      chunks.splice(0, first);
      first = 0;
    }
    this.first = first;
    this.off = off;
  }

  // --- field sections ---

  private startSection(trailer: boolean): void {
    this.trailer = trailer;
    this.scanIdx = this.first;
    this.scanOff = this.off;
    this.scanned = 0;
    this.lineStart = 0;
    this.lineCR = -1;
    this.lineText = '';
    this.lineIdx = trailer ? 1 : 0;
    this.emptyLines = 0;
  }

  /**
   * Scan queued bytes of the current field section. Returns its length in bytes
   * once its empty line is in, or -1 for more data. Decodes at most
   * maxHeaderBytes + 1 bytes of a section, and each byte once.
   */
  private scanSection(): number {
    const chunks = this.chunks;
    const maxBytes = this.limits.maxHeaderBytes;
    for (;;) {
      if (this.scanIdx >= chunks.length) return -1;
      const buf = chunks[this.scanIdx]!;
      const from = this.scanOff;
      if (from >= buf.length) {
        if (this.scanIdx + 1 === chunks.length) return -1; // the last piece may still grow (receive)
        this.scanIdx++;
        this.scanOff = 0;
        continue;
      }
      // The empty line at a line start, without decoding what follows (the usual trailer section).
      if (
        this.lineIdx > 0 &&
        this.lineStart === this.scanned &&
        this.lineText.length === 0 &&
        buf[from] === CR &&
        from + 1 < buf.length &&
        buf[from + 1] === LF &&
        this.scanned + 2 <= maxBytes
      ) {
        return this.scanned + 2;
      }
      // A short read is decoded whole (usually it is just the head). From a long one,
      // decode up to the first CRLFCRLF, so that a body is not decoded. Never past the limit.
      const cap = maxBytes + 1 - this.scanned;
      let end = buf.length;
      if (end - from > DECODE_WHOLE) {
        let at: number;
        if (end - from > cap) {
          end = from + cap;
          at = buf.subarray(from, end).indexOf(HEAD_END);
          if (at >= 0) at += from;
        } else {
          at = buf.indexOf(HEAD_END, from);
        }
        if (at >= 0 && at + 4 < end) end = at + 4;
      } else if (end - from > cap) {
        end = from + cap;
      }
      const r = this.walk(latin1(buf, from, end), this.scanned);
      if (r >= 0) return this.scanned + r;
      this.scanned += end - from;
      this.scanOff = end;
    }
  }

  /**
   * Walk the lines of `p`, the section's bytes from offset `base`. Checks framing
   * and limits by position (Rule 2), hands each complete line to requestLine() or
   * fieldLine(). Returns the index in `p` just past the section's empty line, or -1.
   */
  private walk(p: string, base: number): number {
    const limits = this.limits;
    const maxFields = limits.maxHeaderFields;
    const maxField = limits.maxFieldSize;
    const maxBytes = limits.maxHeaderBytes;
    const n = p.length;
    let i = 0;
    for (;;) {
      const lf = p.indexOf('\n', i);
      const s = this.lineStart;
      const e = base + lf;
      let a = i;
      let b = lf - 1;
      let str = p;
      if (
        // Fast path: a CRLF-terminated line wholly in p, within every limit. Its only
        // possible errors are a CR inside it and its content; content checks reject
        // any CR, and content errors check for one first (see bad()).
        lf > i &&
        this.lineText.length === 0 &&
        p.charCodeAt(b) === CR &&
        !(this.lineIdx > maxFields && b > a) &&
        e <= s + (this.lineIdx === 0 ? limits.maxRequestLine : maxField) + 1 &&
        e < maxBytes
      ) {
        // fall through to the line
      } else {
        // Exact path: a partial line, a line across pieces, bare LF, or a limit hit.
        const known = lf < 0 ? base + n : e; // the line's bytes known so far end here
        let cr = this.lineCR;
        if (cr < 0) {
          const c = p.indexOf('\r', i);
          if (c >= 0 && (lf < 0 || c < lf)) cr = base + c;
        }
        // The earliest error in this line, by position; ties go to the first checked.
        let at = Infinity;
        let err = NONE;
        if (cr >= 0 && cr + 1 < known) {
          at = cr + 1;
          err = BARE_CR; // CR, then not LF
        } else if (lf >= 0 && cr < 0) {
          at = e;
          err = BARE_LF; // LF without CR
        }
        if (s < at && this.lineIdx > maxFields && cr !== s && (lf >= 0 || known > s)) {
          at = s;
          err = TOO_MANY; // a field line (not the empty line) beyond the count
        }
        const tooLong = s + (this.lineIdx === 0 ? limits.maxRequestLine : maxField) + 1;
        if (tooLong < at && tooLong < known) {
          at = tooLong;
          err = TOO_LONG; // no CRLF by then
        }
        if (maxBytes < at && maxBytes < (lf >= 0 ? e + 1 : known)) {
          at = maxBytes;
          err = TOO_LARGE;
        }
        if (err !== NONE) throw this.lineError(err);
        if (lf < 0) {
          this.lineCR = cr;
          if (i < n) {
            this.lineText += i === 0 ? p : p.slice(i);
            // a line trickled in tiny reads is a rope of them (32 bytes a piece); flattening
            // now and then keeps it near a byte per byte (issue 11)
            if ((++this.lineAppends & 63) === 0) this.lineText.charCodeAt(0);
          }
          return -1;
        }
        if (this.lineText.length !== 0) {
          str = this.lineText + p.slice(0, lf);
          a = 0;
          b = str.length - 1;
          this.lineText = '';
        }
        this.lineCR = -1;
      }
      // A complete line: its text is [a, b) of str, without CRLF.
      this.lineStart = e + 1;
      i = lf + 1;
      if (a === b) {
        if (this.lineIdx > 0) return i; // the empty line: end of section
        // RFC 9112 §2.2: empty lines before the request-line are ignored, up to a few.
        if (++this.emptyLines > MAX_LEADING_EMPTY_LINES) {
          throw fail(codes.BAD_REQUEST_LINE, 'too many empty lines before the request line');
        }
      } else {
        if (this.lineIdx === 0) this.requestLine(str, a, b);
        else this.fieldLine(str, a, b);
        this.lineIdx++;
      }
      if (i === n) return -1;
    }
  }

  /** A content error in line [a, b) of str — unless the line holds a bare CR, which comes first. */
  private bad(str: string, a: number, b: number, code: string, message: string, status = 400): RemoteProtocolError {
    const cr = str.indexOf('\r', a);
    if (cr >= 0 && cr < b) return this.lineError(BARE_CR);
    return fail(code, message, status);
  }

  private lineError(err: number): RemoteProtocolError {
    const where = this.trailer ? 'trailer section' : 'head';
    switch (err) {
      case BARE_CR:
        return fail(codes.BARE_CR, `bare CR in ${where}`);
      case BARE_LF:
        return fail(codes.BARE_LF, `bare LF in ${where}`);
      case TOO_MANY:
        return fail(codes.TOO_MANY_HEADERS, `too many fields in ${where}`, 431);
      case TOO_LONG:
        return this.lineIdx === 0
          ? fail(codes.URI_TOO_LONG, 'request line too long', 414)
          : fail(codes.HEADERS_TOO_LARGE, `field line too long in ${where}`, 431);
      default:
        return fail(codes.HEADERS_TOO_LARGE, `${where} too large`, 431);
    }
  }

  // RFC 9112 §3: request-line = method SP request-target SP HTTP-version
  //              method = token
  private requestLine(str: string, a: number, b: number): void {
    const sp1 = str.indexOf(' ', a);
    const sp2 = sp1 < 0 ? -1 : str.indexOf(' ', sp1 + 1);
    if (sp2 < 0 || sp2 >= b) throw this.bad(str, a, b, codes.BAD_REQUEST_LINE, 'malformed request line');
    if (sp1 === a) throw this.bad(str, a, b, codes.BAD_REQUEST_LINE, 'empty method');
    for (let k = a; k < sp1; k++) {
      if (TCHAR[str.charCodeAt(k)] !== 1) throw this.bad(str, a, b, codes.BAD_REQUEST_LINE, 'invalid method');
    }
    if (sp2 === sp1 + 1) throw this.bad(str, a, b, codes.BAD_REQUEST_LINE, 'empty request target');
    const target = str.slice(sp1 + 1, sp2);
    if (TARGET_INVALID.test(target)) throw this.bad(str, a, b, codes.BAD_TARGET, 'invalid character in request target');
    // HTTP-version = HTTP-name "/" DIGIT "." DIGIT
    const last = str.charCodeAt(b - 1);
    if (b - sp2 === 9 && str.startsWith('HTTP/1.', sp2 + 1) && (last === 0x31 || last === 0x30)) {
      this.minor = last === 0x31 ? 1 : 0;
    } else {
      const version = str.slice(sp2 + 1, b);
      if (version.indexOf(' ') >= 0) throw this.bad(str, a, b, codes.BAD_REQUEST_LINE, 'malformed request line');
      if (HTTP_VERSION.test(version)) throw this.bad(str, a, b, codes.UNSUPPORTED_VERSION, 'HTTP version not supported', 505);
      throw this.bad(str, a, b, codes.BAD_VERSION, 'malformed HTTP version');
    }
    this.method = str.slice(a, sp1);
    this.target = target;
  }

  // RFC 9112 §5: field-line = field-name ":" OWS field-value OWS ; field-name = token
  private fieldLine(str: string, a: number, b: number): void {
    const first = str.charCodeAt(a);
    // §5.2: obs-fold = OWS CRLF RWS — rejected, as is whitespace before the first field (§2.2).
    if (first === SP || first === HTAB) throw this.bad(str, a, b, codes.BAD_HEADER, 'obs-fold or leading whitespace in field line');
    const tchar = TCHAR;
    let k = a;
    for (; k < b; k++) {
      const c = str.charCodeAt(k);
      if (c === COLON) break;
      if (tchar[c] !== 1) {
        // §5.1: "No whitespace is allowed between the field name and colon."
        throw this.bad(str, a, b, codes.BAD_HEADER, c === SP || c === HTAB ? 'whitespace before colon' : 'invalid character in field name');
      }
    }
    if (k === b) throw this.bad(str, a, b, codes.BAD_HEADER, 'field line without colon');
    if (k === a) throw this.bad(str, a, b, codes.BAD_HEADER, 'empty field name');
    let vs = k + 1;
    let ve = b;
    while (vs < ve && WS[str.charCodeAt(vs)] === 1) vs++;
    while (ve > vs && WS[str.charCodeAt(ve - 1)] === 1) ve--;
    const value = vs === ve ? '' : str.slice(vs, ve);
    if (FIELD_VALUE_INVALID.test(value)) throw this.bad(str, a, b, codes.BAD_HEADER, 'invalid character in field value');
    if (this.trailer) return; // trailer fields are validated and dropped
    const headers = this.headers;
    headers.push(str.slice(a, k), value);
    // Only names of the right length and first letter are compared, without lower-casing.
    switch (k - a) {
      case 4:
        if (sameName(str, a, 'host') && this.hostCount++ === 0) this.host = value;
        break;
      case 6:
        if (sameName(str, a, 'expect')) {
          if (value.length === 12 && value.toLowerCase() === '100-continue') this.expectContinue = true;
          else if (value !== '') this.expectOther = true;
        }
        break;
      case 10:
        if (sameName(str, a, 'connection')) this.connectionTokens(value);
        break;
      case 14:
        if (sameName(str, a, 'content-length') && this.clCount++ === 0) this.clValue = value;
        break;
      case 17:
        if (sameName(str, a, 'transfer-encoding') && this.teCount++ === 0) this.teValue = value;
        break;
    }
  }

  // RFC 9110 §7.6.1: Connection = #connection-option ; connection-option = token
  private connectionTokens(value: string): void {
    const lower = value.toLowerCase();
    if (lower === 'keep-alive') this.connKeepAlive = true;
    else if (lower === 'close') this.connClose = true;
    else if (lower.indexOf(',') >= 0) {
      for (const part of lower.split(',')) {
        const token = trimOWS(part);
        if (token === 'close') this.connClose = true;
        else if (token === 'keep-alive') this.connKeepAlive = true;
      }
    }
  }

  // --- events ---

  private readHead(): RequestHead | typeof NEED_DATA {
    if (this.first === this.chunks.length) return NEED_DATA;
    const length = this.scanSection();
    if (length < 0) return NEED_DATA;
    this.consume(length);
    return this.finishHead();
  }

  /** Cross-field rules (RFC 9112 §6, RFC 9110 §7.2, §10.1.1), in a fixed order. */
  private finishHead(): RequestHead {
    const limits = this.limits;
    const minor = this.minor;
    let contentLength = 0;
    let chunked = false;
    // §6.1, §6.3: one framing, or none.
    if (this.teCount > 1) throw fail(codes.BAD_TRANSFER_ENCODING, 'more than one Transfer-Encoding field');
    if (this.clCount > 1) throw fail(codes.BAD_CONTENT_LENGTH, 'more than one Content-Length field');
    if (this.teCount > 0) {
      if (this.clCount > 0) throw fail(codes.CL_AND_TE, 'both Content-Length and Transfer-Encoding');
      if (minor === 0) throw fail(codes.BAD_TRANSFER_ENCODING, 'Transfer-Encoding in an HTTP/1.0 request');
      checkTransferEncoding(this.teValue.toLowerCase());
      chunked = true;
      contentLength = -1;
    } else if (this.clCount > 0) {
      const v = this.clValue;
      if (!CONTENT_LENGTH.test(v)) throw fail(codes.BAD_CONTENT_LENGTH, 'malformed Content-Length');
      contentLength = Number(v);
      // Too big to represent exactly is too big to accept: 413, as for maxBodyBytes.
      if (contentLength > Number.MAX_SAFE_INTEGER || contentLength > limits.maxBodyBytes) {
        throw fail(codes.BODY_TOO_LARGE, 'Content-Length too large', 413);
      }
    }
    // RFC 9112 §3.2: Host is required in HTTP/1.1, and must be single and valid.
    if (this.hostCount > 1) throw fail(codes.BAD_HOST, 'more than one Host field');
    const host = this.host;
    if (host === null) {
      if (minor === 1) throw fail(codes.BAD_HOST, 'missing Host');
    } else if (!HOST.test(host) || (host.indexOf('%') >= 0 && PCT_INVALID.test(host))) {
      throw fail(codes.BAD_HOST, 'invalid Host');
    }
    // RFC 9110 §10.1.1: only 100-continue is a known expectation.
    if (this.expectOther) throw fail(codes.BAD_EXPECT, 'unsupported expectation', 417);

    const head: RequestHead = {
      kind: 'request',
      method: this.method,
      target: this.target,
      minor,
      headers: this.headers,
      contentLength,
      chunked,
      keepAlive: minor === 1 ? !this.connClose : this.connKeepAlive && !this.connClose,
      expectContinue: minor === 1 && this.expectContinue,
      host,
    };
    this.headers = [];
    this.hostCount = 0;
    this.host = null;
    this.clCount = 0;
    this.teCount = 0;
    this.connClose = false;
    this.connKeepAlive = false;
    this.expectContinue = false;
    this.expectOther = false;

    if (chunked) {
      if (this.decoder === null) this.decoder = new ChunkedDecoder(limits.maxBodyBytes, limits.maxChunkLine);
      else this.decoder.reset();
      this.state = CHUNKED;
    } else if (contentLength > 0) {
      this.remaining = contentLength;
      this.state = BODY;
    } else {
      this.state = END;
    }
    return head;
  }

  private readBody(): Data | typeof NEED_DATA {
    if (this.first === this.chunks.length) return NEED_DATA;
    const buf = this.chunks[this.first]!;
    const off = this.off;
    const n = Math.min(this.remaining, buf.length - off);
    const chunk = off === 0 && n === buf.length ? buf : buf.subarray(off, off + n);
    this.consume(n);
    if ((this.remaining -= n) === 0) this.state = END;
    return { kind: 'data', chunk };
  }

  private readChunked(): ParseEvent | typeof NEED_DATA {
    const decoder = this.decoder!;
    while (this.first < this.chunks.length) {
      const off = this.off;
      const pos = decoder.step(this.chunks[this.first]!, off);
      this.consume(pos - off);
      const data = decoder.data;
      if (data !== null) {
        decoder.data = null;
        return { kind: 'data', chunk: data };
      }
      if (decoder.done) {
        this.state = TRAILERS;
        this.startSection(true);
        return this.readTrailers();
      }
    }
    return NEED_DATA;
  }

  // RFC 9112 §7.1.2: trailer-section = *( field-line CRLF ) — parsed with the head's rules, then dropped.
  private readTrailers(): EndOfMessage | typeof NEED_DATA {
    const length = this.scanSection();
    if (length < 0) return NEED_DATA;
    this.consume(length);
    return this.endMessage();
  }

  private endMessage(): EndOfMessage {
    this.state = HEAD;
    this.method = '';
    this.startSection(false);
    return END_OF_MESSAGE;
  }
}
