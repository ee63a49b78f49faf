// One HTTP/2 request and response as warpipe reads and writes them, sans-I/O.
// nghttp2 (under node:http2) already enforces most of RFC 9113 §8: the pseudo-
// header set and order, connection-specific fields, TE other than "trailers",
// lowercase names, field values without CR/LF/NUL, content-length against the
// DATA received. What is left to a server, warpipe holds as strictly as its
// HTTP/1.1 parser does:
//
// - :authority and Host must agree when both are sent (§8.3.1); one of them is required;
// - CONNECT (plain or extended) is not served: there is no tunnel behind warpipe;
// - a content-length must be digits (nghttp2 takes what parses), and one value;
// - the response's connection-specific fields (Connection, Keep-Alive, Transfer-Encoding,
//   Upgrade, Proxy-Connection) are not sent: they mean nothing in HTTP/2 and a client must
//   treat a response carrying them as malformed (§8.2.2).

import type { OutgoingHttpHeaders } from 'node:http2';
import { LocalProtocolError, RemoteProtocolError, codes } from '../../errors.js';

export interface Http2Request {
  method: string;
  /** :path, the request target in origin form (or `*` for OPTIONS). */
  target: string;
  /** :authority, else the Host field (never both disagreeing). */
  host: string;
  /** :scheme as the client sent it. */
  scheme: string;
  /** Regular fields, flat [name, value, …], names lowercase; a Host field is added from :authority when absent. */
  headers: string[];
  /** The content-length field, -1 when none was sent. */
  contentLength: number;
  /** `expect: 100-continue` was sent. */
  expectContinue: boolean;
}

/** The HTTP/2 connection preface a client with prior knowledge opens with (RFC 9113 §3.4). */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const DIGITS = /^[0-9]{1,15}$/;

const bad = (code: string, why: string): RemoteProtocolError => new RemoteProtocolError(code, why, 400);

/**
 * Read a request from node:http2's raw header list (flat [name, value, …],
 * pseudo-headers first, as received). Throws RemoteProtocolError (400) for what
 * warpipe refuses beyond nghttp2's own checks.
 */
export function readRequest(raw: readonly string[]): Http2Request {
  let method = '';
  let target = '';
  let authority: string | null = null;
  let scheme = '';
  let host: string | null = null;
  let contentLength = -1;
  let expectContinue = false;
  const headers: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':method') method = value;
      else if (name === ':path') target = value;
      else if (name === ':authority') authority = value;
      else if (name === ':scheme') scheme = value;
      else if (name === ':protocol') throw bad(codes.BAD_TARGET, 'extended CONNECT (:protocol) is not served');
      continue;
    }
    if (name === 'host') {
      if (host !== null) throw bad(codes.BAD_HOST, 'more than one Host field');
      host = value;
    } else if (name === 'content-length') {
      if (!DIGITS.test(value) || contentLength >= 0) throw bad(codes.BAD_CONTENT_LENGTH, `invalid or repeated content-length: ${value}`);
      contentLength = Number(value);
    } else if (name === 'expect') {
      if (value.toLowerCase() !== '100-continue') throw new RemoteProtocolError(codes.BAD_EXPECT, `unsupported Expect: ${value}`, 417);
      expectContinue = true;
      continue;
    }
    headers.push(name, value);
  }
  if (method === 'CONNECT') throw bad(codes.BAD_TARGET, 'CONNECT is not served');
  if (target === '') throw bad(codes.BAD_TARGET, 'request has no :path');
  if (authority !== null && host !== null && authority !== host)
    throw bad(codes.BAD_HOST, `:authority "${authority}" and Host "${host}" disagree`);
  const where = authority ?? host;
  if (where === null || where === '') throw bad(codes.BAD_HOST, 'request has neither :authority nor Host');
  if (host === null) headers.push('host', where);
  return { method, target, host: where, scheme, headers, contentLength, expectContinue };
}

/** Fields that belong to one HTTP/1.1 connection, never sent in HTTP/2 (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

export interface Http2ResponseHead {
  /** Flat [name, value, …], `:status` first, names lowercase: node's raw header list (Node 22.17+), or `headersObject`'s input. */
  raw: string[];
  /** The app's own content-length (-1: none). */
  appLength: number;
  /** No body may follow (HEAD, 204, 304). */
  noBody: boolean;
}

/**
 * The HEADERS of a response: the app's fields lowercased (repeats kept),
 * connection-specific ones left out, a server field unless the app gave one,
 * and a content-length the gateway knows (`knownLength`, -1: it streams).
 * Node adds the date. Throws LocalProtocolError for an app content-length that
 * is not digits or comes twice.
 */
export function responseHead(
  method: string,
  code: number,
  headers: readonly (readonly [string, string])[],
  knownLength: number,
): Http2ResponseHead {
  const raw: string[] = [':status', String(code)];
  let appLength = -1;
  let server = false;
  for (const [name, value] of headers) {
    const key = name.toLowerCase();
    if (CONNECTION_SPECIFIC.has(key)) continue;
    if (key === 'content-length') {
      if (!DIGITS.test(value) || appLength >= 0) {
        throw new LocalProtocolError(codes.BAD_RESPONSE_HEADER, `app gave an invalid or repeated Content-Length: ${value}`);
      }
      appLength = Number(value);
      if (code === 204) continue;
    } else if (key === 'server') {
      server = true;
    }
    raw.push(key, value);
  }
  if (!server) raw.push('server', 'warpipe');
  const noBody = method === 'HEAD' || code === 204 || code === 304;
  if (appLength < 0 && knownLength >= 0 && code !== 204 && code !== 304) raw.push('content-length', String(knownLength));
  return { raw, appLength, noBody };
}

/** A raw header list as node's header object (repeats as lists), for a Node that takes no raw list. */
export function headersObject(raw: readonly string[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (let i = 0; i < raw.length; i += 2) {
    const key = raw[i]!;
    const value = raw[i + 1]!;
    const prev = out[key];
    if (prev === undefined) out[key] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[key] = [String(prev), value];
  }
  return out;
}
