// The opening handshake (RFC 6455 §4.2), server side: is a parsed request a
// WebSocket handshake, a bad one (400, 426), or a good one; and the 101 that
// accepts it.
//
// Rule 1: a request without `websocket` in its Upgrade header is not ours
// (null: plain HTTP goes on as usual). One that has it is judged strictly:
// §4.2.1's every MUST is a 400 (a 426 for the version), and the key headers may
// appear once each.
// Rule 2: the 101's head is ours: the app picks a subprotocol (one the client
// offered) and may add headers, but not the ones that frame the connection or
// the handshake, and no value with a control character (the CRLF injection of
// gunicorn CVE-2018-1000164). A bad choice is a LocalProtocolError (500).

import { createHash } from 'node:crypto';
import { LocalProtocolError, codes } from '../../errors.js';
import { type ExtensionOffer, parseExtensions } from './extensions.js';
import { WEBSOCKET_GUID } from './rfc6455.js';

/** What the handshake needs of a parsed request; the HTTP parser's RequestHead is one. */
export interface HandshakeHead {
  method: string;
  /** HTTP/1.minor. */
  minor: number;
  /** Flat [name, value, name, value, …], names in any case, values trimmed. */
  headers: readonly string[];
}

/** A valid handshake. */
export interface WebSocketRequest {
  readonly kind: 'websocket';
  /** Sec-WebSocket-Key as sent. */
  key: string;
  /** Sec-WebSocket-Accept for it. */
  accept: string;
  /** Every Sec-WebSocket-Protocol, comma-split and trimmed, in order. */
  subprotocols: string[];
  /** Every Sec-WebSocket-Extensions offer, in order (negotiateDeflate picks from them). */
  extensions: ExtensionOffer[];
}

/** A WebSocket handshake we refuse: answer `status` with `headers`, then close. */
export interface HandshakeRejection {
  readonly kind: 'reject';
  status: 400 | 426;
  reason: string;
  headers: [string, string][];
}

// RFC 9110 §5.6.2: token = 1*tchar
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// §4.2.1 item 5: "a base64-encoded value that, when decoded, is 16 bytes in length"
const KEY = /^[+/0-9A-Za-z]{22}==$/;
// RFC 9110 §5.5: field-value characters; CR, LF, NUL and the other controls are refused
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Headers an app may not put in its 101: they frame the connection or belong to the handshake. */
const RESERVED = new Set([
  'connection',
  'upgrade',
  'content-length',
  'transfer-encoding',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'sec-websocket-accept',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'sec-websocket-version',
  'sec-websocket-key',
]);

/** RFC 6455 §4.2.2 item 5.4: base64(SHA-1(key + GUID)). */
export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + WEBSOCKET_GUID)
    .digest('base64');
}

function reject(status: 400 | 426, reason: string, headers: [string, string][] = []): HandshakeRejection {
  return { kind: 'reject', status, reason, headers };
}

/** The comma-separated elements of every value, trimmed, empty ones dropped (RFC 9110 §5.6.1). */
function listElements(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    for (const e of v.split(',')) {
      const t = e.trim();
      if (t !== '') out.push(t);
    }
  }
  return out;
}

const hasToken = (values: readonly string[], token: string): boolean => listElements(values).some((e) => e.toLowerCase() === token);

/** The request's values of the headers the handshake reads, by lower-case name. */
function collect(headers: readonly string[]): Map<string, string[]> {
  const wanted = new Map<string, string[]>();
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    if (name !== 'upgrade' && name !== 'connection' && !name.startsWith('sec-websocket-')) continue;
    const list = wanted.get(name);
    if (list === undefined) wanted.set(name, [headers[i + 1]!]);
    else list.push(headers[i + 1]!);
  }
  return wanted;
}

/**
 * null: not a WebSocket handshake (no `websocket` in Upgrade); a rejection
 * (400, or 426 with `Sec-WebSocket-Version: 13` for a version we do not speak);
 * or the handshake's key, accept value, subprotocols and extension offers.
 * @example
 * const ws = checkHandshake(head); // head: the HTTP parser's RequestHead
 * if (ws === null) serveHttp(); else if (ws.kind === 'reject') refuse(ws.status, ws.headers); else upgrade(ws);
 */
export function checkHandshake(head: HandshakeHead): WebSocketRequest | HandshakeRejection | null {
  const h = collect(head.headers);
  if (!hasToken(h.get('upgrade') ?? [], 'websocket')) return null;
  if (head.method !== 'GET') return reject(400, `a WebSocket handshake must be GET, not ${head.method}`);
  if (head.minor < 1) return reject(400, 'a WebSocket handshake needs HTTP/1.1');
  if (!hasToken(h.get('connection') ?? [], 'upgrade')) return reject(400, 'Connection does not include upgrade');
  const version = h.get('sec-websocket-version') ?? [];
  if (version.length > 1) return reject(400, 'Sec-WebSocket-Version given more than once');
  if (version[0] !== '13') {
    return reject(426, 'Sec-WebSocket-Version must be 13', [
      ['Upgrade', 'websocket'],
      ['Sec-WebSocket-Version', '13'],
    ]);
  }
  const keys = h.get('sec-websocket-key') ?? [];
  if (keys.length !== 1) return reject(400, keys.length === 0 ? 'no Sec-WebSocket-Key' : 'Sec-WebSocket-Key given more than once');
  const key = keys[0]!;
  if (!KEY.test(key)) return reject(400, 'Sec-WebSocket-Key is not the base64 of 16 bytes');
  const subprotocols = listElements(h.get('sec-websocket-protocol') ?? []);
  if (!subprotocols.every((p) => TOKEN.test(p))) return reject(400, 'Sec-WebSocket-Protocol holds something other than tokens');
  const extensions = parseExtensions(h.get('sec-websocket-extensions') ?? []);
  if (extensions === null) return reject(400, 'Sec-WebSocket-Extensions does not follow its grammar');
  return { kind: 'websocket', key, accept: acceptKey(key), subprotocols, extensions };
}

/** What the app (and the negotiation) chose for the 101. */
export interface AcceptOptions {
  /** The subprotocol picked, one the client offered; null or absent: none. */
  subprotocol?: string | null;
  /** The negotiated Sec-WebSocket-Extensions value (negotiateDeflate's header); null or absent: none. */
  extensions?: string | null;
  /** More headers (latin-1): the app's, Date, Server… */
  headers?: readonly (readonly [string, string])[];
}

function badHeader(message: string): LocalProtocolError {
  return new LocalProtocolError(codes.BAD_RESPONSE_HEADER, message, 500);
}

/**
 * The `101 Switching Protocols` head accepting `request`, as latin-1 bytes.
 * Throws LocalProtocolError (status 500) for a subprotocol the client did not
 * offer, a header the app may not set, or a name or value that would break
 * the head.
 * @example
 * socket.write(acceptResponse(ws, { subprotocol: 'chat', extensions: deflate?.header }));
 */
export function acceptResponse(request: WebSocketRequest, options: AcceptOptions = {}): Buffer {
  let head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${request.accept}\r\n`;
  const subprotocol = options.subprotocol ?? null;
  if (subprotocol !== null) {
    if (!request.subprotocols.includes(subprotocol))
      throw badHeader(`subprotocol ${JSON.stringify(subprotocol)} was not offered by the client`);
    head += `Sec-WebSocket-Protocol: ${subprotocol}\r\n`;
  }
  if (options.extensions != null) head += `Sec-WebSocket-Extensions: ${options.extensions}\r\n`;
  for (const [name, value] of options.headers ?? []) {
    if (!TOKEN.test(name)) throw badHeader(`response header name ${JSON.stringify(name)} is not a token`);
    if (RESERVED.has(name.toLowerCase())) throw badHeader(`an app may not set ${name} on a WebSocket handshake`);
    if (!FIELD_VALUE.test(value)) throw badHeader(`response header ${name} has a control character in its value`);
    head += `${name}: ${value}\r\n`;
  }
  return Buffer.from(`${head}\r\n`, 'latin1');
}
