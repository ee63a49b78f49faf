// Property-based fuzzing of the WebSocket codec (src/protocols/websocket/): what a
// client can send a server after the handshake, and the handshake itself.
//
// - round trip: messages serialized as frames (random fragmentation, pings and pongs
//   between fragments, masked as a client must, some compressed with permessage-deflate
//   under random windows and context takeover), cut into any reads, parse back to the
//   same messages and control frames, in order;
// - random and damaged streams: the parser never throws, says nothing after a close
//   or a fail, and after NEED_DATA holds at most maxMessage + a control payload + a
//   partial header;
// - UTF-8: the piecewise validator agrees with isUtf8 on the whole, however cut;
// - the Sec-WebSocket-Extensions reader and checkHandshake never throw.

import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { describe, it } from 'node:test';
import * as fc from 'fast-check';
import { type DeflateParams, PerMessageDeflate } from '../../src/protocols/websocket/deflate.js';
import { parseExtensions } from '../../src/protocols/websocket/extensions.js';
import { FrameParser, NEED_DATA, type WsEvent, encodeFrame, encodeMessage } from '../../src/protocols/websocket/frames.js';
import { checkHandshake } from '../../src/protocols/websocket/handshake.js';
import { MAX_CONTROL_PAYLOAD, MAX_HEADER } from '../../src/protocols/websocket/rfc6455.js';
import { Utf8Validator } from '../../src/protocols/websocket/utf8.js';
import { bytes, check, cuts, edgyLength, latin1, mutated, seeded, split, stringOf, tokens } from './support.js';

interface Item {
  text: boolean;
  data: Buffer;
  /** Frame payloads of at most this many bytes (0: one frame). */
  maxFrame: number;
  /** A control frame after the first frame: 0 none, 1 ping, 2 pong. */
  control: number;
  compress: boolean;
  key: Uint8Array;
}

const key = fc.uint8Array({ minLength: 4, maxLength: 4 });
const message = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }).map((s) => ({ text: true, data: Buffer.from(s, 'utf8') })) },
  { weight: 2, arbitrary: bytes(80).map((data) => ({ text: false, data })) },
  {
    weight: 1,
    arbitrary: edgyLength([125, 126, 127, 65535, 65536], 300).chain((n) =>
      fc.integer({ min: 0, max: 255 }).map((b) => ({ text: false, data: Buffer.alloc(n, b) })),
    ),
  },
);
const item: fc.Arbitrary<Item> = fc
  .tuple(message, fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 40 })), fc.integer({ min: 0, max: 2 }), fc.boolean(), key)
  .map(([m, maxFrame, control, compress, k]) => ({ ...m, maxFrame, control, compress, key: k }));

const deflateParams: fc.Arbitrary<DeflateParams> = fc.record({
  serverNoContextTakeover: fc.boolean(),
  clientNoContextTakeover: fc.boolean(),
  serverMaxWindowBits: fc.integer({ min: 9, max: 15 }),
  clientMaxWindowBits: fc.integer({ min: 9, max: 15 }),
});

/** The client's compressor for `params`: its side is the "server" side of a mirrored PerMessageDeflate. */
function clientCompressor(params: DeflateParams): PerMessageDeflate {
  const mirrored = {
    ...params,
    serverNoContextTakeover: params.clientNoContextTakeover,
    serverMaxWindowBits: params.clientMaxWindowBits,
  };
  return new PerMessageDeflate(mirrored, { asyncAbove: Number.POSITIVE_INFINITY });
}

type Seen = (string | number)[];
const seen = (ev: WsEvent): Seen => {
  switch (ev.kind) {
    case 'message':
      return [ev.text ? 'text' : 'binary', ev.data.toString('hex')];
    case 'ping':
    case 'pong':
      return [ev.kind, ev.data.toString('hex')];
    default:
      return [ev.kind, ev.code];
  }
};

/** The wire bytes of `items` as a client sends them, and the events a server must read from them. */
function clientStream(items: readonly Item[], deflate: DeflateParams | null): { wire: Buffer; want: Seen[] } {
  const compressor = deflate === null ? null : clientCompressor(deflate);
  const frames: Buffer[] = [];
  const want: Seen[] = [];
  for (const it of items) {
    const compressed = compressor !== null && it.compress;
    const payload = compressed ? (compressor.compress(it.data) as Buffer) : it.data;
    const parts = encodeMessage(it.text, payload, { maxFrame: it.maxFrame, compressed, mask: it.key });
    const msg: Seen = [it.text ? 'text' : 'binary', it.data.toString('hex')];
    frames.push(parts[0]!);
    if (parts.length === 1) want.push(msg);
    if (it.control > 0) {
      // after the first frame: between fragments, or after the message when it is one frame
      const body = Buffer.from([it.control, 0xfe]);
      frames.push(encodeFrame(it.control === 1 ? 0x9 : 0xa, body, { mask: it.key }));
      want.push([it.control === 1 ? 'ping' : 'pong', body.toString('hex')]);
    }
    frames.push(...parts.slice(1));
    if (parts.length > 1) want.push(msg);
  }
  return { wire: Buffer.concat(frames), want };
}

/** Parse `reads` with a parser of `maxMessage` (inflating synchronously); throws if the parser does. */
function parse(reads: Buffer[], maxMessage: number, deflate: DeflateParams | null, onNeedData?: (p: FrameParser) => void): Seen[] {
  const parser = new FrameParser({
    maxMessage,
    deflate: deflate === null ? null : new PerMessageDeflate(deflate, { asyncAbove: Number.POSITIVE_INFINITY }),
  });
  const events: Seen[] = [];
  for (const read of reads) {
    parser.receive(Buffer.from(read));
    for (;;) {
      const ev = parser.next();
      if (ev === NEED_DATA) break;
      assert.ok(!(ev instanceof Promise), 'no Promise when inflating synchronously');
      events.push(seen(ev));
    }
    onNeedData?.(parser);
  }
  return events;
}

describe('fuzz: WebSocket frames', () => {
  it(seeded('round trip: client frames (fragmented, controls between fragments), cut anyhow, parse to the same events'), () => {
    check(
      fc.property(fc.array(item, { maxLength: 6 }), cuts, (items, points) => {
        const { wire, want } = clientStream(items, null);
        assert.deepEqual(parse(split(wire, points), 1 << 17, null), want);
      }),
    );
  });

  it(seeded('round trip with permessage-deflate: random windows and context takeover, some messages uncompressed'), () => {
    check(
      fc.property(fc.array(item, { maxLength: 6 }), deflateParams, cuts, (items, params, points) => {
        const { wire, want } = clientStream(items, params);
        assert.deepEqual(parse(split(wire, points), 1 << 17, params), want);
      }),
      0.7,
    );
  });

  const streams = fc.oneof(
    bytes(80),
    mutated(fc.array(item, { maxLength: 4 }).map((items) => clientStream(items, null).wire)),
    tokens(['\x81', '\x01', '\x80', '\x88', '\x89', '\x8a', '\xc1', '\x82\xfe', '\xff', '\x7e', '\x7f', '\x00\x00\x00\x00'], 20),
  );

  it(seeded('random and damaged streams: never a throw, nothing after close or fail, bounded holding'), () => {
    check(
      fc.property(streams, fc.nat(300), fc.option(deflateParams, { nil: null }), cuts, (wire, maxMessage, params, points) => {
        const bound = maxMessage + MAX_CONTROL_PAYLOAD + MAX_HEADER - 1;
        const events = parse(split(wire, points), maxMessage, params, (p) => {
          assert.ok(p.bufferedBytes <= bound, `holds ${p.bufferedBytes} bytes, more than ${bound}`);
        });
        const last = events.findIndex((e) => e[0] === 'close' || e[0] === 'fail');
        assert.ok(last === -1 || last === events.length - 1, 'an event after a close or a fail');
        for (const e of events) if (e[0] === 'fail') assert.ok([1002, 1007, 1009].includes(e[1] as number));
        for (const e of events) if (e[0] === 'binary' || e[0] === 'text') assert.ok((e[1] as string).length / 2 <= maxMessage);
      }),
      3,
    );
  });

  it(seeded('held bytes stay bounded while a big message arrives in small reads, and a message one byte over fails with 1009'), () => {
    check(
      fc.property(fc.integer({ min: 1, max: 4000 }), fc.integer({ min: 0, max: 40 }), key, cuts, (size, maxFrame, k, points) => {
        const data = Buffer.alloc(size, 0x61);
        const wire = Buffer.concat(encodeMessage(true, data, { maxFrame, mask: k }));
        const ok = parse(split(wire, points), size, null, (p) => assert.ok(p.bufferedBytes <= size + MAX_HEADER - 1));
        assert.deepEqual(ok, [['text', data.toString('hex')]]);
        const over = parse(split(wire, points), size - 1, null, (p) => assert.ok(p.bufferedBytes <= size - 1 + MAX_HEADER - 1));
        assert.deepEqual(over, [['fail', 1009]]);
      }),
      0.5,
    );
  });
});

describe('fuzz: UTF-8 across pieces', () => {
  const pieces = fc.array(
    fc.oneof(
      fc.string({ unit: 'binary', maxLength: 6 }).map((s) => Buffer.from(s, 'utf8')),
      bytes(3),
      fc.constantFrom(...['c0af', 'eda080', 'f4908080', 'e282', 'f09f98', 'c3', 'e0a0', 'f0908080'].map((h) => Buffer.from(h, 'hex'))),
    ),
    { maxLength: 8 },
  );
  it(seeded('the piecewise validator agrees with isUtf8 of the whole, however the bytes are cut'), () => {
    check(
      fc.property(pieces, cuts, (ps, points) => {
        const whole = Buffer.concat(ps);
        const v = new Utf8Validator();
        let ok = true;
        for (const piece of split(whole, points, true)) ok = v.push(piece) && ok;
        ok = v.end() && ok;
        assert.equal(ok, isUtf8(whole), whole.toString('hex'));
      }),
      3,
    );
  });
});

describe('fuzz: WebSocket handshake', () => {
  const EXT_TOKENS = ['permessage-deflate', ';', ',', '=', '"', '\\', ' ', 'client_max_window_bits', 'server_max_window_bits', '15', '8'];
  it(seeded('Sec-WebSocket-Extensions: never a throw; what parses re-reads the same from its own rendering'), () => {
    check(
      fc.property(fc.array(tokens(EXT_TOKENS, 10), { maxLength: 3 }), (values) => {
        const strings = values.map((v) => v.toString('latin1'));
        const offers = parseExtensions(strings);
        if (offers === null) return;
        const rendered = offers.map((o) => [o.name, ...o.params.map(([n, v]) => (v === null ? n : `${n}=${v}`))].join('; ')).join(', ');
        assert.deepEqual(parseExtensions([rendered]), offers);
      }),
      2,
    );
  });

  const names = stringOf('UpgradeConnectionSec-WebSocket-KeyVersionProtocolExtensionsup', { maxLength: 24 });
  const header = fc.tuple(
    fc.oneof(names, fc.constantFrom('Upgrade', 'Connection', 'Sec-WebSocket-Key', 'Sec-WebSocket-Version')),
    latin1(),
  );
  it(seeded('checkHandshake: any method, version and headers give null, a 400/426 or a request, never a throw'), () => {
    check(
      fc.property(fc.constantFrom('GET', 'POST', 'get'), fc.nat(2), fc.array(header, { maxLength: 8 }), (method, minor, hs) => {
        const r = checkHandshake({ method, minor, headers: hs.flat() });
        if (r !== null && r.kind === 'reject') assert.ok(r.status === 400 || r.status === 426);
      }),
    );
  });
});
