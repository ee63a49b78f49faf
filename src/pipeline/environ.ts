// Building the environ from request parts, shared by every listener that
// receives HTTP-shaped requests (HTTP/1.1 now, HTTP/2 later). PEP 3333 and
// RFC 3875 §4.1 say what goes in; the choices below say how we stay safe:
//
// - PATH_INFO is the percent-decoded path as latin-1 (PEP 3333 native strings);
//   invalid escapes and %00 are refused (400) rather than guessed at.
// - Header names with "_" are dropped: "X_User" and "X-User" would both become
//   HTTP_X_USER, letting a client spoof a header a proxy set (nginx and gunicorn drop them too).
// - "Proxy" is dropped: HTTP_PROXY would be read as a proxy setting (httpoxy, CVE-2016-5388).

import { RemoteProtocolError, codes } from '../errors.js';
import type { Environ } from './types.js';

const headerKeys = new Map<string, string | null>();

/** The environ key for a request header name, or null if it must not reach the app. */
export function headerKey(name: string): string | null {
  let key = headerKeys.get(name);
  if (key !== undefined) return key;
  const upper = name.toUpperCase();
  if (name.includes('_') || upper === 'PROXY') key = null;
  else if (upper === 'CONTENT-TYPE') key = 'CONTENT_TYPE';
  else if (upper === 'CONTENT-LENGTH') key = 'CONTENT_LENGTH';
  else key = 'HTTP_' + upper.replace(/-/g, '_');
  if (headerKeys.size < 4096) headerKeys.set(name, key);
  return key;
}

/** Add flat `[name, value, …]` request headers to the environ; repeats join with ", " ("; " for cookies). */
export function addHeaders(environ: Environ, headers: readonly string[]): void {
  for (let i = 0; i < headers.length; i += 2) {
    const key = headerKey(headers[i]!);
    if (key === null) continue;
    const value = headers[i + 1]!;
    const prev = environ[key];
    if (typeof prev === 'string') environ[key] = prev + (key === 'HTTP_COOKIE' ? '; ' : ', ') + value;
    else environ[key] = value;
  }
}

const HEX = /^[0-9A-Fa-f]{2}$/;

/** Percent-decode a latin-1 path into a latin-1 string of the raw bytes. */
export function decodePath(path: string): string {
  let i = path.indexOf('%');
  if (i < 0) return path;
  let out = '';
  let from = 0;
  while (i >= 0) {
    const hex = path.slice(i + 1, i + 3);
    if (!HEX.test(hex))
      throw new RemoteProtocolError(codes.BAD_TARGET, `invalid percent-encoding in path at "${path.slice(i, i + 3)}"`, 400);
    const byte = parseInt(hex, 16);
    if (byte === 0) throw new RemoteProtocolError(codes.BAD_TARGET, 'path contains %00', 400);
    out += path.slice(from, i) + String.fromCharCode(byte);
    from = i + 3;
    i = path.indexOf('%', from);
  }
  return out + path.slice(from);
}

export interface Target {
  /** Raw path (still percent-encoded). */
  path: string;
  query: string;
  /** The authority of an absolute-form target, which replaces Host (RFC 9112 §3.2.2). */
  authority: string | null;
}

const ABSOLUTE = /^https?:\/\/([^/?#]*)/i;

/** Split a request-target (RFC 9112 §3.2) into path, query and authority. */
export function splitTarget(target: string, method: string): Target {
  let path = target;
  let authority: string | null = null;
  if (target.charCodeAt(0) !== 47 /* / */) {
    if (target === '*') {
      if (method !== 'OPTIONS') throw new RemoteProtocolError(codes.BAD_TARGET, 'asterisk-form target is only for OPTIONS', 400);
      return { path: '', query: '', authority: null };
    }
    const m = ABSOLUTE.exec(target);
    if (!m) throw new RemoteProtocolError(codes.BAD_TARGET, 'request-target is not origin-form, absolute-form or *', 400);
    authority = m[1]!;
    if (authority === '' || authority.includes('@'))
      throw new RemoteProtocolError(codes.BAD_TARGET, 'absolute-form target has no valid authority', 400);
    path = target.slice(m[0].length) || '/';
    if (path.charCodeAt(0) !== 47) path = '/' + path;
  }
  const hash = path.indexOf('#');
  if (hash >= 0) path = path.slice(0, hash);
  const q = path.indexOf('?');
  if (q < 0) return { path, query: '', authority };
  return { path: path.slice(0, q), query: path.slice(q + 1), authority };
}

/** SERVER_NAME and SERVER_PORT from a Host value (`name`, `name:port`, `[v6]:port`). */
export function splitHost(host: string, defaultPort: string): [string, string] {
  if (host.charCodeAt(0) === 91 /* [ */) {
    const end = host.indexOf(']');
    const port = host.charCodeAt(end + 1) === 58 ? host.slice(end + 2) : '';
    return [host.slice(0, end + 1), port || defaultPort];
  }
  const colon = host.lastIndexOf(':');
  if (colon < 0) return [host, defaultPort];
  return [host.slice(0, colon), host.slice(colon + 1) || defaultPort];
}
