import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NEED_DATA } from '../need-data.js';
import { encodeScgiHead, parseScgiHead } from './netstring.js';

test("an SCGI head (the spec's own example) parses once whole, NEED_DATA before", () => {
  // protocol.txt: "70:CONTENT_LENGTH<00>27<00>SCGI<00>1<00>REQUEST_METHOD<00>POST<00>REQUEST_URI<00>/deepthought<00>,"
  const head = Buffer.from('70:CONTENT_LENGTH\x0027\x00SCGI\x001\x00REQUEST_METHOD\x00POST\x00REQUEST_URI\x00/deepthought\x00,', 'latin1');
  const body = Buffer.from('What is the answer to life?');
  const whole = Buffer.concat([head, body]);
  const want = {
    params: [
      ['CONTENT_LENGTH', '27'],
      ['SCGI', '1'],
      ['REQUEST_METHOD', 'POST'],
      ['REQUEST_URI', '/deepthought'],
    ],
    consumed: head.length,
  };
  assert.deepEqual(parseScgiHead(whole, 4096), want);
  for (let n = 0; n < head.length; n++) assert.equal(parseScgiHead(whole.subarray(0, n), 4096), NEED_DATA, `${n} bytes`);
  assert.deepEqual(encodeScgiHead(want.params as [string, string][]), head);
});

test('bad SCGI heads are refused', () => {
  const ns = (headers: string, end = ','): string => `${headers.length}:${headers}${end}`;
  const cases: [string, RegExp][] = [
    ['x5', /no netstring length/],
    ['x5:', /netstring length "x5"/],
    ['05:abcd\x00,', /netstring length "05"/],
    [ns('CONTENT_LENGTH'), /end with NUL/],
    [ns('SCGI\x001\x00CONTENT_LENGTH\x00'), /a header has no value/],
    [ns('SCGI\x001\x00CONTENT_LENGTH\x000\x00'), /first header must be CONTENT_LENGTH/],
    [ns('CONTENT_LENGTH\x000\x00SCGI\x001\x00', ';'), /does not end with ","/],
    [ns('CONTENT_LENGTH\x00-1\x00SCGI\x001\x00'), /CONTENT_LENGTH "-1"/],
    [ns('CONTENT_LENGTH\x0010\x00'), /no "SCGI" header/],
  ];
  for (const [text, err] of cases) assert.throws(() => parseScgiHead(Buffer.from(text, 'latin1'), 4096), err, JSON.stringify(text));
  assert.throws(() => parseScgiHead(Buffer.from('99999:', 'latin1'), 4096), { status: 431 });
});
