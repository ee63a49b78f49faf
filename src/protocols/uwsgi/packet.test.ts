import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NEED_DATA } from '../need-data.js';
import { encodeUwsgiHead, parseUwsgiHead } from './packet.js';

test('a uwsgi packet round-trips, and is NEED_DATA until whole', () => {
  const params: [string, string][] = [
    ['REQUEST_METHOD', 'GET'],
    ['PATH_INFO', '/x'],
    ['HTTP_X', '\xe9'],
    ['EMPTY', ''],
  ];
  const head = encodeUwsgiHead(params);
  assert.deepEqual([...head.subarray(0, 4)], [0, (head.length - 4) & 0xff, (head.length - 4) >> 8, 0]);
  const whole = Buffer.concat([head, Buffer.from('body')]);
  assert.deepEqual(parseUwsgiHead(whole, 65535), { params, consumed: head.length });
  for (let n = 0; n < head.length; n++) assert.equal(parseUwsgiHead(whole.subarray(0, n), 65535), NEED_DATA, `${n} bytes`);
});

test('bad uwsgi packets are refused', () => {
  assert.throws(() => parseUwsgiHead(Buffer.of(5), 65535), /modifier1 5/);
  assert.throws(() => parseUwsgiHead(Buffer.of(0, 0, 0, 1), 65535), /modifier2 1/);
  assert.throws(() => parseUwsgiHead(Buffer.of(0, 3, 0, 0, 1, 0, 0), 65535), /cut short/);
  assert.throws(() => parseUwsgiHead(Buffer.of(0, 4, 0, 0, 9, 0, 1, 2), 65535), /overruns/);
  assert.throws(() => parseUwsgiHead(Buffer.of(0, 0xff, 0xff, 0), 4096), { status: 431 });
});
