// What an app may hand to startResponse, checked before a byte is sent
// (PEP 3333: "the server must check for errors in the headers at the time
// start_response is called"). Anything with CR, LF or NUL in it would split the
// response (gunicorn CVE-2018-1000164), so it becomes a 500 instead.

import { LocalProtocolError, codes } from '../errors.js';
import type { Body, Headers, StartResponse } from './types.js';

// RFC 9110 §15: status-code = 3DIGIT, 100 to 599; §4 of RFC 9112: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
const STATUS = /^[1-5][0-9][0-9](?: [\t\x20-\x7e\x80-\xff]*)?$/;
// RFC 9110 §5.1: field-name = token;
//   tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 9110 §5.5: field-value = *field-content; field-vchar = VCHAR / obs-text; SP and HTAB inside
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f\u0100-\uffff]/;

/** Hop-by-hop fields: PEP 3333 forbids apps to set them; the server owns the connection. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
]);

export function checkStatus(status: unknown): number {
  if (typeof status !== 'string' || !STATUS.test(status)) {
    throw new LocalProtocolError(codes.BAD_STATUS, `app gave an invalid status line: ${JSON.stringify(status)}`);
  }
  return (status.charCodeAt(0) - 48) * 100 + (status.charCodeAt(1) - 48) * 10 + (status.charCodeAt(2) - 48);
}

/**
 * Header lists that passed and cannot change (frozen, and every pair in them): checked once. The static
 * file app answers every request for a file with the same frozen list; the check was 4 % of the
 * gateway's profile serving a 1 KiB file.
 */
const checkedFrozen = new WeakSet<object>();

/**
 * A header list the server makes for its own answer (a refused WebSocket handshake's 426 says `Upgrade`, as
 * RFC 9110 §15.5.22 requires): frozen, and taken by checkHeaders as checked, hop-by-hop fields and all.
 */
export function serverHeaders(headers: [string, string][]): Headers {
  for (const pair of headers) Object.freeze(pair);
  checkedFrozen.add(Object.freeze(headers));
  return headers;
}

export function checkHeaders(headers: unknown): asserts headers is Headers {
  const frozen = Object.isFrozen(headers);
  if (frozen && checkedFrozen.has(headers as object)) return;
  if (!Array.isArray(headers)) {
    throw new LocalProtocolError(codes.BAD_RESPONSE_HEADER, 'app gave response headers that are not a list');
  }
  for (const pair of headers) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      throw new LocalProtocolError(
        codes.BAD_RESPONSE_HEADER,
        `app gave a header that is not a [name, value] pair of strings: ${safe(pair)}`,
      );
    }
    const [name, value] = pair as [string, string];
    if (!TOKEN.test(name)) {
      throw new LocalProtocolError(codes.BAD_RESPONSE_HEADER, `app gave an invalid header name ${safe(name)}`);
    }
    if (BAD_VALUE.test(value)) {
      throw new LocalProtocolError(
        codes.BAD_RESPONSE_HEADER,
        `app gave header ${name} a value with control or non-latin-1 characters: ${safe(value)}`,
      );
    }
    if (HOP_BY_HOP.has(name.toLowerCase())) {
      throw new LocalProtocolError(codes.BAD_RESPONSE_HEADER, `app set hop-by-hop header ${name}, which belongs to the server (PEP 3333)`);
    }
  }
  if (frozen && headers.every((pair) => Object.isFrozen(pair))) checkedFrozen.add(headers);
}

function safe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? text.slice(0, 117) + '...' : text;
}

/** A short text/plain answer from an app (404s, 405s, redirects): startResponse, then the body. */
export function plainText(startResponse: StartResponse, status: string, text: string, extra: Headers = []): Body {
  startResponse(status, [['Content-Type', 'text/plain; charset=utf-8'], ['Content-Length', String(Buffer.byteLength(text))], ...extra]);
  return [text];
}
