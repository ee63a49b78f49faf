import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { RemoteProtocolError } from '../../errors.js';
import { NEED_DATA } from '../need-data.js';
import { V2_SIGNATURE, encodeProxyV1, encodeProxyV2, parseProxyHeader } from './header.js';

const bytes = (...parts: (string | number[] | Buffer)[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
const refused = (buf: Buffer, why: RegExp): void => {
  assert.throws(
    () => parseProxyHeader(buf),
    (err: unknown) => err instanceof RemoteProtocolError && err.status === 400 && why.test(err.message),
  );
};

test('v1: TCP4 and TCP6, the request after it untouched', () => {
  const line = 'PROXY TCP4 203.0.113.9 10.0.0.1 51234 8000\r\n';
  const four = bytes(line, 'GET / HTTP/1.1\r\n');
  assert.deepEqual(parseProxyHeader(four), {
    consumed: line.length,
    source: { address: '203.0.113.9', port: 51234 },
    destination: { address: '10.0.0.1', port: 8000 },
  });
  const six = parseProxyHeader(bytes('PROXY TCP6 2001:db8::7 ::1 65535 0\r\n'));
  assert.deepEqual(six !== NEED_DATA && [six.source, six.destination], [
    { address: '2001:db8::7', port: 65535 },
    { address: '::1', port: 0 },
  ]);
});

test('v1 UNKNOWN carries no client', () => {
  assert.deepEqual(parseProxyHeader(bytes('PROXY UNKNOWN\r\n')), { consumed: 15, source: null, destination: null });
  assert.deepEqual(parseProxyHeader(bytes('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n')), { consumed: 35, source: null, destination: null });
});

test('v1: refused in one line naming what is wrong', () => {
  refused(bytes('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'), /a line end other than CRLF/);
  refused(bytes('PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n'), /unknown protocol "TCP5"/);
  refused(bytes('PROXY TCP4 ::1 5.6.7.8 1 2\r\n'), /are not TCP4/);
  refused(bytes('PROXY TCP6 1.2.3.4 ::1 1 2\r\n'), /are not TCP6/);
  refused(bytes('PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n'), /ports "01" "2"/);
  refused(bytes('PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n'), /ports/);
  refused(bytes('PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n'), /not PROXY TCP4/);
  refused(bytes('PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n'), /not PROXY TCP4/);
  refused(bytes(`PROXY UNKNOWN ${'x'.repeat(100)}`), /no CRLF in the first 107 bytes/);
  refused(bytes(`PROXY UNKNOWN ${'x'.repeat(92)}\r\n`), /longer than 107 bytes/);
});

test('a connection that does not start with a header is refused as soon as that shows', () => {
  refused(bytes('GET / HTTP/1.1\r\n'), /does not start with one/);
  refused(bytes('P'.repeat(1), 'X'), /does not start with one/);
  refused(bytes('\r\n\r\nX'), /does not start with one/);
  for (const prefix of ['P', 'PROXY', 'PROXY TCP4 1.2.3.4', '\r\n', '\r\n\r\n\0\r\nQUI'])
    assert.equal(parseProxyHeader(bytes(prefix)), NEED_DATA, JSON.stringify(prefix));
});

test('v2: PROXY over IPv4 and IPv6 with TLVs skipped; LOCAL and unspecified carry no client', () => {
  const tlv = bytes([0x04, 0x00, 0x03], 'abc'); // PP2_TYPE_NOOP
  const four = encodeProxyV2({ address: '203.0.113.9', port: 443 }, { address: '10.0.0.1', port: 8000 }, tlv);
  assert.deepEqual(parseProxyHeader(Buffer.concat([four, bytes('GET')])), {
    consumed: four.length,
    source: { address: '203.0.113.9', port: 443 },
    destination: { address: '10.0.0.1', port: 8000 },
  });
  const six = encodeProxyV2({ address: '2001:db8:0:0:1:0:0:1', port: 1 }, { address: '::1', port: 2 });
  const got = parseProxyHeader(six);
  assert.deepEqual(got !== NEED_DATA && got.source, { address: '2001:db8::1:0:0:1', port: 1 }, 'RFC 5952: the first longest zero run');
  const mapped = parseProxyHeader(encodeProxyV2({ address: '::ffff:192.0.2.1', port: 1 }, { address: '::1', port: 2 }));
  assert.equal(mapped !== NEED_DATA && mapped.source?.address, '::ffff:192.0.2.1');
  const local = bytes(V2_SIGNATURE, [0x20, 0x00, 0x00, 0x00]);
  assert.deepEqual(parseProxyHeader(local), { consumed: 16, source: null, destination: null });
  const unspec = bytes(V2_SIGNATURE, [0x21, 0x00, 0x00, 0x02, 0xaa, 0xbb]);
  assert.deepEqual(parseProxyHeader(unspec), { consumed: 18, source: null, destination: null });
});

test('v2: refused for a bad version, command, transport or length; NEED_DATA until whole', () => {
  refused(bytes(V2_SIGNATURE, [0x11, 0x11, 0x00, 0x0c], Buffer.alloc(12)), /version 1/);
  refused(bytes(V2_SIGNATURE, [0x22, 0x11, 0x00, 0x0c], Buffer.alloc(12)), /command 2/);
  refused(bytes(V2_SIGNATURE, [0x21, 0x12, 0x00, 0x0c], Buffer.alloc(12)), /transport 2 is not a stream/);
  refused(bytes(V2_SIGNATURE, [0x21, 0x11, 0x00, 0x08], Buffer.alloc(8)), /8 bytes cannot hold IPv4/);
  refused(bytes(V2_SIGNATURE, [0x21, 0x21, 0x00, 0x0c], Buffer.alloc(12)), /12 bytes cannot hold IPv6/);
  refused(bytes(V2_SIGNATURE, [0x21, 0x41, 0x00, 0x00]), /address family 4/);
  refused(bytes(V2_SIGNATURE, [0x21, 0x11, 0xff, 0xff]), /over 4096/);
  const whole = encodeProxyV2({ address: '1.2.3.4', port: 5 }, { address: '6.7.8.9', port: 10 });
  for (let n = 1; n < whole.length; n++) assert.equal(parseProxyHeader(whole.subarray(0, n)), NEED_DATA, `${n} bytes`);
});

const ipv4 = fc.ipV4();
const ipv6 = fc
  .array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 })
  .map((g) => g.map((x) => x.toString(16)).join(':'));
const port = fc.integer({ min: 0, max: 65535 });

test('property: what the encoders write parses back, whole or cut anywhere, with the stream after it left alone', () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.boolean(),
      ipv4,
      ipv4,
      ipv6,
      ipv6,
      port,
      port,
      fc.uint8Array({ maxLength: 20 }),
      fc.nat(),
      (v2, six, a4, b4, a6, b6, sp, dp, rest, cut) => {
        const [src, dst] = six ? [a6, b6] : [a4, b4];
        const header = (v2 ? encodeProxyV2 : encodeProxyV1)({ address: src, port: sp }, { address: dst, port: dp });
        const stream = Buffer.concat([header, Buffer.from(rest)]);
        const got = parseProxyHeader(stream);
        assert.ok(got !== NEED_DATA);
        assert.equal(got.consumed, header.length);
        assert.equal(got.source?.port, sp);
        assert.equal(got.destination?.port, dp);
        // parsed addresses are canonical text of the same address
        assert.deepEqual(
          encodeProxyV2(got.source, got.destination).subarray(16, 16 + (six ? 32 : 8)),
          encodeProxyV2({ address: src, port: 0 }, { address: dst, port: 0 }).subarray(16, 16 + (six ? 32 : 8)),
        );
        assert.equal(
          parseProxyHeader(stream.subarray(0, cut % header.length)),
          NEED_DATA,
          'every proper prefix of a header waits for more',
        );
      },
    ),
    { numRuns: 300 },
  );
});

test("property: arbitrary bytes give NEED_DATA, a header, or the codec's own 400, nothing else", () => {
  const start = fc.oneof(fc.constant(V2_SIGNATURE), fc.constant(Buffer.from('PROXY ')), fc.constant(Buffer.alloc(0)));
  fc.assert(
    fc.property(start, fc.uint8Array({ maxLength: 150 }), (s, tail) => {
      try {
        const r = parseProxyHeader(Buffer.concat([s, Buffer.from(tail)]));
        if (r !== NEED_DATA) assert.ok(r.consumed <= s.length + tail.length);
      } catch (err) {
        assert.ok(err instanceof RemoteProtocolError && err.status === 400, String(err));
      }
    }),
    { numRuns: 2000 },
  );
});
