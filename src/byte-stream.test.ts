import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteStream } from './byte-stream.js';

async function readAll(s: ByteStream): Promise<string> {
  let out = '';
  for await (const chunk of s) out += chunk.toString();
  return out;
}

test('bytes come out in order, then the end; a reader waiting is woken by a push', async () => {
  const s = new ByteStream();
  const read = readAll(s);
  s.push(Buffer.from('one '));
  await new Promise((r) => setImmediate(r));
  s.push(Buffer.from('two'));
  s.end();
  s.push(Buffer.from(' late')); // ignored: it ended
  assert.equal(await read, 'one two');
  assert.equal(s.complete, true);
});

test('an error given at the end reaches the reader after the bytes before it; only the first end counts', async () => {
  const s = new ByteStream();
  s.push(Buffer.from('partial'));
  s.end(new Error('cut short'));
  s.end();
  let got = '';
  await assert.rejects(async () => {
    for await (const chunk of s) got += chunk.toString();
  }, /cut short/);
  assert.equal(got, 'partial');
  assert.equal(s.complete, false);
  assert.equal(s.takeAll(), null);
});

test('a Flow pauses the producer past its high water and resumes it at half, once each', async () => {
  const calls: string[] = [];
  const s = new ByteStream({ high: 10_000, pause: () => calls.push('pause'), resume: () => calls.push('resume') });
  for (let i = 0; i < 5; i++) s.push(Buffer.alloc(4096, i)); // 20,480 bytes: over 10,000 at the third
  assert.deepEqual(calls, ['pause']);
  s.end();
  const it = s[Symbol.asyncIterator]();
  await it.next(); // 16,384 left
  await it.next(); // 12,288
  await it.next(); // 8,192: over half
  assert.deepEqual(calls, ['pause']);
  await it.next(); // 4,096: at or under half
  assert.deepEqual(calls, ['pause', 'resume']);
  await it.next();
  assert.equal((await it.next()).done, true);
  assert.deepEqual(calls, ['pause', 'resume']);
});

test('takeAll gives the chunks as held once it ended well; discard ends a waiting reader', async () => {
  const s = new ByteStream();
  s.push(Buffer.alloc(5000, 'a'));
  s.push(Buffer.alloc(6000, 'b'));
  assert.equal(s.takeAll(), null, 'not before the end');
  s.end();
  const parts = s.takeAll();
  assert.deepEqual(
    parts?.map((p) => p.length),
    [5000, 6000],
  );
  assert.equal(s.queuedBytes, 0);

  const waiting = new ByteStream();
  const read = readAll(waiting);
  waiting.discard();
  assert.equal(await read, '');
});
