import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { type DeflateParams, PerMessageDeflate, negotiateDeflate } from './deflate.js';
import { parseExtensions } from './extensions.js';
import { WebSocketFailure } from './rfc6455.js';

const TAIL = Buffer.from([0, 0, 0xff, 0xff]);

/** What a peer keeps: one zlib stream for the whole connection, each message sync-flushed. */
function throughStream(z: zlib.Inflate | zlib.Deflate, data: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const onData = (b: Buffer): number => out.push(b);
    z.on('data', onData);
    z.write(data);
    z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      z.off('data', onData);
      resolve(Buffer.concat(out));
    });
  });
}

function params(p: Partial<DeflateParams> = {}): DeflateParams {
  return { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15, ...p };
}

/** Messages that repeat each other (so context takeover matters) and some long enough for the async path. */
function messages(): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < 12; i++) out.push(Buffer.from(`{"event":"tick","n":${i},"payload":"${'abc'.repeat(i * 7)}"}`));
  out.push(Buffer.alloc(0), Buffer.from('x'.repeat(70_000) + 'tick'.repeat(5000)), Buffer.from('{"event":"tick","n":99}'));
  return out;
}

describe('permessage-deflate: compress', () => {
  for (const bits of [8, 9, 12, 15]) {
    for (const noTakeover of [false, true]) {
      const name = `server_max_window_bits=${bits}${noTakeover ? ', no context takeover' : ''}`;
      it(`${name}: a peer's one inflate stream reads every message`, async () => {
        const ours = new PerMessageDeflate(params({ serverMaxWindowBits: bits, serverNoContextTakeover: noTakeover }), {
          asyncAbove: 50_000,
        });
        const msgs = messages();
        // compress all first (sync and async mixed, as a sender would), then read them in order
        const payloads = msgs.map((m) => ours.compress(m));
        assert.ok(payloads.some((p) => p instanceof Promise) && payloads.some((p) => !(p instanceof Promise)));
        let peer = zlib.createInflateRaw({ windowBits: Math.max(bits, 9) });
        for (const [i, p] of payloads.entries()) {
          if (noTakeover) peer = zlib.createInflateRaw({ windowBits: Math.max(bits, 9) });
          const got = await throughStream(peer, Buffer.concat([await p, TAIL]));
          assert.deepEqual(got, msgs[i], `message ${i}`);
        }
      });
    }
  }

  it('with context takeover, a repeated message compresses smaller the second time', () => {
    const ours = new PerMessageDeflate(params());
    const m = Buffer.from('{"user":"someone","action":"typing","room":"general"}');
    const first = ours.compress(m) as Buffer;
    const second = ours.compress(m) as Buffer;
    assert.ok(second.length < first.length / 2, `${first.length} then ${second.length}`);
  });
});

describe('permessage-deflate: decompress', () => {
  for (const bits of [9, 12, 15]) {
    it(`client_max_window_bits=${bits}: messages from a peer's one deflate stream, sync and async`, async () => {
      const ours = new PerMessageDeflate(params({ clientMaxWindowBits: bits }), { asyncAbove: 4096 });
      const peer = zlib.createDeflateRaw({ windowBits: bits });
      for (const m of messages()) {
        const wire = (await throughStream(peer, m)).subarray(0, -4);
        const cut = Math.floor(wire.length / 3);
        const out = ours.decompress([wire.subarray(0, cut), wire.subarray(cut)], 1 << 20);
        assert.equal(out instanceof Promise, wire.length + 4 >= 4096);
        assert.deepEqual(await out, m);
      }
    });
  }

  it('a message inflating past maxMessage: 1009, synchronously when small', () => {
    const ours = new PerMessageDeflate(params());
    const bomb = zlib.deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    assert.throws(
      () => ours.decompress([bomb], 1000),
      (err: unknown) => err instanceof WebSocketFailure && err.closeCode === 1009,
    );
  });

  it('past the synchronous step (1 MiB) it goes on in the thread pool, and still stops at maxMessage', async () => {
    const ours = new PerMessageDeflate(params());
    const data = Buffer.alloc(8 << 20, 7);
    const wire = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    assert.ok(wire.length < 64 * 1024, 'small enough to be tried synchronously first');
    const over = ours.decompress([wire], 2 << 20);
    assert.ok(over instanceof Promise);
    await assert.rejects(over, (err: unknown) => err instanceof WebSocketFailure && err.closeCode === 1009);
    const fits = new PerMessageDeflate(params()).decompress([wire], 8 << 20);
    assert.ok(fits instanceof Promise);
    assert.deepEqual(await fits, data);
  });

  it('bytes zlib cannot inflate: 1007', () => {
    assert.throws(
      () => new PerMessageDeflate(params()).decompress([Buffer.from([0xff, 0xff, 0xff])], 100),
      (err: unknown) => err instanceof WebSocketFailure && err.closeCode === 1007,
    );
  });
});

describe('permessage-deflate: negotiation options', () => {
  const offers = parseExtensions(['permessage-deflate; client_max_window_bits'])!;

  it('our ceilings and no-context-takeover wishes go in the answer', () => {
    const n = negotiateDeflate(offers, {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    });
    assert.deepEqual(n, {
      params: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
      header: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    });
  });

  it('windows outside 9-15 are refused as options', () => {
    for (const bits of [8, 16, 12.5]) {
      assert.throws(() => negotiateDeflate(offers, { serverMaxWindowBits: bits }), RangeError);
      assert.throws(() => negotiateDeflate(offers, { clientMaxWindowBits: bits }), RangeError);
    }
  });

  it('no permessage-deflate offer: null', () => {
    assert.equal(negotiateDeflate(parseExtensions(['x-foo; a=1'])!), null);
    assert.equal(negotiateDeflate([]), null);
  });
});
