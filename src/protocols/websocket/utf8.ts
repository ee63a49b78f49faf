// UTF-8 validation of a text message that arrives in pieces (RFC 6455 §8.1:
// "When an endpoint is to interpret a byte stream as UTF-8 but finds that the
// byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail
// the WebSocket Connection_"), failing on the first bad piece rather than at
// the end of the message.
//
// Each piece is checked with node:buffer's isUtf8 (simdutf, several GB/s) up to
// its last complete character; the 1-3 bytes of a character cut by the piece's
// end are carried and checked once the next piece completes it. So every byte
// is checked once, however the message was cut, with no decoding to a string
// (TextDecoder's streaming mode decodes, and is ~10x slower on ASCII: see
// bench/websocket.ts).

import { isUtf8 } from 'node:buffer';

/** The length of the sequence a lead byte starts (invalid leads say 4: the check of the whole sequence fails them). */
function sequenceLength(lead: number): number {
  return lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
}

/**
 * How many bytes at the end of `b` start a character that `b` does not
 * complete (0-3) and could still become a valid one (RFC 3629 §4: the second
 * byte's range depends on the lead); 0 when they cannot, so that the check of
 * the whole piece fails on them now rather than when the next piece comes.
 */
function incompleteTail(b: Uint8Array): number {
  const n = b.length;
  for (let i = n - 1; i >= 0 && i >= n - 3; i--) {
    const c = b[i]!;
    if (c < 0x80) return 0;
    if (c < 0xc0) continue;
    if (n - i >= sequenceLength(c) || !couldStart(b, i, n)) return 0;
    return n - i;
  }
  return 0;
}

/** Whether b[i..n) is the start of some valid UTF-8 sequence. */
function couldStart(b: Uint8Array, i: number, n: number): boolean {
  const lead = b[i]!;
  if (lead < 0xc2 || lead > 0xf4) return false;
  if (n - i < 2) return true;
  const second = b[i + 1]!;
  const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
  const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
  if (second < low || second > high) return false;
  return n - i < 3 || (b[i + 2]! & 0xc0) === 0x80;
}

export class Utf8Validator {
  private readonly carry = new Uint8Array(4);
  private carried = 0;

  /** Check the next piece of the message; false: the message is not UTF-8. */
  push(piece: Uint8Array): boolean {
    let start = 0;
    if (this.carried > 0) {
      const need = sequenceLength(this.carry[0]!) - this.carried;
      const take = Math.min(need, piece.length);
      this.carry.set(piece.subarray(0, take), this.carried);
      this.carried += take;
      if (take < need) return couldStart(this.carry, 0, this.carried);
      if (!isUtf8(this.carry.subarray(0, this.carried))) return false;
      this.carried = 0;
      start = take;
    }
    const rest = start === 0 ? piece : piece.subarray(start);
    const tail = incompleteTail(rest);
    if (!isUtf8(tail === 0 ? rest : rest.subarray(0, rest.length - tail))) return false;
    if (tail > 0) {
      this.carry.set(rest.subarray(rest.length - tail));
      this.carried = tail;
    }
    return true;
  }

  /** The message ended: false when it ends inside a character. Ready for the next message either way. */
  end(): boolean {
    const ok = this.carried === 0;
    this.carried = 0;
    return ok;
  }
}
