// uwsgi protocol packets (uWSGI's "uwsgi protocol"), sans-I/O: what nginx's
// uwsgi_pass sends. A request is a 4-byte header, the variables, then the body:
//   header = modifier1 (u8) datasize (u16le) modifier2 (u8)
//   vars   = datasize bytes of ( keysize (u16le) key valsize (u16le) value )*
// modifier1 0 is a WSGI request (the only kind we serve). The response is a
// plain HTTP response (status line, headers, body), and the connection closes.

import { RemoteProtocolError, codes } from '../../errors.js';
import { NEED_DATA } from '../need-data.js';
import type { GatewayHead } from '../scgi/netstring.js';

export const UWSGI_HEADER = 4;
export const MODIFIER_WSGI = 0;

function bad(why: string, status = 400): RemoteProtocolError {
  return new RemoteProtocolError(codes.UWSGI_BAD_PACKET, `bad uwsgi packet: ${why}`, status);
}

/** The head at the start of `buf` once it is whole; NEED_DATA before. */
export function parseUwsgiHead(buf: Buffer, maxBytes: number): GatewayHead | typeof NEED_DATA {
  if (buf.length >= 1 && buf[0] !== MODIFIER_WSGI) throw bad(`modifier1 ${buf[0]} (only 0, WSGI, is served)`);
  if (buf.length < UWSGI_HEADER) return NEED_DATA;
  const size = buf.readUInt16LE(1);
  if (buf[3] !== 0) throw bad(`modifier2 ${buf[3]}`);
  if (size > maxBytes) throw bad(`variables of ${size} bytes (at most ${maxBytes})`, 431);
  const end = UWSGI_HEADER + size;
  if (buf.length < end) return NEED_DATA;
  // one latin-1 decode of the whole head, then the strings as slices of it (a decode per string cost ~6x more)
  const text = buf.toString('latin1', 0, end);
  const params: [string, string][] = [];
  let off = UWSGI_HEADER;
  while (off < end) {
    const nameEnd = stringEnd(buf, off, end);
    if (nameEnd === off + 2) throw bad('a variable has an empty name');
    const valueEnd = stringEnd(buf, nameEnd, end);
    params.push([text.slice(off + 2, nameEnd), text.slice(nameEnd + 2, valueEnd)]);
    off = valueEnd;
  }
  return { params, consumed: end };
}

/** Where the string (keysize or valsize, then its bytes) at `off` ends. */
function stringEnd(buf: Buffer, off: number, end: number): number {
  if (off + 2 > end) throw bad('a size is cut short');
  const n = buf[off]! | (buf[off + 1]! << 8);
  if (off + 2 + n > end) throw bad(`a string of ${n} bytes overruns the variables`);
  return off + 2 + n;
}

/** How many bytes the packet head at the start of `buf` takes once its 4-byte header is in (before: 4). */
export function uwsgiHeadLength(buf: Buffer): number {
  return buf.length < UWSGI_HEADER ? UWSGI_HEADER : UWSGI_HEADER + buf.readUInt16LE(1);
}

/** A request head for `params`, for uwsgi clients and tests. */
export function encodeUwsgiHead(params: readonly (readonly [string, string])[]): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of params) {
    for (const s of [k, v]) {
      const b = Buffer.from(s, 'latin1');
      const n = Buffer.alloc(2);
      n.writeUInt16LE(b.length);
      parts.push(n, b);
    }
  }
  const vars = Buffer.concat(parts);
  if (vars.length > 0xffff) throw new RangeError('uwsgi variables larger than 64 KiB');
  const head = Buffer.alloc(UWSGI_HEADER);
  head.writeUInt16LE(vars.length, 1);
  return Buffer.concat([head, vars]);
}
