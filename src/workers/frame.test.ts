import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FrameReader,
  HEADER_SIZE,
  MAX_PAYLOAD,
  T,
  dataFrames,
  endFrame,
  frame,
  parseFile,
  parseResponse,
  requestFrame,
  requestFrameParts,
  splitBlock,
} from './frame.js';

function collect(chunks: Buffer[]): [number, string][] {
  const out: [number, string][] = [];
  const reader = new FrameReader((type, payload) => out.push([type, payload.toString('latin1')]));
  for (const c of chunks) reader.receive(c);
  return out;
}

test('a REQUEST frame carries flags, the environ block and the body', () => {
  const f = requestFrame('A\0b\0C\0\xe9\0', Buffer.from('body'), true);
  assert.equal(f.readUInt32LE(0), f.length - HEADER_SIZE);
  assert.equal(f[4], T.REQUEST);
  assert.equal(f[5], 1);
  const envLen = f.readUInt32LE(6);
  assert.deepEqual(splitBlock(f.subarray(10, 10 + envLen)), ['A', 'b', 'C', '\xe9']);
  assert.equal(f.subarray(10 + envLen).toString(), 'body');
  assert.equal(requestFrame('', null, false)[5], 0);
});

test('a REQUEST frame with a body of 4 KiB or more is its head, then the body itself (not copied)', () => {
  const env = 'REQUEST_METHOD\0POST\0';
  const small = Buffer.alloc(4095, 's');
  assert.equal(requestFrameParts(env, small, true).length, 1);
  const body = Buffer.alloc(10_240, 'b');
  const parts = requestFrameParts(env, body, true);
  assert.equal(parts.length, 2);
  assert.equal(parts[1]!.buffer, body.buffer, 'the body is written as it is');
  const joined = Buffer.concat(parts);
  assert.deepEqual(joined, requestFrame(env, body, true));
  assert.deepEqual(collect([joined]), [[T.REQUEST, joined.subarray(HEADER_SIZE).toString('latin1')]]);
  assert.equal(joined.readUInt32LE(0), joined.length - HEADER_SIZE);
});

test('the reader yields the same frames however the stream is split', () => {
  const stream = Buffer.concat([frame(T.RDATA, Buffer.from('one')), endFrame(1), frame(T.REND), frame(T.RDATA, Buffer.alloc(70_000, 'x'))]);
  const whole = collect([stream]);
  assert.deepEqual(
    whole.map(([t]) => t),
    [T.RDATA, T.END, T.REND, T.RDATA],
  );
  const bytewise = collect([...stream].map((b) => Buffer.of(b)));
  assert.deepEqual(bytewise, whole);
  for (let cut = 1; cut < 40; cut += 3) assert.deepEqual(collect([stream.subarray(0, cut), stream.subarray(cut)]), whole);
});

test('a splittable type is handed on in pieces as it arrives, never joined; the rest is unchanged', () => {
  const big = Buffer.alloc(70_000, 'x');
  big.write('start', 0);
  big.write('end', big.length - 3);
  const stream = Buffer.concat([
    frame(T.RESPONSE, Buffer.from('head')),
    frame(T.RDATA, big),
    frame(T.RDATA, Buffer.from('two')),
    frame(T.REND),
  ]);
  // consecutive RDATA pieces merged: frame boundaries of body data carry no meaning
  const read = (chunks: Buffer[]): { events: [number, string][]; pieces: number } => {
    const events: [number, string][] = [];
    let pieces = 0;
    const reader = new FrameReader((type, payload) => {
      pieces += type === T.RDATA ? 1 : 0;
      const last = events[events.length - 1];
      if (type === T.RDATA && last?.[0] === T.RDATA) last[1] += payload.toString('latin1');
      else events.push([type, payload.toString('latin1')]);
    }, T.RDATA);
    for (const c of chunks) reader.receive(c);
    return { events, pieces };
  };
  const whole = read([stream]);
  assert.deepEqual(
    whole.events.map(([t]) => t),
    [T.RESPONSE, T.RDATA, T.REND],
  );
  assert.equal(whole.events[1]![1], big.toString('latin1') + 'two');
  assert.equal(whole.pieces, 2);
  for (const size of [1, 2, 5, 6, 7, 1000, 65_536]) {
    const chunks: Buffer[] = [];
    for (let off = 0; off < stream.length; off += size) chunks.push(stream.subarray(off, off + size));
    const split = read(chunks);
    assert.deepEqual(split.events, whole.events, `reads of ${size}`);
    if (size >= 1000) assert.ok(split.pieces <= Math.ceil(stream.length / size) + 2, `${split.pieces} pieces for reads of ${size}`);
  }
});

test('a frame longer than the protocol allows is a worker protocol error', () => {
  const bad = Buffer.alloc(5);
  bad.writeUInt32LE(MAX_PAYLOAD + 1, 0);
  assert.throws(() => collect([bad]), { code: 'ERR_WORKER_PROTOCOL' });
});

test('RESPONSE parsing: status, header pairs, body, end flag; malformed heads are refused', () => {
  const head = Buffer.from('200 OK\0Content-Type\0text/plain\0X-A\0\0', 'latin1');
  const payload = Buffer.concat([Buffer.of(1), Buffer.alloc(4), head, Buffer.from('hi')]);
  payload.writeUInt32LE(head.length, 1);
  assert.deepEqual(parseResponse(payload), {
    end: true,
    status: '200 OK',
    headers: [
      ['Content-Type', 'text/plain'],
      ['X-A', ''],
    ],
    body: Buffer.from('hi'),
  });
  const odd = Buffer.concat([Buffer.of(0), Buffer.alloc(4), Buffer.from('200 OK\0X\0')]);
  odd.writeUInt32LE(9, 1);
  assert.throws(() => parseResponse(odd), { code: 'ERR_WORKER_PROTOCOL' });
  const overrun = Buffer.concat([Buffer.of(0), Buffer.alloc(4)]);
  overrun.writeUInt32LE(99, 1);
  assert.throws(() => parseResponse(overrun), { code: 'ERR_WORKER_PROTOCOL' });
});

test('RESPONSE head block whose last string lacks its NUL is refused, not cut short', () => {
  // "200 OK" NUL "X" NUL "y" NUL "z": an odd count once the tail is dropped, so "z" used to vanish unseen
  const head = Buffer.from('200 OK\0X\0y\0z', 'latin1');
  const payload = Buffer.concat([Buffer.of(1), Buffer.alloc(4), head, Buffer.from('body')]);
  payload.writeUInt32LE(head.length, 1);
  assert.throws(() => parseResponse(payload), { code: 'ERR_WORKER_PROTOCOL', status: 502 });
  const fixed = Buffer.concat([Buffer.of(1), Buffer.alloc(4), head, Buffer.of(0), Buffer.from('body')]);
  fixed.writeUInt32LE(head.length + 1, 1);
  assert.throws(() => parseResponse(fixed), { code: 'ERR_WORKER_PROTOCOL' }, 'with its NUL, "z" is a name without a value');
});

test('FILE parsing and DATA splitting at the payload limit', () => {
  const p = Buffer.alloc(16);
  p.writeBigUInt64LE(5n, 0);
  p.writeBigInt64LE(-1n, 8);
  assert.deepEqual(parseFile(Buffer.concat([p, Buffer.from('/proc/1/fd/7')])), { offset: 5, count: -1, path: '/proc/1/fd/7' });
  for (const size of [0, 10, 4095, 4096, 16 * 1024, MAX_PAYLOAD + 10]) {
    const data = Buffer.alloc(size, 7);
    const got: [number, number][] = [];
    new FrameReader((type, payload) => got.push([type, payload.length])).receive(Buffer.concat(dataFrames(data)));
    const want: [number, number][] =
      size > MAX_PAYLOAD
        ? [
            [T.DATA, MAX_PAYLOAD],
            [T.DATA, 10],
          ]
        : [[T.DATA, size]];
    assert.deepEqual(got, want, `${size} bytes`);
  }
});
