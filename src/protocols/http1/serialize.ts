// Bytes we send as an HTTP/1.1 server: interim and error responses, chunk
// framing. Response heads are assembled by the listener, which knows the
// connection state; this file only knows RFC 9112's shapes.

import { STATUS_CODES } from 'node:http';

// RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
export function chunkPrefix(size: number): string {
  return size.toString(16) + '\r\n';
}
// last-chunk = 1*("0") [ chunk-ext ] CRLF; chunked-body ends with trailer-section CRLF
export const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
export const CRLF = Buffer.from('\r\n', 'latin1');

export const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

export function reasonPhrase(status: number): string {
  return STATUS_CODES[status] ?? 'Unknown';
}

/** Body bytes of a simpleResponse() (its reason phrase and a newline), for the access log. */
export const answerBytes = (status: number): number => reasonPhrase(status).length + 1;

/** A complete short plain-text response (errors the gateway produces itself). */
export function simpleResponse(status: number, date: string, close: boolean, extra = ''): Buffer {
  const reason = reasonPhrase(status);
  const body = `${reason}\n`;
  return Buffer.from(
    `HTTP/1.1 ${status} ${reason}\r\nDate: ${date}\r\nServer: warpipe\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${body.length}\r\n${extra}${close ? 'Connection: close\r\n' : ''}\r\n${body}`,
    'latin1',
  );
}
