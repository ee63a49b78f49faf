// The chunked transfer coding decoder (RFC 9112 §7.1), a byte-at-a-time state
// machine for chunk lines plus zero-copy slicing for chunk data. Sans-I/O: the
// request parser hands it (buffer, offset) pairs and reads back what it found.
//
// It holds no bytes: chunk lines are validated and their size accumulated as the
// bytes go by, so a line split across any number of reads costs nothing extra,
// and every error is raised at the first byte that makes the input invalid (the
// same error whatever the read boundaries were). The trailer section after the
// last chunk is a field section; the request parser reads it with its head rules.
//
//   chunked-body = *chunk last-chunk trailer-section CRLF
//   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//   last-chunk   = 1*("0") [ chunk-ext ] CRLF
//   chunk-ext    = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//   chunk-ext-name = token ; chunk-ext-val = token / quoted-string

import { RemoteProtocolError, codes } from '../../errors.js';
import { BACKSLASH, CR, DQUOTE, EQUALS, HEX_VALUE, LF, MAX_CHUNK_SIZE_DIGITS, QDTEXT, QUOTED_PAIR, SEMI, TCHAR, WS } from './rfc9112.js';

// Where in the grammar the next byte falls.
const SIZE_FIRST = 0; //   chunk-size: first HEXDIG
const SIZE = 1; //         chunk-size: more HEXDIG, or what follows it
const SEMI_BWS = 2; //     BWS before ";" (only ";" may end it)
const NAME_BWS = 3; //     BWS after ";", before chunk-ext-name
const NAME = 4; //         chunk-ext-name
const EQ_BWS = 5; //       BWS after the name (only "=" or ";" may end it)
const VALUE_BWS = 6; //    BWS after "=", before chunk-ext-val
const VALUE_TOKEN = 7; //  chunk-ext-val as a token
const QUOTED = 8; //       inside a quoted-string
const QUOTED_PAIR_2 = 9; // the byte after "\" in a quoted-string
const AFTER_QUOTED = 10; // after the closing DQUOTE
const LINE_LF = 11; //     the LF of the chunk line's CRLF
const DATA = 12; //        chunk-data
const DATA_CR = 13; //     the CR after chunk-data
const DATA_LF = 14; //     the LF after chunk-data
const DONE = 15; //        last-chunk read; the trailer section is the parser's

function badChunk(message: string): RemoteProtocolError {
  return new RemoteProtocolError(codes.BAD_CHUNK, message, 400);
}

/**
 * Decodes one chunked body. Call `step(buf, pos)` with unread input; it returns
 * the offset it stopped at and sets either `data` (a subarray of `buf` to emit),
 * or `done` (the last-chunk line was read; the trailer section starts at the
 * returned offset), or neither (all of `buf` was consumed; feed more).
 *
 * @example
 * const dec = new ChunkedDecoder(Infinity, 4096);
 * let pos = dec.step(Buffer.from('5\r\nhello\r\n0\r\n'), 0); // dec.data = <hello>
 */
export class ChunkedDecoder {
  /** Chunk data found by the last `step`, or null. The caller clears it. */
  data: Buffer | null = null;
  /** True once the last-chunk line has been read. */
  done = false;
  /** Sum of the chunk sizes announced so far. */
  total = 0;

  private state = SIZE_FIRST;
  private size = 0;
  private digits = 0;
  private remaining = 0;
  private lineBytes = 0;

  constructor(
    private readonly maxBodyBytes: number,
    private readonly maxChunkLine: number,
  ) {}

  /** Ready the decoder for another chunked body. */
  reset(): void {
    this.data = null;
    this.done = false;
    this.total = 0;
    this.state = SIZE_FIRST;
    this.size = 0;
    this.digits = 0;
    this.remaining = 0;
    this.lineBytes = 0;
  }

  step(buf: Buffer, pos: number): number {
    const end = buf.length;
    while (pos < end) {
      let state = this.state;
      if (state === DONE) return pos;
      if (state === DATA) {
        const n = Math.min(this.remaining, end - pos);
        this.remaining -= n;
        if (this.remaining === 0) this.state = DATA_CR;
        this.data = pos === 0 && n === end ? buf : buf.subarray(pos, pos + n);
        return pos + n;
      }
      const b = buf[pos++]!;
      if (state === DATA_CR) {
        if (b !== CR) throw badChunk('chunk data is not followed by CRLF');
        this.state = DATA_LF;
        continue;
      }
      if (state === DATA_LF) {
        if (b !== LF) throw badChunk('chunk data is not followed by CRLF');
        this.state = SIZE_FIRST;
        this.lineBytes = 0;
        continue;
      }
      // A chunk line. Bare LF and over-long lines are checked before the grammar.
      if (state === LINE_LF) {
        if (b !== LF) throw new RemoteProtocolError(codes.BARE_CR, 'bare CR in chunk line', 400);
        if (this.endLine()) return pos;
        continue;
      }
      if (b === LF) throw new RemoteProtocolError(codes.BARE_LF, 'bare LF in chunk line', 400);
      if (b !== CR && ++this.lineBytes > this.maxChunkLine) throw badChunk('chunk line too long');
      switch (state) {
        case SIZE_FIRST: {
          const v = HEX_VALUE[b]!;
          if (v < 0) throw badChunk('chunk size is not a hex number');
          this.size = v;
          this.digits = 1;
          state = SIZE;
          break;
        }
        case SIZE: {
          const v = HEX_VALUE[b]!;
          if (v >= 0) {
            if (++this.digits > MAX_CHUNK_SIZE_DIGITS) {
              throw new RemoteProtocolError(codes.BODY_TOO_LARGE, 'chunk size too large', 413);
            }
            this.size = this.size * 16 + v;
          } else state = this.afterValue(b, 'chunk size is not a hex number');
          break;
        }
        case SEMI_BWS:
          if (b === SEMI) state = NAME_BWS;
          else if (WS[b] !== 1) throw badChunk('bad chunk extension');
          break;
        case NAME_BWS:
          if (TCHAR[b] === 1) state = NAME;
          else if (WS[b] !== 1) throw badChunk('bad chunk extension name');
          break;
        case NAME:
          if (TCHAR[b] === 1) break;
          if (b === EQUALS) state = VALUE_BWS;
          else if (WS[b] === 1) state = EQ_BWS;
          else state = this.afterValue(b, 'bad chunk extension name');
          break;
        case EQ_BWS:
          if (b === EQUALS) state = VALUE_BWS;
          else if (b === SEMI) state = NAME_BWS;
          else if (WS[b] !== 1) throw badChunk('bad chunk extension');
          break;
        case VALUE_BWS:
          if (TCHAR[b] === 1) state = VALUE_TOKEN;
          else if (b === DQUOTE) state = QUOTED;
          else if (WS[b] !== 1) throw badChunk('bad chunk extension value');
          break;
        case VALUE_TOKEN:
          if (TCHAR[b] !== 1) state = this.afterValue(b, 'bad chunk extension value');
          break;
        case QUOTED:
          if (b === DQUOTE) state = AFTER_QUOTED;
          else if (b === BACKSLASH) state = QUOTED_PAIR_2;
          else if (QDTEXT[b] !== 1) throw badChunk('bad quoted-string in chunk extension');
          break;
        case QUOTED_PAIR_2:
          if (QUOTED_PAIR[b] !== 1) throw badChunk('bad quoted-pair in chunk extension');
          state = QUOTED;
          break;
        case AFTER_QUOTED:
          state = this.afterValue(b, 'bad chunk extension');
          break;
      }
      this.state = state;
    }
    return pos;
  }

  /** After chunk-size, a name or a value: ";" starts an extension, BWS must lead to ";", CR ends the line. */
  private afterValue(b: number, message: string): number {
    if (b === SEMI) return NAME_BWS;
    if (b === CR) return LINE_LF;
    if (WS[b] === 1) return SEMI_BWS;
    throw badChunk(message);
  }

  /** The chunk line's LF arrived. Returns true when it was the last-chunk line. */
  private endLine(): boolean {
    const size = this.size;
    if (size === 0) {
      this.state = DONE;
      this.done = true;
      return true;
    }
    const total = this.total + size;
    if (total > this.maxBodyBytes || total > Number.MAX_SAFE_INTEGER) {
      throw new RemoteProtocolError(codes.BODY_TOO_LARGE, 'chunked body too large', 413);
    }
    this.total = total;
    this.remaining = size;
    this.state = DATA;
    return false;
  }
}
