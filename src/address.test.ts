import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddress } from './address.js';

test('addresses', () => {
  assert.deepEqual(parseAddress('[::1]:8080'), { kind: 'tcp', host: '::1', port: 8080 });
  assert.deepEqual(parseAddress('8080'), { kind: 'tcp', host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseAddress(':8080'), { kind: 'tcp', host: '0.0.0.0', port: 8080 });
  assert.throws(() => parseAddress('::1:80'), /brackets/);
  assert.throws(() => parseAddress('unix:'), /no socket path/);
});
