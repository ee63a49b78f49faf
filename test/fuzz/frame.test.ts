// Property-based fuzzing of the gateway <-> worker framing (src/workers/frame.ts):
// the FrameReader (plain, and with a splittable type whose frames are handed on
// in pieces), the frame builders, and the RESPONSE / FILE payload parsers. A
// worker is our own code, but a broken or compromised one must only ever cause
// a WorkerError, never a TypeError in the gateway.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as fc from 'fast-check';
import { WorkerError, codes } from '../../src/errors.js';
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
  splitBlock,
} from '../../src/workers/frame.js';
import { bytes, check, cuts, edgyLength, latin1, mutated, onlyThrows, seeded, split, tokens } from './support.js';

type Frame = [number, string];
const frameArb: fc.Arbitrary<Frame> = fc.tuple(
  fc.oneof(
    fc.constantFrom(T.REQUEST, T.DATA, T.END, T.RESPONSE, T.RDATA, T.REND, T.FILE, T.LOG, T.READY),
    fc.integer({ min: 0, max: 255 }),
  ),
  fc.oneof(
    { weight: 4, arbitrary: latin1({ maxLength: 30 }) },
    { weight: 1, arbitrary: edgyLength([HEADER_SIZE, 16 * 1024], 0).map((n) => 'p'.repeat(n)) },
  ),
);
const encodeFrames = (fs: Frame[]): Buffer => Buffer.concat(fs.map(([t, p]) => frame(t, Buffer.from(p, 'latin1'))));

/**
 * Frames read from `reads`; with `splittable`, consecutive pieces of that type are
 * joined (its frame boundaries carry no meaning). The error code if one is thrown.
 */
function readFrames(reads: Buffer[], splittable = -1): { frames: Frame[]; error: string | null } {
  const frames: Frame[] = [];
  const reader = new FrameReader((type, payload) => {
    const last = frames[frames.length - 1];
    if (type === splittable && last?.[0] === splittable) last[1] += payload.toString('latin1');
    else frames.push([type, payload.toString('latin1')]);
  }, splittable);
  for (const read of reads) {
    const r = onlyThrows(WorkerError, () => reader.receive(read));
    if (r instanceof WorkerError) {
      assert.equal(r.code, codes.WORKER_PROTOCOL);
      return { frames, error: r.code };
    }
  }
  return { frames, error: null };
}

/** The expected frames with consecutive ones of `splittable` joined. */
function joined(fs: Frame[], splittable: number): Frame[] {
  const out: Frame[] = [];
  for (const [t, p] of fs) {
    const last = out[out.length - 1];
    if (t === splittable && last?.[0] === splittable) last[1] += p;
    else out.push([t, p]);
  }
  return out;
}

describe('fuzz: worker frames', () => {
  it(seeded('round trip: frames read back whole and in any split, plain and with RDATA splittable'), () => {
    check(
      fc.property(fc.array(frameArb, { maxLength: 6 }), cuts, (fs, points) => {
        const data = encodeFrames(fs);
        assert.deepEqual(readFrames([data]), { frames: fs, error: null });
        assert.deepEqual(readFrames(split(data, points)), { frames: fs, error: null }, 'split');
        assert.deepEqual(readFrames(split(data, points), T.RDATA), { frames: joined(fs, T.RDATA), error: null }, 'split, splittable');
      }),
      2,
    );
  });

  it(seeded('arbitrary and damaged streams: only WorkerError, the same in every split'), () => {
    const FRAME_TOKENS = ['\0\0\0\0', '\x01\0\0\0', '\x05\0\0\0', '\xff\xff\xff\xff', '\x01\0\0\x01', '\x12', '\x13', '\x11', 'x'];
    const input = fc.oneof(bytes(60), tokens(FRAME_TOKENS, 12), mutated(fc.array(frameArb, { maxLength: 4 }).map(encodeFrames)));
    check(
      fc.property(input, cuts, fc.constantFrom(-1, T.RDATA, T.DATA), (data, points, splittable) => {
        const whole = readFrames([data], splittable);
        // a frame cut short at the end is held, not yielded: the same frames in every split. (Reads
        // are never empty here: a socket never delivers one, and an empty read in the middle of a
        // splittable frame is handed on as an empty piece of it.)
        assert.deepEqual(readFrames(split(data, points), splittable), whole, 'split');
      }),
      3,
    );
  });

  it(seeded('REQUEST frames carry flags, the environ block and the body'), () => {
    const env = fc.array(
      latin1({ maxLength: 12 }).map((s) => s.replace(/\0/g, '.')),
      { maxLength: 8 },
    );
    check(
      fc.property(env, fc.option(bytes(40)), fc.boolean(), (parts, body, complete) => {
        const block = parts.map((s) => `${s}\0`).join('');
        const f = requestFrame(block, body, complete);
        const got = readFrames([f]);
        assert.equal(got.frames.length, 1);
        const payload = Buffer.from(got.frames[0]![1], 'latin1');
        assert.equal(got.frames[0]![0], T.REQUEST);
        assert.equal(payload[0], complete ? 1 : 0);
        const envLen = payload.readUInt32LE(1);
        assert.deepEqual(splitBlock(payload.subarray(5, 5 + envLen)), parts);
        assert.deepEqual(payload.subarray(5 + envLen), body ?? Buffer.alloc(0));
      }),
    );
  });

  it(seeded('dataFrames (copied below 4 KiB, gathered above) read back as DATA frames joining to the data'), () => {
    const data = edgyLength([4096, 16 * 1024], 100).chain((n) => bytes(n, n));
    check(
      fc.property(data, cuts, fc.integer({ min: 0, max: 255 }), (d, points, reason) => {
        const stream = Buffer.concat([...dataFrames(d), endFrame(reason)]);
        const got = readFrames(split(stream, points), T.DATA);
        assert.deepEqual(got, {
          frames: [
            [T.DATA, d.toString('latin1')],
            [T.END, String.fromCharCode(reason)],
          ],
          error: null,
        });
      }),
      0.3,
    );
  });

  it(seeded('RESPONSE payloads: a worker-built one parses back; arbitrary ones give only WorkerError'), () => {
    const name = latin1({ maxLength: 12 }).map((s) => s.replace(/\0/g, '.'));
    const response = fc.record({
      end: fc.boolean(),
      status: name,
      headers: fc.array(fc.tuple(name, name), { maxLength: 5 }),
      body: bytes(30),
    });
    const encode = (r: { end: boolean; status: string; headers: [string, string][]; body: Buffer }): Buffer => {
      const head = Buffer.from([r.status, ...r.headers.flat()].map((s) => `${s}\0`).join(''), 'latin1');
      const payload = Buffer.concat([Buffer.of(r.end ? 1 : 0), Buffer.alloc(4), head, r.body]);
      payload.writeUInt32LE(head.length, 1);
      return payload;
    };
    // payloads with a plausible head length, so that the head block is what gets damaged
    const junkPayload = fc.tuple(fc.integer({ min: 0, max: 255 }), bytes(30), bytes(10)).map(([flags, head, body]) => {
      const p = Buffer.concat([Buffer.of(flags), Buffer.alloc(4), head, body]);
      p.writeUInt32LE(head.length, 1);
      return p;
    });
    check(
      fc.property(response, fc.oneof(bytes(40), junkPayload, mutated(response.map(encode))), (r, junk) => {
        const payload = encode(r);
        assert.deepEqual(parseResponse(payload), { ...r }); // fc.record objects have no prototype
        assert.ok(Array.isArray(splitBlock(junk)));
        for (const p of [junk, Buffer.concat([payload.subarray(0, 5), junk])]) {
          const got = onlyThrows(WorkerError, () => parseResponse(p));
          if (got instanceof WorkerError) continue;
          // what parses is exactly what it says: encoding it again gives the same bytes (flag bits aside)
          assert.deepEqual(encode(got).subarray(1), p.subarray(1), 'a RESPONSE payload parsed to something else');
        }
      }),
    );
  });

  it(seeded('FILE payloads: offset, count and path parse back; arbitrary ones give only WorkerError'), () => {
    const path = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 });
    check(
      fc.property(fc.maxSafeNat(), fc.oneof(fc.constant(-1), fc.maxSafeNat()), path, bytes(30), (offset, count, p, junk) => {
        const payload = Buffer.concat([Buffer.alloc(16), Buffer.from(p, 'utf8')]);
        payload.writeBigUInt64LE(BigInt(offset), 0);
        payload.writeBigInt64LE(BigInt(count), 8);
        assert.deepEqual(parseFile(payload), { offset, count, path: p });
        onlyThrows(WorkerError, () => parseFile(junk));
      }),
    );
  });

  it(seeded('a frame header over MAX_PAYLOAD is refused as it arrives, whatever the split'), () => {
    check(
      fc.property(
        fc.integer({ min: MAX_PAYLOAD + 1, max: 0xffffffff >>> 1 }),
        fc.array(frameArb, { maxLength: 3 }),
        cuts,
        (size, before, points) => {
          const head = Buffer.alloc(HEADER_SIZE);
          head.writeUInt32LE(size, 0);
          const data = Buffer.concat([encodeFrames(before), head]);
          assert.deepEqual(readFrames(split(data, points)), { frames: before, error: codes.WORKER_PROTOCOL });
        },
      ),
    );
  });
});
