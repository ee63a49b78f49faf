// The connection budget's choice when it is full: the idle kept-alive connection idle longest over
// every listener makes room; none idle, the newcomer is refused. (Real sockets in
// test/integration/health.test.ts; here the sources are plain objects, to pin the order.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { ConnectionBudget } from './budget.js';

const socket = {} as net.Socket;

/** A listener's idle connections as the budget sees them: `since` each, closed in place. */
function source(budget: ConnectionBudget, since: number[]): { closed: number[] } {
  const closed: number[] = [];
  budget.reclaimFrom({
    longestIdle() {
      const open = since.filter((t) => !closed.includes(t));
      if (open.length === 0) return null;
      const t = Math.min(...open);
      return {
        since: t,
        close: () => {
          closed.push(t);
          budget.release(socket);
        },
      };
    },
  });
  return { closed };
}

test('full: the connection idle longest over every listener is closed for the newcomer; none idle, it is refused', () => {
  const budget = new ConnectionBudget({ maxConnections: 4, maxPerIp: 0 });
  const http = source(budget, [300, 100]);
  const https = source(budget, [200]);
  for (let i = 0; i < 4; i++) assert.equal(budget.admit(socket), null);
  assert.equal(budget.admit(socket), null);
  assert.deepEqual([http.closed, https.closed], [[100], []]);
  assert.equal(budget.admit(socket), null);
  assert.deepEqual([http.closed, https.closed], [[100], [200]]);
  assert.equal(budget.admit(socket), null);
  assert.equal(budget.admit(socket), '4 connections (--max-connections)');
  assert.equal(budget.reclaimed, 3);
  assert.equal(budget.open, 4);
});

test('not full, or no limit: nothing is closed', () => {
  const budget = new ConnectionBudget({ maxConnections: 0, maxPerIp: 0 });
  const http = source(budget, [100]);
  for (let i = 0; i < 10; i++) assert.equal(budget.admit(socket), null);
  assert.deepEqual(http.closed, []);
  assert.equal(budget.reclaimed, 0);
});
