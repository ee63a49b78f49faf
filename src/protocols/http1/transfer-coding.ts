// The request's Transfer-Encoding, checked (RFC 9112 §6.1, §6.3), and the OWS
// trim it shares with the parser's Connection tokens. Out of parse.ts, whose
// RequestParser calls it once per request that has the field.

import { RemoteProtocolError, codes } from '../../errors.js';
import { TCHAR, WS } from './rfc9112.js';

function fail(code: string, message: string, status = 400): RemoteProtocolError {
  return new RemoteProtocolError(code, message, status);
}

/** Trim OWS (SP / HTAB) from both ends. */
export function trimOWS(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && WS[s.charCodeAt(a)] === 1) a++;
  while (b > a && WS[s.charCodeAt(b - 1)] === 1) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (TCHAR[s.charCodeAt(i)] !== 1) return false;
  return true;
}

/**
 * RFC 9112 §6.1: Transfer-Encoding = #transfer-coding; chunked must be final and
 * appear once (§6.3: otherwise 400); any other coding is not implemented (501).
 * Checked on the lower-cased value.
 */
export function checkTransferEncoding(lower: string): void {
  if (lower === 'chunked') return;
  const parts = lower.split(',');
  let chunkedAt = -1;
  let other = false;
  for (let i = 0; i < parts.length; i++) {
    const coding = trimOWS(parts[i]!);
    const semi = coding.indexOf(';');
    const name = semi < 0 ? coding : trimOWS(coding.slice(0, semi));
    if (!isToken(name)) throw fail(codes.BAD_TRANSFER_ENCODING, 'malformed Transfer-Encoding');
    if (name === 'chunked') {
      if (chunkedAt >= 0) throw fail(codes.BAD_TRANSFER_ENCODING, 'chunked applied more than once');
      if (semi >= 0) throw fail(codes.BAD_TRANSFER_ENCODING, 'chunked takes no parameters');
      chunkedAt = i;
    } else other = true;
  }
  if (chunkedAt >= 0 && chunkedAt !== parts.length - 1) {
    throw fail(codes.BAD_TRANSFER_ENCODING, 'chunked is not the final transfer coding');
  }
  if (other) throw fail(codes.UNKNOWN_TRANSFER_CODING, 'transfer coding not implemented', 501);
  // Not reachable today; kept so that only "chunked, last" can ever return.
  if (chunkedAt !== parts.length - 1) throw fail(codes.BAD_TRANSFER_ENCODING, 'malformed Transfer-Encoding');
}
