// FastCGI name-value pairs (spec §3.4): how PARAMS carries the CGI environ and
// GET_VALUES its names. Sans-I/O. Names and values are bytes; we read and
// write them as latin-1, as PEP 3333 wants native strings to be.
//
// Each pair is nameLength, valueLength, name, value; a length below 128 is one
// byte, a longer one four bytes with the top bit set:
//   nameLengthB0                      (nameLengthB0 >> 7 == 0)
//   nameLengthB3 nameLengthB2 nameLengthB1 nameLengthB0   (nameLengthB3 >> 7 == 1)

import { RemoteProtocolError, codes } from '../../errors.js';

const MAX_LENGTH = 0x7fffffff;

function badParams(why: string): RemoteProtocolError {
  return new RemoteProtocolError(codes.FCGI_BAD_PARAMS, `bad FastCGI name-value pairs: ${why}`, 400);
}

function lengthSize(n: number): number {
  return n < 128 ? 1 : 4;
}

function writeLength(out: Buffer, off: number, n: number): number {
  if (n < 128) {
    out[off] = n;
    return off + 1;
  }
  out.writeUInt32BE((n | 0x80000000) >>> 0, off);
  return off + 4;
}

/**
 * Encode pairs (latin-1) as one block, to be cut into PARAMS records by encodeStream.
 * @example encodeParams([['SCRIPT_NAME', '/app']])
 */
export function encodeParams(pairs: Iterable<readonly [string, string]>): Buffer {
  const list = [...pairs];
  let size = 0;
  for (const [name, value] of list) {
    if (name.length > MAX_LENGTH || value.length > MAX_LENGTH) throw new RangeError('FastCGI name or value longer than 2^31-1');
    size += lengthSize(name.length) + lengthSize(value.length) + name.length + value.length;
  }
  const out = Buffer.allocUnsafe(size);
  let off = 0;
  for (const [name, value] of list) {
    off = writeLength(out, off, name.length);
    off = writeLength(out, off, value.length);
    off += out.write(name, off, 'latin1');
    off += out.write(value, off, 'latin1');
  }
  return out;
}

/** Where the length at `off` ends, and the length: `at` and `n` of `cursor`. Throws if it is cut short. */
function readLength(block: Buffer, cursor: { at: number; n: number }): void {
  const off = cursor.at;
  if (off >= block.length) throw badParams('a length is missing');
  const b = block[off]!;
  if (b < 128) {
    cursor.at = off + 1;
    cursor.n = b;
    return;
  }
  if (off + 4 > block.length) throw badParams('a four-byte length is cut short');
  cursor.n = ((b & 0x7f) << 24) | (block[off + 1]! << 16) | (block[off + 2]! << 8) | block[off + 3]!;
  cursor.at = off + 4;
}

/** Decode a whole block of pairs (the PARAMS stream up to its empty record). Throws RemoteProtocolError if it is cut short. */
export function decodeParams(block: Buffer): [string, string][] {
  const out: [string, string][] = [];
  // one latin-1 decode of the block, then the strings as slices of it (a decode per string cost ~6x more)
  const text = block.toString('latin1');
  const cursor = { at: 0, n: 0 };
  while (cursor.at < block.length) {
    readLength(block, cursor);
    const nameLength = cursor.n;
    readLength(block, cursor);
    const valueLength = cursor.n;
    const off = cursor.at;
    if (off + nameLength + valueLength > block.length) {
      throw badParams(`a pair of ${nameLength}+${valueLength} bytes overruns the block (${block.length - off} left)`);
    }
    out.push([text.slice(off, off + nameLength), text.slice(off + nameLength, off + nameLength + valueLength)]);
    cursor.at = off + nameLength + valueLength;
  }
  return out;
}
