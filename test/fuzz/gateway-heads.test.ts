// Property-based fuzzing of the two stateless request-head codecs of the
// gateway listeners: SCGI netstrings (src/protocols/scgi/netstring.ts) and
// uwsgi packets (src/protocols/uwsgi/packet.ts). Both are called by the
// listener on the bytes received so far, after every read, so "split
// invariance" here is prefix consistency: prefixes of a stream give NEED_DATA
// until one result, and every longer prefix gives that same result.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as fc from 'fast-check';
import { RemoteProtocolError, codes } from '../../src/errors.js';
import { NEED_DATA } from '../../src/protocols/need-data.js';
import { encodeScgiHead, parseScgiHead, type GatewayHead } from '../../src/protocols/scgi/netstring.js';
import { UWSGI_HEADER, encodeUwsgiHead, parseUwsgiHead } from '../../src/protocols/uwsgi/packet.js';
import {
  bytes,
  check,
  cuts,
  edgyLength,
  latin1,
  latin1Char,
  latin1OfLength,
  mutated,
  onlyThrows,
  seeded,
  split,
  stringOf,
  tokens,
} from './support.js';

type Parse = (buf: Buffer, maxBytes: number) => GatewayHead | typeof NEED_DATA;
type Outcome = GatewayHead | typeof NEED_DATA | { code: string; status: number };

function outcome(parse: Parse, buf: Buffer, maxBytes: number): Outcome {
  const r = onlyThrows(RemoteProtocolError, () => parse(buf, maxBytes));
  return r instanceof RemoteProtocolError ? { code: r.code, status: r.status } : r;
}

/** Prefixes of `data` at the cut points (then the whole): NEED_DATA*, then one result for good. */
function assertPrefixConsistent(parse: Parse, data: Buffer, maxBytes: number, points: number[]): Outcome {
  const whole = outcome(parse, data, maxBytes);
  let settled: Outcome | null = null;
  let end = 0;
  for (const piece of split(data, points)) {
    end += piece.length;
    const got = outcome(parse, data.subarray(0, end), maxBytes);
    if (settled !== null) assert.deepEqual(got, settled, `prefix of ${end} bytes`);
    else if (got !== NEED_DATA) settled = got;
  }
  assert.deepEqual(settled ?? NEED_DATA, whole);
  return whole;
}

// --- SCGI ---

const noNul = (c: fc.StringConstraints = {}): fc.Arbitrary<string> => latin1(c).map((s) => s.replace(/\0/g, '@'));
const contentLength = fc.oneof(fc.constant('0'), fc.bigInt({ min: 1n, max: 999_999_999_999_999n }).map(String));
const scgiParams: fc.Arbitrary<[string, string][]> = fc
  .tuple(
    contentLength,
    fc.array(fc.tuple(noNul({ minLength: 1, maxLength: 20 }), noNul({ maxLength: 30 })), { maxLength: 8 }), // names are never empty
    fc.nat(),
    edgyLength([9, 10, 99, 100, 999, 1000], 20)
      .chain((n) => latin1OfLength(n))
      .map((s) => s.replace(/\0/g, '@')),
  )
  .map(([cl, rest, at, long]) => {
    const others: [string, string][] = [...rest, ['LONG', long]];
    others.splice(at % (others.length + 1), 0, ['SCGI', '1']);
    return [['CONTENT_LENGTH', cl], ...others];
  });
const scgiStream = fc.tuple(scgiParams, bytes(40)).map(([params, body]) => Buffer.concat([encodeScgiHead(params), body]));
const SCGI_TOKENS = ['CONTENT_LENGTH\0', 'SCGI\0', '1\0', '0\0', '\0', ':', ',', '0', '1', '9', '10:', '25:', '99999:', 'x'];

describe('fuzz: SCGI netstring heads', () => {
  it(seeded('round trip: parseScgiHead(encodeScgiHead(params) + body) gives the params, in any prefix order'), () => {
    check(
      fc.property(scgiParams, bytes(40), cuts, (params, body, points) => {
        const head = encodeScgiHead(params);
        const data = Buffer.concat([head, body]);
        const headersLength = head.length - head.indexOf(0x3a) - 2;
        const want = { params, consumed: head.length };
        assert.deepEqual(assertPrefixConsistent(parseScgiHead, data, headersLength, points), want);
        // maxBytes is a limit on the netstring's length: one under it is 431
        assert.deepEqual(outcome(parseScgiHead, data, headersLength - 1), { code: codes.SCGI_BAD_REQUEST, status: 431 });
        for (let n = 0; n < head.length; n += 1 + (n >> 3)) assert.equal(parseScgiHead(data.subarray(0, n), headersLength), NEED_DATA);
      }),
    );
  });

  it(seeded('arbitrary and damaged bytes: only RemoteProtocolError, prefix-consistent, bounded'), () => {
    const input = fc.oneof(bytes(60), mutated(scgiStream), tokens(SCGI_TOKENS));
    check(
      fc.property(input, fc.integer({ min: 0, max: 300 }), cuts, (data, maxBytes, points) => {
        const whole = assertPrefixConsistent(parseScgiHead, data, maxBytes, points);
        // NEED_DATA only while the head can still be within maxBytes: length digits, ":", headers, ","
        if (whole === NEED_DATA) assert.ok(data.length <= 10 + 1 + maxBytes + 1, `NEED_DATA with ${data.length} bytes`);
        else if ('consumed' in whole) {
          assert.equal(whole.params[0]![0], 'CONTENT_LENGTH');
          // what parses is exactly what it says: encoding it again gives the same bytes
          assert.deepEqual(encodeScgiHead(whole.params), data.subarray(0, whole.consumed));
        }
      }),
      3,
    );
  });
});

// --- uwsgi ---

const u16Edges = [0, 1, 255, 256];
const uwsgiParams: fc.Arbitrary<[string, string][]> = fc.oneof(
  // names are never empty
  {
    weight: 5,
    arbitrary: fc.array(
      fc.tuple(
        edgyLength(u16Edges.slice(1), 20)
          .chain(latin1OfLength)
          .filter((k) => k !== ''),
        edgyLength(u16Edges, 30).chain(latin1OfLength),
      ),
      { maxLength: 8 },
    ),
  },
  // one pair that brings the variables to 65535 +- 1 bytes (the u16 datasize's end)
  {
    weight: 1,
    arbitrary: fc
      .tuple(latin1({ minLength: 1, maxLength: 8 }), fc.integer({ min: -1, max: 1 }), latin1Char)
      .map(([k, d, c]) => [[k, c.repeat(0xffff - 4 - k.length + d)]] as [string, string][]),
  },
);
const varsSize = (params: [string, string][]): number => params.reduce((n, [k, v]) => n + 4 + k.length + v.length, 0);
const uwsgiStream = fc
  .tuple(
    uwsgiParams.filter((p) => varsSize(p) <= 0xffff),
    bytes(20),
  )
  .map(([params, body]) => Buffer.concat([encodeUwsgiHead(params), body]));
const UWSGI_TOKENS = ['\0', '\0\0\0\0', '\x01\0', '\xff\xff', '\x05\0', 'PATH_INFO', '/', '\x04\0\0\0'];

describe('fuzz: uwsgi packet heads', () => {
  it(seeded('round trip: parseUwsgiHead(encodeUwsgiHead(params) + body) gives the params; over 64 KiB is a RangeError'), () => {
    check(
      fc.property(uwsgiParams, bytes(20), cuts, (params, body, points) => {
        const size = varsSize(params);
        if (size > 0xffff) {
          assert.throws(() => encodeUwsgiHead(params), RangeError);
          return;
        }
        const head = encodeUwsgiHead(params);
        assert.equal(head.length, UWSGI_HEADER + size);
        const data = Buffer.concat([head, body]);
        assert.deepEqual(assertPrefixConsistent(parseUwsgiHead, data, size, points), { params, consumed: head.length });
        if (size > 0) assert.deepEqual(outcome(parseUwsgiHead, data, size - 1), { code: codes.UWSGI_BAD_PACKET, status: 431 });
      }),
      0.5,
    );
  });

  it(seeded('arbitrary and damaged bytes: only RemoteProtocolError, prefix-consistent, bounded'), () => {
    const input = fc.oneof(
      bytes(60),
      mutated(uwsgiStream),
      tokens(UWSGI_TOKENS),
      stringOf('\0\x01\x02\x03ab', { maxLength: 40 }).map((s) => Buffer.from(s, 'latin1')),
    );
    check(
      fc.property(input, fc.integer({ min: 0, max: 0x10000 }), cuts, (data, maxBytes, points) => {
        const whole = assertPrefixConsistent(parseUwsgiHead, data, maxBytes, points);
        if (whole === NEED_DATA)
          assert.ok(
            data.length < UWSGI_HEADER + Math.min(maxBytes, 0xffff) || data.length < UWSGI_HEADER,
            `NEED_DATA with ${data.length} bytes`,
          );
        else if ('consumed' in whole) assert.deepEqual(encodeUwsgiHead(whole.params), data.subarray(0, whole.consumed));
      }),
      3,
    );
  });
});
