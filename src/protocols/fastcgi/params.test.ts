import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeParams, encodeParams } from './params.js';

test('name-value pairs: one-byte lengths below 128, four bytes with the top bit set from 128', () => {
  const cases: [string, string][] = [
    ['', ''],
    ['A', ''],
    ['N'.repeat(127), 'v'],
    ['N'.repeat(128), 'v'.repeat(300)],
    ['HTTP_X', '\xe9\xff\x00 latin-1'],
  ];
  const block = encodeParams(cases);
  assert.deepEqual(decodeParams(block), cases);
  assert.deepEqual(encodeParams([['N'.repeat(128), 'v']]).subarray(0, 5), Buffer.from([0x80, 0, 0, 128, 1]));
  assert.deepEqual(encodeParams([['ab', 'c']]), Buffer.from('\x02\x01abc', 'latin1'));
});

test('pairs cut short are refused', () => {
  const good = encodeParams([
    ['REQUEST_METHOD', 'GET'],
    ['X'.repeat(200), 'y'],
  ]);
  for (let cut = 1; cut < good.length; cut++) {
    const part = good.subarray(0, cut);
    let ok = true;
    try {
      decodeParams(part);
    } catch (err) {
      ok = false;
      assert.equal((err as { code: string }).code, 'ERR_FCGI_BAD_PARAMS');
    }
    // only the cut right after the first whole pair is itself a valid block
    assert.equal(ok, cut === 2 + 'REQUEST_METHOD'.length + 3, `cut at ${cut}`);
  }
  assert.throws(() => decodeParams(Buffer.from([0x80, 0, 0])), /four-byte length is cut short/);
  assert.throws(() => decodeParams(Buffer.from([0xff, 0xff, 0xff, 0xff, 0])), /overruns/);
});
