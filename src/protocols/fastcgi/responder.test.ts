import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NEED_DATA } from '../need-data.js';
import { decodeParams, encodeParams } from './params.js';
import {
  FCGI_KEEP_CONN,
  ProtocolStatus,
  RecordReader,
  RecordType,
  Role,
  beginRequestBody,
  encodeRecord,
  encodeStream,
  parseEndRequest,
  type FcgiRecord,
} from './record.js';
import { Responder, type FcgiEvent } from './responder.js';

const limits = { maxParamsBytes: 4096, maxRequests: 4 };
const begin = (id: number, role = Role.Responder, flags = FCGI_KEEP_CONN): Buffer =>
  encodeRecord(RecordType.BeginRequest, id, beginRequestBody(role, flags));
const params = (id: number, pairs: [string, string][]): Buffer[] => [
  ...encodeStream(RecordType.Params, id, encodeParams(pairs)),
  encodeRecord(RecordType.Params, id),
];
const stdin = (id: number, body: string): Buffer[] => [
  ...(body ? encodeStream(RecordType.Stdin, id, Buffer.from(body)) : []),
  encodeRecord(RecordType.Stdin, id),
];

function events(r: Responder, bytes: Buffer[]): FcgiEvent[] {
  const out: FcgiEvent[] = [];
  r.receive(Buffer.concat(bytes));
  for (let ev = r.next(); ev !== NEED_DATA; ev = r.next()) out.push(ev.kind === 'stdin' ? { ...ev, data: Buffer.from(ev.data) } : ev);
  return out;
}

function records(bytes: Buffer[]): FcgiRecord[] {
  const reader = new RecordReader();
  reader.receive(Buffer.concat(bytes));
  const out: FcgiRecord[] = [];
  for (let rec = reader.next(); rec !== NEED_DATA; rec = reader.next()) out.push(rec);
  return out;
}

test('a GET as nginx sends it: the params become a request, the empty STDIN its end', () => {
  const r = new Responder(limits);
  const got = events(r, [
    begin(1),
    ...params(1, [
      ['REQUEST_METHOD', 'GET'],
      ['SCRIPT_NAME', ''],
      ['PATH_INFO', '/x'],
    ]),
    ...stdin(1, ''),
  ]);
  assert.deepEqual(got, [
    {
      kind: 'request',
      id: 1,
      params: [
        ['REQUEST_METHOD', 'GET'],
        ['SCRIPT_NAME', ''],
        ['PATH_INFO', '/x'],
      ],
      keepConn: true,
    },
    { kind: 'stdin-end', id: 1 },
  ]);
  const { bytes, keepConn } = r.end(1);
  assert.equal(keepConn, true);
  assert.deepEqual(
    records(bytes).map((x) => [x.type, x.requestId, x.content.length]),
    [
      [RecordType.Stdout, 1, 0],
      [RecordType.EndRequest, 1, 8],
    ],
  );
  assert.equal(r.active, 0);
});

test('a whole response ends its request in one buffer while it fits one record with a body under 4 KiB; else in several', () => {
  const head = 'Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n';
  // body sizes around the padding (multiples of 8) and GATHER_MIN, and a body over one record
  for (const size of [0, 1, 7, 8, 4095 - head.length, 4095, 4096, 70_000]) {
    const r = new Responder(limits);
    events(r, [begin(3), ...params(3, [['A', 'b']]), ...stdin(3, '')]);
    const body = [Buffer.alloc(size >> 1, 'a'), Buffer.alloc(size - (size >> 1), 'b')];
    const { bytes, keepConn } = r.end(3, 7, ProtocolStatus.RequestComplete, { head, body, bodyBytes: size });
    assert.equal(keepConn, true);
    assert.equal(bytes.length === 1, size < 4096, `${size}: ${bytes.length} buffers`);
    const recs = records(bytes);
    const out = recs.slice(0, -2);
    assert.ok(out.every((x) => x.type === RecordType.Stdout && x.requestId === 3 && x.content.length > 0));
    assert.equal(
      Buffer.concat(out.map((x) => x.content)).toString('latin1'),
      head + 'a'.repeat(size >> 1) + 'b'.repeat(size - (size >> 1)),
    );
    assert.deepEqual(
      recs.slice(-2).map((x) => [x.type, x.requestId, x.content.length]),
      [
        [RecordType.Stdout, 3, 0],
        [RecordType.EndRequest, 3, 8],
      ],
    );
    assert.deepEqual(parseEndRequest(recs.at(-1)!.content), { appStatus: 7, protocolStatus: ProtocolStatus.RequestComplete });
    assert.equal(Buffer.concat(bytes).length % 8, 0, 'records padded to 8 bytes');
  }
});

test('two requests multiplexed on one connection keep their params and bodies apart', () => {
  const r = new Responder(limits);
  const got = events(r, [
    begin(1),
    begin(2, Role.Responder, 0),
    ...params(2, [['REQUEST_METHOD', 'POST']]),
    ...params(1, [['REQUEST_METHOD', 'PUT']]),
    encodeRecord(RecordType.Stdin, 1, Buffer.from('one-a')),
    encodeRecord(RecordType.Stdin, 2, Buffer.from('two')),
    encodeRecord(RecordType.Stdin, 1, Buffer.from('one-b')),
    encodeRecord(RecordType.Stdin, 2),
    encodeRecord(RecordType.Stdin, 1),
  ]);
  const body = (id: number): string =>
    got
      .filter((e) => e.kind === 'stdin' && e.id === id)
      .map((e) => (e as { data: Buffer }).data.toString())
      .join('');
  assert.equal(body(1), 'one-aone-b');
  assert.equal(body(2), 'two');
  assert.deepEqual(
    got.filter((e) => e.kind === 'request').map((e) => [e.id, (e as { keepConn: boolean }).keepConn]),
    [
      [2, false],
      [1, true],
    ],
  );
  assert.deepEqual(
    got.filter((e) => e.kind === 'stdin-end').map((e) => e.id),
    [2, 1],
  );
  assert.equal(r.end(2).keepConn, false);
});

test('another role, or one request too many, is refused with END_REQUEST; its records are ignored', () => {
  const r = new Responder({ ...limits, maxRequests: 1 });
  const got = events(r, [begin(1, Role.Authorizer), ...params(1, [['A', 'b']]), begin(2), begin(3), ...params(3, [['A', 'b']])]);
  assert.deepEqual(got, []);
  const replies = records(r.takeReplies());
  assert.deepEqual(
    replies.map((x) => [x.type, x.requestId, parseEndRequest(x.content).protocolStatus]),
    [
      [RecordType.EndRequest, 1, ProtocolStatus.UnknownRole],
      [RecordType.EndRequest, 3, ProtocolStatus.Overloaded],
    ],
  );
  assert.equal(r.active, 1);
});

test('management records: GET_VALUES is answered with what we know, other types with UNKNOWN_TYPE', () => {
  const r = new Responder(limits);
  events(r, [
    encodeRecord(
      RecordType.GetValues,
      0,
      encodeParams([
        ['FCGI_MPXS_CONNS', ''],
        ['FCGI_MAX_REQS', ''],
        ['NOPE', ''],
      ]),
    ),
    encodeRecord(42, 0),
  ]);
  const [values, unknown] = records(r.takeReplies());
  assert.equal(values!.type, RecordType.GetValuesResult);
  assert.deepEqual(decodeParams(values!.content), [
    ['FCGI_MPXS_CONNS', '1'],
    ['FCGI_MAX_REQS', '4'],
  ]);
  assert.equal(unknown!.type, RecordType.UnknownType);
  assert.equal(unknown!.content[0], 42);
});

test('GET_VALUES for names that Object.prototype has (valueOf, __proto__, …) ignores them like any unknown name', () => {
  // found by test/fuzz/fastcgi.test.ts: `name in known` saw inherited properties, and
  // encoding their values threw a TypeError (valueOf, toString) or a RangeError (__proto__)
  const r = new Responder(limits);
  const names = ['valueOf', 'toString', '__proto__', 'constructor', 'hasOwnProperty', 'FCGI_MAX_REQS'];
  events(r, [encodeRecord(RecordType.GetValues, 0, encodeParams(names.map((n) => [n, ''])))]);
  const [values] = records(r.takeReplies());
  assert.equal(values!.type, RecordType.GetValuesResult);
  assert.deepEqual(decodeParams(values!.content), [['FCGI_MAX_REQS', '4']]);
});

test('ABORT_REQUEST becomes an abort event', () => {
  const r = new Responder(limits);
  const got = events(r, [begin(5), ...params(5, [['A', 'b']]), encodeRecord(RecordType.AbortRequest, 5)]);
  assert.deepEqual(
    got.map((e) => e.kind),
    ['request', 'abort'],
  );
});

test('broken sequences are refused: a second BEGIN, STDIN before the params end, PARAMS after, params too large', () => {
  const cases: [Buffer[], RegExp | object][] = [
    [[begin(1), begin(1)], /already open/],
    [[begin(1), encodeRecord(RecordType.Stdin, 1, Buffer.from('x'))], /before its params ended/],
    [[begin(1), ...params(1, [['A', 'b']]), encodeRecord(RecordType.Params, 1, Buffer.from('\x01\x01ab'))], /after its params ended/],
    [[begin(1), ...params(1, [['A', 'x'.repeat(5000)]])], { code: 'ERR_FCGI_BAD_PARAMS', status: 431 }],
    [[begin(1), encodeRecord(RecordType.Stdout, 1, Buffer.from('x'))], /record type 6 from the client/],
  ];
  for (const [bytes, err] of cases) assert.throws(() => events(new Responder(limits), bytes), err as RegExp);
});
