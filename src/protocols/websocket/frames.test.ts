import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { LocalProtocolError } from '../../errors.js';
import { PerMessageDeflate } from './deflate.js';
import { FrameParser, NEED_DATA, encodeClose, encodeFrame, encodeMessage, encodePing, encodePong, frameHeader } from './frames.js';
import { applyMask } from './mask.js';

function byteLoopMask(data: Uint8Array, key: Uint8Array, phase: number): void {
  for (let i = 0; i < data.length; i++) data[i] = data[i]! ^ key[(phase + i) & 3]!;
}

describe('WebSocket masking', () => {
  it('word-at-a-time unmasking equals the byte loop for every alignment, phase and a range of lengths', () => {
    const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
    const pool = randomBytes(4096);
    for (let offset = 0; offset < 8; offset++) {
      for (let phase = 0; phase < 4; phase++) {
        for (const length of [0, 1, 3, 31, 32, 33, 64, 127, 1000, 4000]) {
          const a = Buffer.from(pool.subarray(0, offset + length)).subarray(offset);
          const b = Buffer.from(a);
          applyMask(a, key, phase);
          byteLoopMask(b, key, phase);
          assert.deepEqual(a, b, `offset ${offset} phase ${phase} length ${length}`);
        }
      }
    }
  });
});

describe('WebSocket serializers', () => {
  it('server frames are never masked; lengths take 7, 16 or 64 bits', () => {
    assert.equal(frameHeader(1, 125).toString('hex'), '817d');
    assert.equal(frameHeader(2, 126).toString('hex'), '827e007e');
    assert.equal(frameHeader(2, 65535).toString('hex'), '827effff');
    assert.equal(frameHeader(2, 65536).toString('hex'), '827f0000000000010000');
    assert.equal(frameHeader(2, 2 ** 40 + 5).toString('hex'), '827f0000010000000005');
    assert.equal(frameHeader(0, 3, { fin: false }).toString('hex'), '0003');
  });

  it('RFC 6455 §5.7: the unmasked "Hello", ping and pong', () => {
    assert.equal(Buffer.concat(encodeMessage(true, Buffer.from('Hello'))).toString('hex'), '810548656c6c6f');
    assert.equal(encodePing(Buffer.from('Hello')).toString('hex'), '890548656c6c6f');
    assert.equal(encodePong(Buffer.from('Hello')).toString('hex'), '8a0548656c6c6f');
    // and the masked one a client sends
    assert.equal(encodeFrame(1, Buffer.from('Hello'), { mask: Buffer.from('37fa213d', 'hex') }).toString('hex'), '818537fa213d7f9f4d5158');
  });

  it('a message in frames of maxFrame bytes: opcode then continuations, FIN on the last, RSV1 on the first only', () => {
    const frames = encodeMessage(false, Buffer.from('abcdefg'), { maxFrame: 3, compressed: true });
    assert.deepEqual(
      frames.map((f) => f.toString('hex')),
      ['4203616263', '0003646566', '800167'],
    );
  });

  it('large payloads are not copied: their frame is [header, the payload itself]', () => {
    const payload = Buffer.alloc(100_000, 1);
    const frames = encodeMessage(false, payload, { maxFrame: 60_000 });
    assert.equal(frames.length, 4);
    assert.equal(frames[1]!.buffer, payload.buffer);
    assert.equal(frames[3]!.buffer, payload.buffer);
    assert.deepEqual(Buffer.concat([frames[0]!, frames[2]!]).toString('hex'), '027eea6080 7e9c40'.replace(/ /g, ''));
  });

  it('close frames: code and reason, empty for 1005 or none; bad codes and long reasons are refused', () => {
    assert.equal(encodeClose(1000, 'ok').toString('hex'), '880403e86f6b');
    assert.equal(encodeClose().toString('hex'), '8800');
    assert.equal(encodeClose(1005).toString('hex'), '8800');
    for (const code of [999, 1004, 1006, 1015, 2000, 5000]) assert.throws(() => encodeClose(code), LocalProtocolError, String(code));
    assert.equal(encodeClose(1000, 'é'.repeat(61) + 'x').length, 2 + 125);
    assert.throws(() => encodeClose(1000, 'é'.repeat(62)), LocalProtocolError);
    assert.throws(() => encodePing(Buffer.alloc(126)), LocalProtocolError);
  });
});

describe('WebSocket frame parser', () => {
  const key = Buffer.from([1, 2, 3, 4]);

  it('a big compressed message: next() gives a Promise, refuses to be called again until it settles, then goes on', async () => {
    const params = { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
    const client = new PerMessageDeflate(params, { asyncAbove: Number.POSITIVE_INFINITY });
    const big = Buffer.from(randomBytes(40_000).toString('base64'));
    const parser = new FrameParser({ maxMessage: 1 << 20, deflate: new PerMessageDeflate(params, { asyncAbove: 1000 }) });
    for (const f of encodeMessage(true, client.compress(big) as Buffer, { compressed: true, mask: key })) parser.receive(f);
    parser.receive(encodePingMasked());
    const pending = parser.next();
    assert.ok(pending instanceof Promise);
    assert.throws(() => parser.next(), LocalProtocolError);
    const ev = await pending;
    assert.equal(ev.kind, 'message');
    assert.deepEqual(ev.kind === 'message' && ev.data, big);
    assert.deepEqual(parser.next(), { kind: 'ping', data: Buffer.alloc(0) });
    assert.equal(parser.next(), NEED_DATA);
  });

  function encodePingMasked(): Buffer {
    return encodeFrame(0x9, Buffer.alloc(0), { mask: key });
  }

  it('bufferedBytes: a partial header, a partial message, nothing once delivered', () => {
    const parser = new FrameParser({ maxMessage: 100 });
    const wire = Buffer.concat(encodeMessage(false, Buffer.alloc(50, 9), { maxFrame: 20, mask: key }));
    parser.receive(wire.subarray(0, 3));
    assert.equal(parser.next(), NEED_DATA);
    assert.equal(parser.bufferedBytes, 3);
    parser.receive(wire.subarray(3, 40));
    assert.equal(parser.next(), NEED_DATA);
    assert.equal(parser.bufferedBytes, 40 - 2 * 6);
    parser.receive(wire.subarray(40));
    const ev = parser.next();
    assert.ok(ev !== NEED_DATA && !(ev instanceof Promise) && ev.kind === 'message');
    assert.deepEqual(ev.data, Buffer.alloc(50, 9));
    assert.equal(parser.bufferedBytes, 0);
  });

  it('after a fail, nothing more: later bytes are dropped', () => {
    const parser = new FrameParser({ maxMessage: 100 });
    parser.receive(Buffer.from('810548656c6c6f', 'hex'));
    assert.deepEqual(parser.next(), { kind: 'fail', code: 1002, reason: 'unmasked client frame' });
    assert.ok(parser.done);
    parser.receive(encodeFrame(1, Buffer.from('x'), { mask: key }));
    assert.equal(parser.next(), NEED_DATA);
    assert.equal(parser.bufferedBytes, 0);
  });
});
