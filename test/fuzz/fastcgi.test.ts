// Property-based fuzzing of the FastCGI codecs: records (src/protocols/fastcgi/
// record.ts), name-value pairs (params.ts) and the responder role built on
// them (responder.ts), which is what any client that can reach a FastCGI
// listener talks to.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as fc from 'fast-check';
import { RemoteProtocolError, codes } from '../../src/errors.js';
import { NEED_DATA } from '../../src/protocols/need-data.js';
import { decodeParams, encodeParams } from '../../src/protocols/fastcgi/params.js';
import {
  HEADER_LEN,
  MAX_ALIGNED_CONTENT,
  MAX_CONTENT,
  RecordReader,
  RecordType,
  Role,
  beginRequestBody,
  encodeRecord,
  encodeStream,
  encodeStreamGathered,
  endRequestBody,
  parseBeginRequest,
  parseEndRequest,
  type FcgiRecord,
} from '../../src/protocols/fastcgi/record.js';
import { Responder, type FcgiEvent } from '../../src/protocols/fastcgi/responder.js';
import {
  bytes,
  check,
  cuts,
  edgyLength,
  interleave,
  latin1,
  latin1OfLength,
  mutated,
  onlyThrows,
  seeded,
  split,
  tokens,
} from './support.js';

// --- name-value pairs ---

const pairLength = edgyLength([127, 128, 255, 256, 65535, 65536], 30);
const pair: fc.Arbitrary<[string, string]> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(latin1({ maxLength: 20 }), latin1({ maxLength: 30 })) },
  { weight: 1, arbitrary: fc.tuple(pairLength.chain(latin1OfLength), pairLength.chain(latin1OfLength)) },
);
const pairs = fc.array(pair, { maxLength: 6 });

/** The length prefix our encoder must write for `n`: one byte below 128, four with the top bit set from 128. */
function lengthBytes(n: number): number[] {
  return n < 128 ? [n] : [((n >>> 24) & 0xff) | 0x80, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

describe('fuzz: FastCGI name-value pairs', () => {
  it(seeded('round trip: decodeParams(encodeParams(pairs)) == pairs, lengths canonical around 127/128 and 65535/65536'), () => {
    check(
      fc.property(pairs, (ps) => {
        const block = encodeParams(ps);
        assert.deepEqual(decodeParams(block), ps);
        let off = 0;
        for (const [n, v] of ps) {
          const want = [...lengthBytes(n.length), ...lengthBytes(v.length)];
          assert.deepEqual([...block.subarray(off, off + want.length)], want);
          off += want.length + n.length + v.length;
        }
        assert.equal(off, block.length);
      }),
      0.5,
    );
  });

  it(seeded('arbitrary and damaged blocks: only RemoteProtocolError; what decodes re-encodes to the same pairs'), () => {
    const PARAM_TOKENS = [
      '\x00',
      '\x01',
      '\x7f',
      '\x80',
      '\x80\x00\x00\x80',
      '\xff\xff\xff\xff',
      '\x80\x00\x00\x05',
      'A',
      'REQUEST_METHOD',
    ];
    const input = fc.oneof(bytes(40), mutated(pairs.map(encodeParams)), tokens(PARAM_TOKENS, 12));
    check(
      fc.property(input, (block) => {
        const r = onlyThrows(RemoteProtocolError, () => decodeParams(block));
        if (r instanceof RemoteProtocolError) {
          assert.equal(r.code, codes.FCGI_BAD_PARAMS);
          return;
        }
        assert.deepEqual(decodeParams(encodeParams(r)), r);
        // every byte belongs to some pair: the decoded sizes add up (a 4-byte length may encode a short one)
        const minimum = r.reduce((n, [k, v]) => n + 2 + k.length + v.length, 0);
        assert.ok(minimum <= block.length);
      }),
      4,
    );
  });
});

// --- records ---

interface Rec {
  type: number;
  requestId: number;
  content: Buffer;
  padding: number;
}
const contentLength = edgyLength([8, MAX_ALIGNED_CONTENT, MAX_CONTENT], 40);
const rec: fc.Arbitrary<Rec> = fc.record({
  type: fc.integer({ min: 0, max: 255 }),
  requestId: fc.oneof(fc.constantFrom(0, 1, 255, 256, 65535), fc.integer({ min: 0, max: 65535 })),
  content: contentLength.filter((n) => n <= MAX_CONTENT).chain((n) => bytes(n, n)),
  padding: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 255 })), // -1: as encodeRecord pads
});

/** A record as the spec allows it: any padding (encodeRecord pads to a multiple of 8; clients may not). */
function encodeRec(r: Rec): Buffer {
  if (r.padding < 0) return encodeRecord(r.type, r.requestId, r.content);
  const out = Buffer.alloc(HEADER_LEN + r.content.length + r.padding, 0xee);
  out[0] = 1;
  out[1] = r.type;
  out.writeUInt16BE(r.requestId, 2);
  out.writeUInt16BE(r.content.length, 4);
  out[6] = r.padding;
  r.content.copy(out, HEADER_LEN);
  return out;
}

type Seen = [number, number, string];
/** Read `reads` draining next() after each, within a bound; returns the records, the error code, the bytes left. */
function readRecords(reads: Buffer[]): { recs: Seen[]; error: string | null; left: number } {
  const r = new RecordReader();
  const recs: Seen[] = [];
  for (const read of reads) {
    r.receive(read);
    for (let budget = r.bufferedBytes / HEADER_LEN + 2; ; budget--) {
      assert.ok(budget > 0, 'next() never returned NEED_DATA');
      const got = onlyThrows(RemoteProtocolError, () => r.next());
      if (got instanceof RemoteProtocolError) {
        assert.equal(got.code, codes.FCGI_BAD_RECORD);
        assert.throws(() => r.next(), { code: codes.FCGI_BAD_RECORD }, 'a failed reader stays failed');
        return { recs, error: got.code, left: -1 };
      }
      if (got === NEED_DATA) break;
      recs.push([got.type, got.requestId, got.content.toString('latin1')]);
    }
    // never more than one record's worth is held: header, 64 KiB of content, 255 of padding
    assert.ok(r.bufferedBytes < HEADER_LEN + MAX_CONTENT + 255, `${r.bufferedBytes} bytes buffered`);
  }
  return { recs, error: null, left: r.bufferedBytes };
}

describe('fuzz: FastCGI records', () => {
  it(seeded('round trip: records (any type, id, padding; content around 8, 65528, 65535 bytes) read back, in any split'), () => {
    check(
      fc.property(fc.array(rec, { maxLength: 5 }), cuts, (recs, points) => {
        const data = Buffer.concat(recs.map(encodeRec));
        for (const r of recs) if (r.padding < 0) assert.equal(encodeRec(r).length % 8, 0, 'encodeRecord pads to 8');
        const want = { recs: recs.map((r): Seen => [r.type, r.requestId, r.content.toString('latin1')]), error: null, left: 0 };
        assert.deepEqual(readRecords([data]), want);
        assert.deepEqual(readRecords(split(data, points, true)), want, 'split');
      }),
      0.5,
    );
  });

  it(
    seeded(
      'encodeStream cuts data into records of at most 65528 bytes that join back; empty data is the end record; ' +
        'encodeStreamGathered gives the same bytes, without copying the data',
    ),
    () => {
      const data = edgyLength([MAX_ALIGNED_CONTENT, 2 * MAX_ALIGNED_CONTENT, MAX_CONTENT], 100).chain((n) => bytes(n, n));
      check(
        fc.property(data, fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 1, max: 255 }), (d, id, type) => {
          const parts = encodeStream(type, id, d);
          const { recs, error, left } = readRecords([Buffer.concat(parts)]);
          assert.equal(error, null);
          assert.equal(left, 0);
          assert.equal(recs.length, d.length === 0 ? 1 : Math.ceil(d.length / MAX_ALIGNED_CONTENT));
          for (const [t, i, c] of recs) {
            assert.deepEqual([t, i], [type, id]);
            assert.ok(c.length <= MAX_ALIGNED_CONTENT && (c.length > 0 || d.length === 0));
          }
          assert.equal(recs.map(([, , c]) => c).join(''), d.toString('latin1'));
          const gathered = encodeStreamGathered(type, id, d);
          assert.ok(Buffer.concat(gathered).equals(Buffer.concat(parts)));
          if (d.length > 0)
            assert.ok(
              gathered.some((b) => b.buffer === d.buffer),
              'the data itself is among the pieces',
            );
        }),
        0.2,
      );
    },
  );

  it(seeded('encodeRecord refuses content over 65535 bytes with RangeError, and only then'), () => {
    check(
      fc.property(fc.integer({ min: MAX_CONTENT - 2, max: MAX_CONTENT + 2 }), (n) => {
        const content = Buffer.alloc(n);
        if (n > MAX_CONTENT) assert.throws(() => encodeRecord(RecordType.Stdout, 1, content), RangeError);
        else assert.equal(encodeRecord(RecordType.Stdout, 1, content).readUInt16BE(4), n);
      }),
      0.05,
    );
  });

  it(seeded('BEGIN_REQUEST and END_REQUEST bodies round-trip; other sizes are RemoteProtocolError'), () => {
    check(
      fc.property(
        fc.integer({ min: 0, max: 65535 }),
        fc.integer({ min: 0, max: 255 }),
        fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff })).map(([hi, lo]) => hi * 0x10000 + lo),
        fc.integer({ min: 0, max: 255 }),
        bytes(12),
        (role, flags, appStatus, protocolStatus, junk) => {
          assert.deepEqual(parseBeginRequest(beginRequestBody(role, flags)), { role, keepConn: (flags & 1) === 1 });
          assert.deepEqual(parseEndRequest(endRequestBody(appStatus, protocolStatus)), { appStatus, protocolStatus });
          for (const parse of [parseBeginRequest, parseEndRequest]) {
            const r = onlyThrows(RemoteProtocolError, () => parse(junk));
            assert.equal(r instanceof RemoteProtocolError, junk.length !== 8);
          }
        },
      ),
      0.5,
    );
  });

  it(seeded('arbitrary and damaged streams: only RemoteProtocolError, bounded, the same in every split'), () => {
    const REC_TOKENS = [
      '\x01',
      '\x01\x01\x00\x01\x00\x08\x00\x00',
      '\x01\x05\x00\x01\x00\x00\x00\x00',
      '\x00\x00',
      '\xff\xff',
      '\x02',
      '\x07',
    ];
    const input = fc.oneof(
      bytes(60),
      tokens(REC_TOKENS, 10),
      mutated(fc.array(rec, { maxLength: 3 }).map((rs) => Buffer.concat(rs.map(encodeRec)))),
    );
    check(
      fc.property(input, cuts, (data, points) => {
        const whole = readRecords([data]);
        const cut = readRecords(split(data, points, true));
        // an error is found at the first byte of a bad header: records before it come out alike
        assert.deepEqual(cut, whole, 'split');
      }),
      2,
    );
  });
});

// --- the responder role ---

interface Request {
  id: number;
  keepConn: boolean;
  params: [string, string][];
  stdin: Buffer;
  paramCuts: number[];
  stdinCuts: number[];
}
const requestArb: fc.Arbitrary<Request> = fc.record({
  id: fc.integer({ min: 1, max: 65535 }),
  keepConn: fc.boolean(),
  params: fc.array(fc.tuple(latin1({ maxLength: 16 }), latin1({ maxLength: 40 })), { maxLength: 6 }),
  stdin: bytes(100),
  paramCuts: cuts,
  stdinCuts: cuts,
});

/** One request's records in order: BEGIN, PARAMS (cut anywhere) + empty PARAMS, STDIN (cut anywhere) + empty STDIN. */
function requestRecords(r: Request): Buffer[] {
  const block = encodeParams(r.params);
  const stream = (type: number, data: Buffer, points: number[]): Buffer[] => [
    ...split(data, points)
      .filter((p) => p.length > 0)
      .map((p) => encodeRecord(type, r.id, p)),
    encodeRecord(type, r.id),
  ];
  return [
    encodeRecord(RecordType.BeginRequest, r.id, beginRequestBody(Role.Responder, r.keepConn ? 1 : 0)),
    ...stream(RecordType.Params, block, r.paramCuts),
    ...stream(RecordType.Stdin, r.stdin, r.stdinCuts),
  ];
}

type Summary = { id: number; kind: string; params?: [string, string][]; keepConn?: boolean; data?: string };
/** Events, with consecutive STDIN data of one request joined (record boundaries carry no meaning). */
function drain(r: Responder, reads: Buffer[]): { events: Summary[]; replies: FcgiRecord[]; error: string | null; status: number } {
  const events: Summary[] = [];
  const replies: Buffer[] = [];
  let error: RemoteProtocolError | null = null;
  let received = 0;
  outer: for (const read of reads) {
    r.receive(read);
    received += read.length;
    // every event takes at least one whole record of its own
    for (let budget = received / HEADER_LEN + 2; ; budget--) {
      assert.ok(budget > 0, 'next() never returned NEED_DATA');
      const ev = onlyThrows(RemoteProtocolError, () => r.next());
      if (ev instanceof RemoteProtocolError) {
        error = ev;
        break outer;
      }
      if (ev === NEED_DATA) break;
      summarize(events, ev);
    }
    replies.push(...r.takeReplies());
  }
  replies.push(...r.takeReplies());
  const reader = new RecordReader();
  reader.receive(Buffer.concat(replies));
  const recs: FcgiRecord[] = [];
  for (let rec = reader.next(); rec !== NEED_DATA; rec = reader.next()) recs.push(rec);
  return { events, replies: recs, error: error?.code ?? null, status: error?.status ?? 0 };
}

function summarize(events: Summary[], ev: FcgiEvent): void {
  if (ev.kind === 'request') events.push({ id: ev.id, kind: 'request', params: ev.params, keepConn: ev.keepConn });
  else if (ev.kind === 'stdin') {
    assert.ok(ev.data.length > 0, 'empty stdin event');
    const last = [...events].reverse().find((e) => e.id === ev.id);
    if (last?.kind === 'stdin') last.data += ev.data.toString('latin1');
    else events.push({ id: ev.id, kind: 'stdin', data: ev.data.toString('latin1') });
  } else events.push({ id: ev.id, kind: ev.kind });
}

/**
 * Names a client may ask about in GET_VALUES: the spec's three, others, names that
 * Object.prototype has (the answer is looked up in an object), and any latin-1.
 */
const valueName = fc.oneof(
  fc.constantFrom('FCGI_MAX_CONNS', 'FCGI_MAX_REQS', 'FCGI_MPXS_CONNS', 'FCGI_OTHER', ''),
  fc.constantFrom('__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty'),
  latin1({ maxLength: 16 }),
);

describe('fuzz: FastCGI responder', () => {
  it(seeded('multiplexed requests (params and stdin cut into records anyhow, interleaved) come out whole, in any split'), () => {
    const reqs = fc.uniqueArray(requestArb, { minLength: 1, maxLength: 4, selector: (r) => r.id });
    check(
      fc.property(reqs, fc.array(fc.nat(), { maxLength: 40 }), cuts, (rs, picks, points) => {
        const data = Buffer.concat(interleave(rs.map(requestRecords), picks));
        const limits = { maxParamsBytes: 1 << 20, maxRequests: 4 };
        const want = (got: Summary[], id: number): Summary[] => got.filter((e) => e.id === id);
        const whole = drain(new Responder(limits), [data]);
        assert.equal(whole.error, null);
        assert.deepEqual(whole.replies, []);
        for (const r of rs) {
          assert.deepEqual(want(whole.events, r.id), [
            { id: r.id, kind: 'request', params: r.params, keepConn: r.keepConn },
            ...(r.stdin.length > 0 ? [{ id: r.id, kind: 'stdin', data: r.stdin.toString('latin1') }] : []),
            { id: r.id, kind: 'stdin-end' },
          ]);
        }
        assert.deepEqual(drain(new Responder(limits), split(data, points, true)), whole, 'split');
      }),
      2,
    );
  });

  it(seeded('GET_VALUES is answered with exactly the known names asked for'), () => {
    check(
      fc.property(fc.array(valueName, { maxLength: 6 }), (names) => {
        const r = new Responder({ maxParamsBytes: 4096, maxRequests: 7 });
        const got = drain(r, [encodeRecord(RecordType.GetValues, 0, encodeParams(names.map((n) => [n, ''])))]);
        assert.equal(got.error, null);
        assert.equal(got.replies.length, 1);
        assert.equal(got.replies[0]!.type, RecordType.GetValuesResult);
        const known: [string, string][] = [
          ['FCGI_MAX_CONNS', '1024'],
          ['FCGI_MAX_REQS', '7'],
          ['FCGI_MPXS_CONNS', '1'],
        ];
        assert.deepEqual(
          decodeParams(got.replies[0]!.content),
          names.flatMap((n) => known.filter(([k]) => k === n)),
        );
      }),
    );
  });

  it(seeded('a PARAMS stream over maxParamsBytes is refused with 431, one within it is not'), () => {
    check(
      fc.property(requestArb, fc.nat(300), (req, maxParamsBytes) => {
        const got = drain(new Responder({ maxParamsBytes, maxRequests: 1 }), requestRecords(req));
        const size = encodeParams(req.params).length;
        if (size > maxParamsBytes) assert.deepEqual([got.error, got.status], [codes.FCGI_BAD_PARAMS, 431]);
        else assert.equal(got.error, null);
      }),
    );
  });

  it(seeded('arbitrary record sequences and damaged streams: only RemoteProtocolError, the same in every split'), () => {
    const content = fc.oneof(
      bytes(20),
      fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 255 })).map(([role, flags]) => beginRequestBody(role, flags)),
      fc.array(fc.tuple(valueName, latin1({ maxLength: 8 }))).map(encodeParams),
    );
    const anyRecord = fc
      .tuple(fc.integer({ min: 0, max: 12 }), fc.constantFrom(0, 1, 2, 3), content)
      .map(([t, id, c]) => encodeRecord(t, id, c));
    const input = fc.oneof(
      { weight: 3, arbitrary: fc.array(anyRecord, { maxLength: 10 }).map((rs) => Buffer.concat(rs)) },
      { weight: 2, arbitrary: mutated(fc.array(requestArb, { maxLength: 2 }).map((rs) => Buffer.concat(rs.flatMap(requestRecords)))) },
      { weight: 1, arbitrary: bytes(40) },
    );
    check(
      fc.property(
        input,
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 3 }),
        cuts,
        (data, maxParamsBytes, maxRequests, points) => {
          const limits = { maxParamsBytes, maxRequests };
          const whole = drain(new Responder(limits), [data]);
          if (whole.error !== null) assert.ok([codes.FCGI_BAD_RECORD, codes.FCGI_BAD_PARAMS].includes(whole.error as never));
          assert.deepEqual(drain(new Responder(limits), split(data, points, true)), whole, 'split');
        },
      ),
      4,
    );
  });
});
