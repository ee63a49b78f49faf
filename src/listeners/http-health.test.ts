// --health's two pure parts: which targets are the probe, and what the pool's numbers mean.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { healthStatus, isHealthTarget } from './http-health.js';

test('the probe is the path itself, with or without a query; nothing longer or shorter', () => {
  assert.equal(isHealthTarget('/healthz', '/healthz'), true);
  assert.equal(isHealthTarget('/healthz?full=1', '/healthz'), true);
  assert.equal(isHealthTarget('/healthz/', '/healthz'), false);
  assert.equal(isHealthTarget('/healthzz', '/healthz'), false);
  assert.equal(isHealthTarget('/health', '/healthz'), false);
  assert.equal(isHealthTarget('/', '/healthz'), false);
});

test('ok while a worker serves and the queue has room; else why not', () => {
  const serving = { phase: 'serving', serving: 2, busy: 2, queued: 3, backlog: 4 };
  assert.equal(healthStatus(serving, false), 'ok');
  assert.equal(healthStatus({ ...serving, phase: 'reloading' }, false), 'ok', 'the old generation serves during a reload');
  assert.equal(healthStatus(serving, true), 'draining');
  assert.equal(healthStatus({ ...serving, phase: 'stopping' }, false), 'draining');
  assert.equal(healthStatus({ ...serving, queued: 4 }, false), 'saturated');
  assert.equal(healthStatus({ ...serving, phase: 'booting', serving: 0 }, false), 'booting');
  assert.equal(healthStatus({ ...serving, serving: 0 }, false), 'no workers');
});
