import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger, stderrSink } from './log.js';

test('a log that cannot be written loses lines, not the server, and says so once it can', () => {
  const out: string[] = [];
  let full = true;
  const log = new Logger(20, stderrSink((text) => {
    if (full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    out.push(text);
  }));
  log.info('one');
  log.error('two');
  log.info('three');
  assert.deepEqual(out, []);
  full = false;
  log.info('four');
  log.info('five');
  const text = out.join('');
  assert.match(text, /^\[[-0-9: +]+\] \[\d+\] \[WARNING\] 3 log lines were lost: ENOSPC: no space left on device, write\n\[[-0-9: +]+\] \[\d+\] \[INFO\] four\n/);
  assert.equal(text.split('lost').length, 2, 'said once');
  assert.match(text, /\[INFO\] five\n$/);
});
