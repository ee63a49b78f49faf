// The dispatcher's choice of channel, on stand-in workers and channels (no processes: what is
// tested is only which channel each request is lent to).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dispatcher } from './dispatch.js';
import type { Channel, Exchange } from './channel.js';
import type { Worker } from './worker.js';

interface StandIn {
  worker: Worker;
  channels: (Channel & { lost: boolean; took: Exchange[] })[];
}

/** A worker with `n` channels that take whatever is lent them (and stay busy until freed). */
function standIn(pid: number, n: number): StandIn {
  const owner = { pid, busy: 0, served: 0, concurrent: n > 1 };
  const channels = Array.from({ length: n }, () => {
    const ch = {
      owner,
      exchange: null as Exchange | null,
      lost: false,
      took: [] as Exchange[],
      get isLost() {
        return ch.lost;
      },
      begin(ex: Exchange) {
        ch.exchange = ex;
        ch.took.push(ex);
      },
      mayTakeAhead: () => false,
    };
    return ch;
  });
  Object.assign(owner, { channels });
  return { worker: owner as unknown as Worker, channels: channels as unknown as StandIn['channels'] };
}

const request = (): Exchange => ({ pipelinable: false, onLost: () => {} }) as unknown as Exchange;

/** Free `ch` as a worker does: its exchange ends, the owner is one less busy, the dispatcher told. */
function free(d: Dispatcher, s: StandIn, ch: StandIn['channels'][number]): void {
  ch.exchange = null;
  s.worker.busy--;
  d.channelOnFree(s.worker, ch);
}

/** A dispatcher serving `workers`, in order. */
function dispatcher(...workers: StandIn[]): Dispatcher {
  const d = new Dispatcher({ pipeline: 0, backlog: 10, queueTimeout: 0 });
  for (const w of workers) d.serve(w.worker);
  return d;
}

test('ASGI workers with many idle channels: each request goes to the least busy worker', () => {
  const a = standIn(1, 100);
  const b = standIn(2, 100);
  const d = dispatcher(a, b);
  assert.equal(d.idleChannels, 200);
  for (let i = 0; i < 10; i++) d.submit(request());
  assert.equal(a.worker.busy, 5);
  assert.equal(b.worker.busy, 5);
  // b's requests end: the next ones go to b until it is as busy as a
  for (const ch of b.channels.filter((c) => c.exchange !== null)) free(d, b, ch);
  for (let i = 0; i < 5; i++) d.submit(request());
  assert.equal(a.worker.busy, 5);
  assert.equal(b.worker.busy, 5);
  assert.equal(d.idleChannels, 190);
});

test('one thread per worker: requests one at a time take turns over the workers, not always the first', () => {
  const workers = [standIn(1, 1), standIn(2, 1), standIn(3, 1)];
  const d = dispatcher(...workers);
  const order: number[] = [];
  for (let i = 0; i < 6; i++) {
    d.submit(request());
    const s = workers.find((w) => w.worker.busy === 1)!;
    order.push(s.worker.pid);
    free(d, s, s.channels[0]!);
  }
  assert.deepEqual(order, [1, 2, 3, 1, 2, 3]);
});

test('a lost channel is never lent; a withdrawn worker takes nothing, and comes back with serve()', () => {
  const a = standIn(1, 3);
  const b = standIn(2, 3);
  const d = dispatcher(a, b);
  for (const ch of a.channels) ch.lost = true;
  for (let i = 0; i < 3; i++) d.submit(request());
  assert.equal(a.worker.busy, 0);
  assert.equal(b.worker.busy, 3);
  d.withdraw(b.worker);
  d.submit(request()); // nothing to lend it to: queued
  assert.equal(d.queued, 1);
  free(d, b, b.channels[0]!); // a withdrawn worker's freed channel is not taken back
  assert.equal(d.queued, 1);
  d.serve(b.worker);
  assert.equal(d.queued, 0);
  assert.equal(b.channels[0]!.took.length, 2);
});
