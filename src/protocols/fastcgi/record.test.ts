import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NEED_DATA } from '../need-data.js';
import {
  FCGI_KEEP_CONN,
  HEADER_LEN,
  MAX_ALIGNED_CONTENT,
  MAX_CONTENT,
  ProtocolStatus,
  RecordReader,
  RecordType,
  Role,
  beginRequestBody,
  encodeRecord,
  encodeStream,
  endRequestBody,
  parseBeginRequest,
  parseEndRequest,
  unknownTypeBody,
} from './record.js';
import { encodeParams } from './params.js';

type Seen = [number, number, string];

function readAll(chunks: Buffer[]): Seen[] {
  const r = new RecordReader();
  const out: Seen[] = [];
  for (const c of chunks) {
    r.receive(c);
    for (let rec = r.next(); rec !== NEED_DATA; rec = r.next()) out.push([rec.type, rec.requestId, rec.content.toString('hex')]);
  }
  assert.equal(r.bufferedBytes, 0);
  return out;
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('the records nginx sends for a GET, byte for byte', () => {
  const stream = Buffer.concat([
    hex('01 01 0001 0008 00 00   0001 01 0000000000'), // BEGIN_REQUEST id 1: RESPONDER, KEEP_CONN
    hex('01 04 0001 000e 02 00'),
    Buffer.from('\x0b\x01SCRIPT_NAMEx', 'latin1'),
    hex('0000'), // PARAMS, 2 bytes of padding
    hex('01 04 0001 0000 00 00'), // end of PARAMS
    hex('01 05 0001 0000 00 00'), // end of STDIN
  ]);
  const want: Seen[] = [
    [RecordType.BeginRequest, 1, '0001010000000000'],
    [RecordType.Params, 1, Buffer.from('\x0b\x01SCRIPT_NAMEx', 'latin1').toString('hex')],
    [RecordType.Params, 1, ''],
    [RecordType.Stdin, 1, ''],
  ];
  assert.deepEqual(readAll([stream]), want);
  assert.deepEqual(parseBeginRequest(hex('0001010000000000')), { role: Role.Responder, keepConn: true });
  // and we encode the same bytes
  assert.deepEqual(encodeRecord(RecordType.BeginRequest, 1, beginRequestBody(Role.Responder, FCGI_KEEP_CONN)), stream.subarray(0, 16));
  assert.deepEqual(encodeRecord(RecordType.Params, 1, encodeParams([['SCRIPT_NAME', 'x']])), stream.subarray(16, 40));
});

test('records come out the same however the stream is split', () => {
  const stream = Buffer.concat([
    encodeRecord(RecordType.BeginRequest, 7, beginRequestBody(Role.Responder, 0)),
    ...encodeStream(
      RecordType.Params,
      7,
      encodeParams([
        ['A', 'b'.repeat(300)],
        ['REQUEST_METHOD', 'POST'],
      ]),
    ),
    ...encodeStream(RecordType.Params, 7, Buffer.alloc(0)),
    ...encodeStream(RecordType.Stdin, 7, Buffer.alloc(70_000, 0x61)),
    encodeRecord(RecordType.Stdin, 7),
    encodeRecord(RecordType.GetValues, 0, encodeParams([['FCGI_MPXS_CONNS', '']])),
  ]);
  const whole = readAll([stream]);
  assert.deepEqual(
    whole.map(([t]) => t),
    [1, 4, 4, 5, 5, 5, 9],
  );
  assert.deepEqual(readAll([...stream].map((b) => Buffer.of(b))), whole, 'byte by byte');
  for (let seed = 1; seed <= 20; seed++) {
    const chunks: Buffer[] = [];
    let x = seed;
    for (let off = 0; off < stream.length; ) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      const n = 1 + (x % 9000);
      chunks.push(stream.subarray(off, off + n));
      off += n;
    }
    assert.deepEqual(readAll(chunks), whole, `random split ${seed}`);
  }
});

test('records are padded to a multiple of 8; streams are cut at the largest aligned size', () => {
  for (const size of [0, 1, 7, 8, 9, 1000, MAX_CONTENT]) {
    const rec = encodeRecord(RecordType.Stdout, 3, Buffer.alloc(size, 1));
    assert.equal(rec.length % 8, 0, `${size} bytes`);
    assert.equal(rec.readUInt16BE(4), size);
    assert.equal(rec[6], rec.length - HEADER_LEN - size);
  }
  assert.throws(() => encodeRecord(RecordType.Stdout, 3, Buffer.alloc(MAX_CONTENT + 1)), RangeError);
  const parts = encodeStream(RecordType.Stdout, 3, Buffer.alloc(2 * MAX_ALIGNED_CONTENT + 5));
  assert.deepEqual(
    parts.map((p) => p.readUInt16BE(4)),
    [MAX_ALIGNED_CONTENT, MAX_ALIGNED_CONTENT, 5],
  );
  assert.deepEqual(
    encodeStream(RecordType.Stdout, 3, Buffer.alloc(0)).map((p) => p.length),
    [HEADER_LEN],
  );
});

test('a version other than 1 is refused at its first byte, and the reader stays failed', () => {
  const r = new RecordReader();
  r.receive(Buffer.of(2));
  assert.throws(() => r.next(), { code: 'ERR_FCGI_BAD_RECORD', status: 400 });
  assert.throws(() => r.next(), { code: 'ERR_FCGI_BAD_RECORD' });
  const late = new RecordReader();
  late.receive(Buffer.concat([encodeRecord(RecordType.Stdin, 1), hex('00 05 0001 0000 00 00')]));
  assert.equal((late.next() as { type: number }).type, RecordType.Stdin);
  assert.throws(() => late.next(), /version 0, expected 1/);
});

test('BEGIN_REQUEST, END_REQUEST and UNKNOWN_TYPE bodies', () => {
  assert.deepEqual(parseBeginRequest(beginRequestBody(Role.Filter, 0)), { role: Role.Filter, keepConn: false });
  assert.throws(() => parseBeginRequest(Buffer.alloc(7)), { code: 'ERR_FCGI_BAD_RECORD' });
  assert.deepEqual(endRequestBody(0, ProtocolStatus.RequestComplete), hex('0000000000000000'));
  assert.deepEqual(parseEndRequest(endRequestBody(0xfffffffe, ProtocolStatus.UnknownRole)), { appStatus: 0xfffffffe, protocolStatus: 3 });
  assert.throws(() => parseEndRequest(Buffer.alloc(9)), { code: 'ERR_FCGI_BAD_RECORD' });
  assert.deepEqual(unknownTypeBody(42), hex('2a00000000000000'));
});
