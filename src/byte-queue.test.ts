import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { ByteQueue } from './byte-queue.js';

test('bytes come out in order and whole, however they were pushed and shifted', () => {
  const piece = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 4000, maxLength: 9000 }));
  const op = fc.oneof(
    piece.map((p) => ({ push: p })),
    fc.constant({ shift: true }),
    fc.constant({ take: true }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const q = new ByteQueue();
      const pushed: number[] = [];
      const got: number[] = [];
      for (const o of ops) {
        if ('push' in o) {
          q.push(o.push);
          pushed.push(...o.push);
        } else if ('shift' in o) {
          const c = q.shift();
          if (c !== undefined) got.push(...c);
        } else {
          got.push(...q.take());
        }
        assert.equal(q.bytes, pushed.length - got.length);
      }
      got.push(...q.take());
      assert.deepEqual(Buffer.from(got), Buffer.from(pushed));
      assert.equal(q.shift(), undefined);
    }),
  );
});

test('a million 1-byte pieces are held in a few blocks, not a million buffers', () => {
  const q = new ByteQueue();
  const read = Buffer.alloc(6 * 65536, 'x'); // as if cut from a 384 KiB read
  for (let i = 0; i < 1_000_000; i++) q.push(read.subarray(i % read.length, (i % read.length) + 1));
  let chunks = 0;
  let bytes = 0;
  let pinning = 0;
  for (let c = q.shift(); c !== undefined; c = q.shift()) {
    chunks++;
    bytes += c.length;
    if (c.buffer === read.buffer) pinning++;
  }
  assert.equal(pinning, 1, 'only the first piece (alone in the queue then) is kept as a view');
  assert.equal(bytes, 1_000_000);
  assert.ok(chunks <= 1_000_000 / 16_384 + 2, `${chunks} chunks`);
});

test('a large piece is kept as it is, unless it would pin a much larger buffer', () => {
  const q = new ByteQueue();
  const big = Buffer.alloc(10_000, 1);
  q.push(big);
  assert.equal(q.shift(), big);
  const read = Buffer.alloc(65_536, 2);
  const view = read.subarray(100, 100 + 5000);
  q.push(view);
  const out = q.shift()!;
  assert.deepEqual(out, view);
  assert.notEqual(out.buffer, read.buffer);
});
