import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NEED_DATA } from '../need-data.js';
import { CgiHeadParser } from './response.js';

test('the head limit holds however the head arrives: whole, or in pieces', () => {
  const head = 'X: ' + 'y'.repeat(100) + '\n\n'; // 105 bytes, the empty line included
  const whole = new CgiHeadParser(64);
  assert.throws(() => whole.receive(Buffer.from(head + 'body')), { code: 'ERR_UPSTREAM_BAD_RESPONSE', status: 502 });
  const pieces = new CgiHeadParser(64);
  assert.throws(
    () => {
      for (const byte of Buffer.from(head)) assert.equal(pieces.receive(Buffer.of(byte)), NEED_DATA);
    },
    { code: 'ERR_UPSTREAM_BAD_RESPONSE' },
  );
  // exactly at the limit (empty line included) is accepted both ways
  const fits = new CgiHeadParser(head.length);
  assert.deepEqual(fits.receive(Buffer.from(head + 'body')), { status: '200 OK', headers: [['X', 'y'.repeat(100)]] });
  assert.equal(fits.rest.toString(), 'body');
  const fitsBytewise = new CgiHeadParser(head.length);
  const bytes = Buffer.from(head);
  for (let i = 0; i < bytes.length - 1; i++) assert.equal(fitsBytewise.receive(bytes.subarray(i, i + 1)), NEED_DATA);
  assert.deepEqual(fitsBytewise.receive(bytes.subarray(-1)), { status: '200 OK', headers: [['X', 'y'.repeat(100)]] });
});
