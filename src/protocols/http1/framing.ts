// How a response to one HTTP/1.x request is framed (RFC 9112 §6.3, §9.3),
// sans-I/O, after h11's _body_framing and _clean_up_response_headers_for_sending:
// given the request, the app's status and headers, what the gateway knows of the
// body's length and whether the connection may be kept, it returns the head to
// send and how the body goes: not at all (HEAD, 204, 304), by the app's own
// Content-Length, by one we add, chunked, or delimited by the close.
//
// Rule: the app's headers are sent as given (checked at start_response), except
// a Content-Length on a 204; the gateway adds Date, Server (unless the app set
// one), a Content-Length it knows, Transfer-Encoding and Connection.

import { LocalProtocolError, codes } from '../../errors.js';

export interface FramingRequest {
  readonly method: string;
  readonly minor: 0 | 1;
}

export interface Framing {
  /** Status line and header section, CRLF CRLF included (latin-1). */
  head: string;
  /** No body may follow (HEAD, 204, 304): whatever the app yields is dropped. */
  noBody: boolean;
  /** The body is sent as chunks, then a last-chunk. */
  chunked: boolean;
  /** Bytes the app owes by its own Content-Length, -1 when it gave none. */
  remaining: number;
  /** The connection may carry another request after this response. */
  keepAlive: boolean;
}

export interface FramingContext {
  /** The Date header's value. */
  date: string;
  /** Whether the connection may be kept, framing aside (the request asked, the server is not closing, ...). */
  mayKeepAlive: boolean;
  /** Sent on a kept response (e.g. `Keep-Alive: timeout=5\r\n`). */
  keepAliveHint: string;
}

const CONTENT_LENGTH = /^[0-9]{1,15}$/;

/**
 * The head and framing of a response. `knownLength` is the body's length when
 * the gateway has all of it (-1: it streams). Throws LocalProtocolError for an
 * app Content-Length that is not digits or comes twice.
 *
 * @example
 * frameResponse({ method: 'GET', minor: 1 }, '200 OK', 200, [['Content-Type', 'text/plain']], 5,
 *   { date: 'Thu, 03 Dec 2026 08:00:00 GMT', mayKeepAlive: true, keepAliveHint: 'Keep-Alive: timeout=5\r\n' });
 * // head: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: …\r\nServer: warpipe\r\n' +
 * //   'Content-Length: 5\r\nKeep-Alive: timeout=5\r\n\r\n'
 */
export function frameResponse(
  req: FramingRequest,
  status: string,
  code: number,
  headers: readonly (readonly [string, string])[],
  knownLength: number,
  ctx: FramingContext,
): Framing {
  const noBody = req.method === 'HEAD' || code === 204 || code === 304;
  let appLength = -1;
  let hasServer = false;
  let out = 'HTTP/1.1 ' + status + '\r\n';
  for (const [name, value] of headers) {
    if (name.length === 14 && name.toLowerCase() === 'content-length') {
      if (!CONTENT_LENGTH.test(value) || appLength >= 0) {
        throw new LocalProtocolError(codes.BAD_RESPONSE_HEADER, `app gave an invalid or repeated Content-Length: ${value}`);
      }
      appLength = Number(value);
      if (code === 204) continue; // RFC 9110 §8.6: a 204 has none
    } else if (name.length === 6 && name.toLowerCase() === 'server') {
      hasServer = true;
    }
    out += name + ': ' + value + '\r\n';
  }
  out += 'Date: ' + ctx.date + '\r\n';
  if (!hasServer) out += 'Server: warpipe\r\n';
  let chunked = false;
  let closeDelimited = false;
  let remaining = -1;
  if (noBody) {
    // a HEAD response tells the length a GET would have had, when it is known
    if (appLength < 0 && knownLength >= 0 && code !== 204 && code !== 304) out += 'Content-Length: ' + knownLength + '\r\n';
  } else if (appLength >= 0) {
    remaining = appLength;
  } else if (knownLength >= 0) {
    out += 'Content-Length: ' + knownLength + '\r\n';
  } else if (req.minor === 1) {
    out += 'Transfer-Encoding: chunked\r\n';
    chunked = true;
  } else {
    closeDelimited = true; // RFC 9112 §6.3 rule 8: an HTTP/1.0 client reads to the close
  }
  const keepAlive = !closeDelimited && ctx.mayKeepAlive;
  if (!keepAlive) {
    if (req.minor === 1) out += 'Connection: close\r\n';
  } else {
    if (req.minor === 0) out += 'Connection: keep-alive\r\n';
    out += ctx.keepAliveHint;
  }
  return { head: out + '\r\n', noBody, chunked, remaining, keepAlive };
}
