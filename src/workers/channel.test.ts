import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { AHEAD_BUDGET_MS, Channel, type ChannelOwner, type Exchange } from './channel.js';

class FakeSocket extends EventEmitter {
  written: Uint8Array[] = [];
  write(b: Uint8Array): boolean {
    this.written.push(b);
    return true;
  }
  destroy(): void {}
  pause(): void {}
  resume(): void {}
  isPaused(): boolean {
    return false;
  }
}

function setup(): { ch: Channel; orphans: Exchange[]; ex: (pipelinable?: boolean) => Exchange } {
  const orphans: Exchange[] = [];
  const owner: ChannelOwner = {
    pid: 1,
    busy: 0,
    served: 0,
    channelOnFree: () => {},
    channelOnAdvance: () => {},
    channelOnBroken: () => {},
    channelOnOrphan: (e) => orphans.unshift(e), // as the pool does: back to the front of its queue
  };
  const ch = new Channel(new FakeSocket() as unknown as Socket, new FakeSocket() as unknown as Socket, owner, 0);
  const ex = (pipelinable = true): Exchange => ({
    pipelinable,
    start: () => {},
    onFrame: () => {},
    onLost: () => {},
    describe: () => 'GET /',
  });
  return { ch, orphans, ex };
}

/** Busy-wait `ms` (the channel times its requests with performance.now()). */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

test('requests are written ahead up to the depth behind fast requests, in order, and orphaned in order', () => {
  const { ch, orphans, ex } = setup();
  assert.equal(ch.mayTakeAhead(8, performance.now()), false, 'nothing runs: nothing to write ahead of');
  ch.begin(ex());
  const ahead = [ex(), ex(), ex()];
  for (const e of ahead) {
    assert.equal(ch.mayTakeAhead(3, performance.now()), true);
    ch.begin(e);
  }
  assert.equal(ch.mayTakeAhead(3, performance.now()), false, 'depth reached');
  assert.equal(ch.mayTakeAhead(0, performance.now()), false, 'depth 0: off');
  ch.free();
  assert.equal(ch.exchange, ahead[0]);
  ch.lose(new Error('gone') as never);
  assert.deepEqual(orphans, ahead.slice(1));
});

test('nothing is written ahead of a request that streams its body, or that has run past the budget', () => {
  const { ch, ex } = setup();
  ch.begin(ex(false));
  assert.equal(ch.mayTakeAhead(8, performance.now()), false);
  const other = setup();
  other.ch.begin(other.ex());
  assert.equal(other.ch.mayTakeAhead(8, performance.now() + AHEAD_BUDGET_MS + 1), false);
});

test('a channel whose requests usually take longer than the budget takes none ahead', () => {
  const { ch, ex } = setup();
  for (let i = 0; i < 30; i++) {
    ch.begin(ex());
    spin(AHEAD_BUDGET_MS * 2);
    ch.free();
  }
  ch.begin(ex());
  assert.equal(ch.mayTakeAhead(8, performance.now()), false);
});

test('a worker that breaks the framing is reported once, however much more it sends', () => {
  const broken: string[] = [];
  const owner: ChannelOwner = {
    pid: 1,
    busy: 0,
    served: 0,
    channelOnFree: () => {},
    channelOnAdvance: () => {},
    channelOnOrphan: () => {},
    channelOnBroken: (_ch, err) => broken.push(err.message),
  };
  const rx = new FakeSocket();
  const ch = new Channel(new FakeSocket() as unknown as Socket, rx as unknown as Socket, owner, 0);
  const frames: number[] = [];
  ch.begin({ pipelinable: true, start: () => {}, onFrame: (type) => frames.push(type), onLost: () => {}, describe: () => 'GET /' });
  // a RESPONSE frame over 16 MiB (as a worker whose app sent a 17 MiB head did), then the rest of it
  const head = Buffer.alloc(64 * 1024, 0x68);
  head.writeUInt32LE(17 << 20, 0);
  head[4] = 0x11;
  rx.emit('data', head);
  for (let i = 0; i < 10; i++) rx.emit('data', Buffer.alloc(64 * 1024, i === 5 ? 0 : 0x68));
  assert.deepEqual(broken, ['worker sent a frame of 17825792 bytes']);
  assert.deepEqual(frames, [], 'nothing after it was taken for a frame');
});
