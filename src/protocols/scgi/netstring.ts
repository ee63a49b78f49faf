// SCGI requests (the SCGI protocol, python.ca/scgi/protocol.txt), sans-I/O.
// A request is a netstring of headers, then the body:
//   netstring = length ":" headers ","      (length: ASCII decimal, no leading zeros)
//   headers   = 1*( name NUL value NUL )    the first is CONTENT_LENGTH; "SCGI" "1" must be there
// The response is a CGI response, and the connection closes after it.

import { RemoteProtocolError, codes } from '../../errors.js';
import { NEED_DATA } from '../need-data.js';

export interface GatewayHead {
  params: [string, string][];
  /** Bytes of the head; the body follows. */
  consumed: number;
}

const MAX_DIGITS = 10;

function bad(why: string, status = 400): RemoteProtocolError {
  return new RemoteProtocolError(codes.SCGI_BAD_REQUEST, `bad SCGI request: ${why}`, status);
}

/** The head at the start of `buf` once it is whole; NEED_DATA before. Refuses heads over `maxBytes`. */
export function parseScgiHead(buf: Buffer, maxBytes: number): GatewayHead | typeof NEED_DATA {
  const colon = buf.indexOf(0x3a, 0);
  if (colon < 0) {
    if (buf.length > MAX_DIGITS || !/^[0-9]*$/.test(buf.toString('latin1'))) throw bad('no netstring length');
    return NEED_DATA;
  }
  const digits = buf.toString('latin1', 0, colon);
  if (!/^(0|[1-9][0-9]{0,9})$/.test(digits)) throw bad(`netstring length ${JSON.stringify(digits.slice(0, 12))}`);
  const length = Number(digits);
  if (length > maxBytes) throw bad(`headers of ${length} bytes (at most ${maxBytes})`, 431);
  const end = colon + 1 + length;
  if (buf.length < end + 1) return NEED_DATA;
  if (buf[end] !== 0x2c) throw bad('the netstring does not end with ","');
  if (length === 0 || buf[end - 1] !== 0) throw bad('headers must end with NUL');
  const parts = buf.toString('latin1', colon + 1, end - 1).split('\0');
  if (parts.length % 2 !== 0) throw bad('a header has no value');
  const params: [string, string][] = [];
  for (let i = 0; i < parts.length; i += 2) {
    if (parts[i] === '') throw bad('a header has an empty name');
    params.push([parts[i]!, parts[i + 1]!]);
  }
  if (params[0]![0] !== 'CONTENT_LENGTH') throw bad('the first header must be CONTENT_LENGTH');
  if (!/^(0|[1-9][0-9]{0,14})$/.test(params[0]![1])) throw bad(`CONTENT_LENGTH ${JSON.stringify(params[0]![1])}`);
  if (!params.some(([n, v]) => n === 'SCGI' && v === '1')) throw bad('no "SCGI" header of "1"');
  return { params, consumed: end + 1 };
}

/**
 * How many bytes the head at the start of `buf` takes, as far as its prefix
 * tells (the netstring length, once its colon has come); before that, one more
 * than `buf` holds. A reader can wait for that many before parsing again.
 */
export function scgiHeadLength(buf: Buffer): number {
  const colon = buf.indexOf(0x3a, 0);
  if (colon < 0 || colon > MAX_DIGITS) return buf.length + 1;
  const length = Number(buf.toString('latin1', 0, colon));
  return Number.isSafeInteger(length) ? colon + 1 + length + 1 : buf.length + 1;
}

/** A request head for `params` (CONTENT_LENGTH must come first), for SCGI clients and tests. */
export function encodeScgiHead(params: readonly (readonly [string, string])[]): Buffer {
  const headers = Buffer.from(params.map(([n, v]) => `${n}\0${v}\0`).join(''), 'latin1');
  return Buffer.concat([Buffer.from(`${headers.length}:`, 'latin1'), headers, Buffer.from(',', 'latin1')]);
}
