// Unit tests for the chunked decoder on its own: the chunk-line grammar byte by
// byte, zero-copy data slices, and where it stops for the trailer section.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RemoteProtocolError, codes } from '../../errors.js';
import { ChunkedDecoder } from './chunked.js';

/** Decode `input` in pieces of `step` bytes; returns the data and the trailer-section offset (or -1). */
function decode(input: string, step = Infinity, maxBody = Infinity, maxLine = 4096): { data: string; rest: number } {
  const dec = new ChunkedDecoder(maxBody, maxLine);
  const bytes = Buffer.from(input, 'latin1');
  let data = '';
  for (let start = 0; start < bytes.length; start += step) {
    const piece = bytes.subarray(start, Math.min(bytes.length, start + step));
    let pos = 0;
    while (pos < piece.length) {
      pos = dec.step(piece, pos);
      if (dec.data !== null) {
        assert.ok(dec.data.length > 0);
        data += dec.data.toString('latin1');
        dec.data = null;
      }
      if (dec.done) return { data, rest: start + pos };
    }
  }
  return { data, rest: -1 };
}

function fails(input: string, code: string, status = 400, maxBody = Infinity, maxLine = 4096): void {
  for (const step of [Infinity, 1, 2, 3]) {
    assert.throws(
      () => decode(input, step, maxBody, maxLine),
      (err) => {
        assert.ok(err instanceof RemoteProtocolError);
        assert.equal(err.code, code, `${JSON.stringify(input)} step ${step}: ${err.message}`);
        assert.equal(err.status, status);
        return true;
      },
    );
  }
}

describe('ChunkedDecoder', () => {
  it('decodes, and stops where the trailer section starts', () => {
    const input = '3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: 1\r\n\r\n';
    for (const step of [Infinity, 1, 2, 5, 7]) {
      assert.deepEqual(decode(input, step), { data: 'abc0123456789abcdef', rest: input.indexOf('T: 1') });
    }
  });

  it('hands out subarrays of the input, never copies', () => {
    const dec = new ChunkedDecoder(Infinity, 4096);
    const buf = Buffer.from('5\r\nhello\r\n');
    const pos = dec.step(buf, 0);
    assert.equal(pos, 8);
    assert.equal(dec.data!.buffer, buf.buffer);
    assert.equal(dec.data!.byteOffset, buf.byteOffset + 3);
  });

  it('returns the whole buffer when a chunk spans all of it', () => {
    const dec = new ChunkedDecoder(Infinity, 4096);
    dec.step(Buffer.from('a\r\n'), 0);
    const middle = Buffer.from('0123456789');
    dec.step(middle, 0);
    assert.equal(dec.data, middle);
  });

  it('resets for another body', () => {
    const dec = new ChunkedDecoder(Infinity, 4096);
    dec.step(Buffer.from('0\r\n'), 0);
    assert.equal(dec.done, true);
    dec.reset();
    assert.equal(dec.done, false);
    dec.step(Buffer.from('1\r\nx'), 0);
    assert.equal(dec.data!.toString(), 'x');
  });

  const valid = [
    '5',
    'A',
    'a',
    '00005',
    '5;a',
    '5;a=b',
    '5;a="b"',
    '5;a=""',
    '5 ;a',
    '5\t;\ta',
    '5; a',
    '5;a =b',
    '5;a= b',
    '5;a = b',
    '5;a;b;c',
    '5;a=b;c="d;e"',
    '5;a="\\""',
    '5;a="\\\\"',
    '5;a="\x80\xff"',
    '5;a="\\\t"',
    "5;!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~",
    '5;a="b" ;c',
    '5;a=b ;c',
  ];
  for (const line of valid) {
    it(`accepts chunk line ${JSON.stringify(line)}`, () => {
      assert.equal(decode(`${line}\r\n${'x'.repeat(parseInt(line, 16))}\r\n0\r\n\r\n`, 1).data.length, parseInt(line, 16));
    });
  }

  const invalid = [
    '',
    ' 5',
    '5 ',
    '5\t',
    '+5',
    '-5',
    '0x5',
    '5.0',
    '5,5',
    'g',
    '5;',
    '5; ',
    '5;=b',
    '5;a=',
    '5;a= ',
    '5;a=b ',
    '5;a="b" ',
    '5;a="b',
    '5;a="b"c',
    '5;a=b"c"',
    '5;a(b',
    '5;a=b(c',
    '5;a=b c',
    '5 a',
    '5;a="\x00"',
    '5;a="\x7f"',
    '5;a="\\\x01"',
    '5;a b',
    '5;;a',
    '5\x00',
    ';a',
  ];
  for (const line of invalid) {
    it(`rejects chunk line ${JSON.stringify(line)} with 400`, () => fails(`${line}\r\nhello\r\n0\r\n\r\n`, codes.BAD_CHUNK));
  }

  it('rejects bare LF in a chunk line', () => {
    fails('5\nhello\r\n', codes.BARE_LF);
    fails('5;a=b\n', codes.BARE_LF);
    fails('5;a="b\n', codes.BARE_LF);
  });
  it('rejects bare CR in a chunk line', () => {
    fails('5\rhello\r\n', codes.BARE_CR);
    fails('5;a=b\r\r\n', codes.BARE_CR);
  });
  it('rejects anything but CRLF after chunk data', () => {
    fails('5\r\nhello\n', codes.BAD_CHUNK);
    fails('5\r\nhello\r\r', codes.BAD_CHUNK);
    fails('5\r\nhellox', codes.BAD_CHUNK);
  });
  it('answers 413 for the 17th hex digit, as soon as it arrives', () => {
    fails('00000000000000001', codes.BODY_TOO_LARGE, 413);
    assert.equal(decode('0000000000000001\r\nx\r\n0\r\n\r\n').data, 'x');
  });
  it('answers 413 beyond maxBodyBytes and beyond MAX_SAFE_INTEGER', () => {
    fails('6\r\nhello!\r\n', codes.BODY_TOO_LARGE, 413, 5);
    fails('3\r\nabc\r\n3\r\nabc\r\n', codes.BODY_TOO_LARGE, 413, 5);
    fails('20000000000000\r\n', codes.BODY_TOO_LARGE, 413);
    assert.equal(decode('5\r\nhello\r\n0\r\n\r\n', 1, 5).data, 'hello');
  });
  it('limits a chunk line to maxChunkLine bytes (without CRLF)', () => {
    assert.equal(decode('5;ab\r\nhello\r\n0\r\n\r\n', 1, Infinity, 4).data, 'hello');
    fails('5;abc\r\nhello\r\n', codes.BAD_CHUNK, 400, Infinity, 4);
    fails(`5;a=${'b'.repeat(10_000)}`, codes.BAD_CHUNK, 400, Infinity, 4096);
  });
});
