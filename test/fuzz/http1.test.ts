// Property-based fuzzing of the HTTP/1.1 codecs: the request parser
// (src/protocols/http1/parse.ts), the chunked decoder (chunked.ts) and the
// framing we write (serialize.ts: chunkPrefix, LAST_CHUNK).
//
// Requests are generated from a model (method, target, version, fields, Host,
// Connection, Expect, no body / Content-Length / chunked with extensions and
// trailers, pipelined) and must parse back to exactly that model however the
// bytes are cut into reads. Arbitrary and damaged bytes must give the same
// result in every split (the parser's Rule 2), throw nothing but
// RemoteProtocolError, end in NEED_DATA within a bounded number of next()
// calls, and never leave more than maxHeaderBytes buffered.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as fc from 'fast-check';
import { RemoteProtocolError, codes } from '../../src/errors.js';
import { ChunkedDecoder } from '../../src/protocols/http1/chunked.js';
import { NEED_DATA, RequestParser, defaultLimits, type Limits, type RequestHead } from '../../src/protocols/http1/parse.js';
import { LAST_CHUNK, chunkPrefix } from '../../src/protocols/http1/serialize.js';
import { bytes, check, cuts, latin1, mutated, onlyThrows, seeded, split, stringOf, tokens } from './support.js';

const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const token = (max = 12): fc.Arbitrary<string> => stringOf(TCHARS, { minLength: 1, maxLength: max });
const ows = stringOf(' \t', { maxLength: 2 });
/** A field value as the parser returns it: field-vchar / obs-text, inner SP/HTAB, none at the ends. */
const fieldValue = latin1({ maxLength: 24 }).map((s) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, '-').replace(/^[ \t]+|[ \t]+$/g, ''));
const SPECIAL = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'expect']);

// --- a request model ---

interface Chunking {
  sizes: number[];
  digits: number[];
  upper: boolean[];
  exts: string[];
  lastZeros: number;
  trailers: [string, string][];
}
interface Req {
  method: string;
  target: string;
  minor: 0 | 1;
  fields: [string, string, string, string][]; // name, value, OWS before, OWS after
  host: string | null;
  hostName: string;
  conn: string | null;
  expect: boolean;
  framing: 'none' | 'cl' | 'chunked';
  clZeros: number;
  body: Buffer;
  chunking: Chunking;
  order: number[];
}

const chunkExt = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(';a', ';a=b', ' ;a', '\t;\ta = b', ';a="q\\"x"', ';x="\x80\xff"', ';a;b=c;d="e;f"', ";!#$%&'*+-.^_`|~=~"),
  },
);
const host = fc
  .tuple(
    stringOf("0123456789AZaz.-_~!$&'()*+,;=", { maxLength: 12 }),
    fc.option(fc.constantFrom('%41', '%fF')),
    fc.option(stringOf('0123456789', { maxLength: 5 })),
  )
  .map(([name, pct, port]) => `${name}${pct ?? ''}${port === null ? '' : `:${port}`}`);
const chunking: fc.Arbitrary<Chunking> = fc.record({
  sizes: fc.array(fc.nat(40), { maxLength: 6 }),
  digits: fc.array(fc.nat(3), { minLength: 6, maxLength: 6 }),
  upper: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
  exts: fc.array(chunkExt, { minLength: 7, maxLength: 7 }),
  lastZeros: fc.integer({ min: 1, max: 3 }),
  trailers: fc.array(fc.tuple(token(), fieldValue), { maxLength: 2 }),
});
const request: fc.Arbitrary<Req> = fc
  .record({
    method: token(10),
    target: latin1({ minLength: 1, maxLength: 30 }).map((s) => s.replace(/[^\x21-\x7e\x80-\xff]/g, '/')),
    minor: fc.constantFrom<0 | 1>(0, 1),
    fields: fc.array(
      fc.tuple(
        token().filter((n) => !SPECIAL.has(n.toLowerCase())),
        fieldValue,
        ows,
        ows,
      ),
      { maxLength: 6 },
    ),
    host: fc.option(host, { freq: 8 }),
    hostName: fc.mixedCase(fc.constant('host')),
    conn: fc.option(fc.constantFrom('close', 'Keep-Alive', 'keep-alive, Upgrade', 'x ,\tclose', 'CLOSE,keep-alive', 'upgrade')),
    expect: fc.boolean(),
    framing: fc.constantFrom<Req['framing']>('none', 'cl', 'chunked'),
    clZeros: fc.nat(3),
    body: bytes(60),
    chunking,
    order: fc.array(fc.nat(), { minLength: 10, maxLength: 10 }),
  })
  .map((r) => {
    if (r.minor === 1 && r.host === null) r.host = '';
    if (r.minor === 0 && r.framing === 'chunked') r.framing = 'cl';
    if (r.framing === 'none') r.body = Buffer.alloc(0);
    return r;
  });

/** The field lines of `r` in order: extras with the special fields slotted in at `order`. */
function fieldLines(r: Req): [string, string, string][] {
  const lines: [string, string, string][] = r.fields.map(([n, v, a, b]) => [n, v, `${n}:${a}${v}${b}`]);
  const specials: [string, string][] = [];
  if (r.host !== null) specials.push([r.hostName, r.host]);
  if (r.conn !== null) specials.push(['Connection', r.conn]);
  if (r.expect) specials.push(['Expect', '100-continue']);
  if (r.framing === 'cl') specials.push(['Content-Length', '0'.repeat(r.clZeros) + r.body.length]);
  if (r.framing === 'chunked') specials.push(['Transfer-Encoding', 'chunked']);
  specials.forEach(([n, v], i) => lines.splice(r.order[i]! % (lines.length + 1), 0, [n, v, `${n}: ${v}`]));
  return lines;
}

function encodeBody(r: Req): Buffer {
  if (r.framing !== 'chunked') return r.body;
  const c = r.chunking;
  const out: Buffer[] = [];
  let off = 0;
  for (let i = 0; off < r.body.length; i++) {
    const size = i < c.sizes.length ? Math.min(Math.max(1, c.sizes[i]!), r.body.length - off) : r.body.length - off;
    let line: string;
    if (c.exts[i % 7] === '' && c.digits[i % 6] === 0)
      line = chunkPrefix(size); // what we send ourselves
    else {
      const hex = size.toString(16);
      line = `${'0'.repeat(c.digits[i % 6]!)}${c.upper[i % 6] ? hex.toUpperCase() : hex}${c.exts[i % 7]}\r\n`;
    }
    out.push(Buffer.from(line, 'latin1'), r.body.subarray(off, off + size), Buffer.from('\r\n'));
    off += size;
  }
  if (c.lastZeros === 1 && c.exts[6] === '' && c.trailers.length === 0) out.push(LAST_CHUNK);
  else {
    const trailers = c.trailers.map(([n, v]) => `${n}: ${v}\r\n`).join('');
    out.push(Buffer.from(`${'0'.repeat(c.lastZeros)}${c.exts[6]}\r\n${trailers}\r\n`, 'latin1'));
  }
  return Buffer.concat(out);
}

function encode(r: Req): Buffer {
  const head = `${r.method} ${r.target} HTTP/1.${r.minor}\r\n${fieldLines(r)
    .map((l) => `${l[2]}\r\n`)
    .join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), encodeBody(r)]);
}

function expectedHead(r: Req): RequestHead {
  const tokens =
    r.conn === null
      ? []
      : r.conn
          .toLowerCase()
          .split(',')
          .map((t) => t.trim());
  const close = tokens.includes('close');
  return {
    kind: 'request',
    method: r.method,
    target: r.target,
    minor: r.minor,
    // biome-ignore lint/complexity/noFlatMapIdentity: not the identity: each line's text is left out
    headers: fieldLines(r).flatMap(([n, v]) => [n, v]),
    contentLength: r.framing === 'chunked' ? -1 : r.body.length,
    chunked: r.framing === 'chunked',
    keepAlive: r.minor === 1 ? !close : tokens.includes('keep-alive') && !close,
    expectContinue: r.minor === 1 && r.expect,
    host: r.host,
  };
}

// --- running the parser ---

interface Message {
  head: RequestHead;
  body: string;
  ended: boolean;
}
interface Outcome {
  messages: Message[];
  error: string | null;
  status: number;
  buffered: number;
}

/** Feed `reads`, draining next() after each; asserts every drain ends in NEED_DATA within a bound. */
function parse(reads: Buffer[], limits: Limits = defaultLimits): Outcome {
  const p = new RequestParser(limits);
  const messages: Message[] = [];
  const out = (error: RemoteProtocolError | null): Outcome => ({
    messages,
    error: error?.code ?? null,
    status: error?.status ?? 0,
    buffered: error ? 0 : p.bufferedBytes,
  });
  for (const read of reads) {
    p.receive(read);
    // every event but EndOfMessage consumes a byte; EndOfMessage follows one that did
    let budget = 2 * p.bufferedBytes + 4;
    for (;;) {
      assert.ok(budget-- > 0, 'next() never returned NEED_DATA');
      const ev = onlyThrows(RemoteProtocolError, () => p.next());
      if (ev instanceof RemoteProtocolError) {
        assert.ok([400, 413, 414, 417, 431, 501, 505].includes(ev.status), `status ${ev.status}`);
        assert.throws(
          () => p.next(),
          (e) => e === ev,
          'a dead parser rethrows its error',
        );
        return out(ev);
      }
      if (ev === NEED_DATA) break;
      if (ev.kind === 'request') messages.push({ head: ev, body: '', ended: false });
      else if (ev.kind === 'data') {
        assert.ok(ev.chunk.length > 0, 'zero-length Data');
        messages.at(-1)!.body += ev.chunk.toString('latin1');
      } else messages.at(-1)!.ended = true;
    }
    assert.ok(
      p.bufferedBytes <= limits.maxHeaderBytes,
      `${p.bufferedBytes} bytes buffered at NEED_DATA (maxHeaderBytes ${limits.maxHeaderBytes})`,
    );
  }
  return out(null);
}

const limitsArb: fc.Arbitrary<Limits> = fc.oneof(
  fc.constant(defaultLimits),
  fc.record({
    maxRequestLine: fc.integer({ min: 1, max: 60 }),
    maxHeaderFields: fc.nat(6),
    maxFieldSize: fc.integer({ min: 1, max: 40 }),
    maxHeaderBytes: fc.integer({ min: 1, max: 200 }),
    maxBodyBytes: fc.oneof(fc.nat(60), fc.constant(Infinity)),
    maxChunkLine: fc.integer({ min: 1, max: 12 }),
  }),
);

const HTTP_TOKENS = [
  'GET / HTTP/1.1\r\n',
  'POST /x HTTP/1.0\r\n',
  'Host: h\r\n',
  'Content-Length: 3\r\n',
  'Content-Length: 0\r\n',
  'Transfer-Encoding: chunked\r\n',
  'Transfer-Encoding: gzip, chunked\r\n',
  'Connection: close\r\n',
  'Expect: 100-continue\r\n',
  '\r\n',
  '\r',
  '\n',
  ' ',
  '\t',
  ':',
  '\0',
  'abc',
  '3\r\nabc\r\n',
  '0\r\n',
  '0\r\n\r\n',
  ';a="b"',
  'T: v\r\n',
  'HTTP/1.1',
  'HTTP/2.0',
  'ffffffffffffffffff',
  '\xff',
];

describe('fuzz: HTTP/1.1 request parser', () => {
  it(seeded('round trip: pipelined requests from the model parse back to the model, whole and in any split'), () => {
    check(
      fc.property(fc.array(request, { minLength: 1, maxLength: 3 }), cuts, (reqs, points) => {
        const data = Buffer.concat(reqs.map(encode));
        const want: Outcome = {
          messages: reqs.map((r) => ({ head: expectedHead(r), body: r.body.toString('latin1'), ended: true })),
          error: null,
          status: 0,
          buffered: 0,
        };
        assert.deepEqual(parse([data]), want);
        assert.deepEqual(parse(split(data, points, true)), want, 'split');
      }),
      3,
    );
  });

  it(seeded('arbitrary and damaged bytes: only RemoteProtocolError, bounded, the same result in every split'), () => {
    const input = fc.oneof(
      { weight: 1, arbitrary: bytes(80) },
      { weight: 3, arbitrary: mutated(fc.array(request, { minLength: 1, maxLength: 2 }).map((rs) => Buffer.concat(rs.map(encode)))) },
      { weight: 2, arbitrary: tokens(HTTP_TOKENS) },
    );
    check(
      fc.property(input, limitsArb, cuts, (data, limits, points) => {
        const whole = parse([data], limits);
        assert.deepEqual(parse(split(data, points), limits), whole, 'split');
        if (data.length <= 300)
          assert.deepEqual(
            parse(
              [...data].map((b) => Buffer.of(b)),
              limits,
            ),
            whole,
            'byte by byte',
          );
      }),
      6,
    );
  });

  it(seeded('never buffers past maxHeaderBytes: an endless head or trailer section, or chunk line, is refused in time'), () => {
    // field lines of random lengths (some over maxFieldSize) and never the empty line
    const endless = fc.record({
      where: fc.constantFrom('head', 'trailer', 'chunk-line', 'request-line'),
      lines: fc.array(fc.oneof(fc.nat(700), fc.integer({ min: 8000, max: 9000 })), { minLength: 1, maxLength: 30 }),
      fill: fc.constantFrom('a', 'Z', '\x80'),
      points: cuts,
    });
    check(
      fc.property(endless, ({ where, lines, fill, points }) => {
        const limits = defaultLimits;
        let prefix = '';
        if (where === 'head') prefix = 'GET / HTTP/1.1\r\n';
        if (where === 'trailer') prefix = 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n';
        if (where === 'chunk-line') prefix = 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a=';
        if (where === 'request-line') prefix = 'GET /';
        const parts = [prefix];
        let size = prefix.length;
        for (let i = 0; size <= limits.maxHeaderBytes + prefix.length + 1; i++) {
          const n = lines[i % lines.length]!;
          const line = where === 'head' || where === 'trailer' ? `X${i}: ${fill.repeat(n)}\r\n` : 'x'.repeat(n + 1);
          parts.push(line);
          size += line.length;
        }
        const data = Buffer.from(parts.join(''), 'latin1');
        const p = new RequestParser(limits);
        let fed = 0;
        for (const read of split(data, points)) {
          p.receive(read);
          fed += read.length;
          for (;;) {
            const ev = onlyThrows(RemoteProtocolError, () => p.next());
            if (ev instanceof RemoteProtocolError) {
              const want = { head: [431], trailer: [431], 'chunk-line': [400], 'request-line': [414] }[where];
              assert.ok(want.includes(ev.status), `${where}: ${ev.status} ${ev.code}`);
              return;
            }
            if (ev === NEED_DATA) break;
          }
          assert.ok(p.bufferedBytes <= limits.maxHeaderBytes, `${p.bufferedBytes} bytes buffered`);
        }
        assert.fail(`${fed} bytes of an endless ${where} accepted`);
      }),
      0.1,
    );
  });
});

// --- the chunked decoder on its own ---

type ChunkOutcome = { data: string; rest: number; error: string | null };

/** Decode `reads`; `rest` is the stream offset where the trailer section starts, or -1. */
function dechunk(reads: Buffer[], maxBody = Infinity, maxLine = 4096): ChunkOutcome {
  const dec = new ChunkedDecoder(maxBody, maxLine);
  let data = '';
  let base = 0;
  for (const read of reads) {
    let pos = 0;
    while (pos < read.length) {
      const r = onlyThrows(RemoteProtocolError, () => dec.step(read, pos));
      if (r instanceof RemoteProtocolError) return { data, rest: -1, error: r.code };
      assert.ok(r > pos || dec.done, `step(${pos}) made no progress`);
      assert.ok(r <= read.length);
      pos = r;
      if (dec.data !== null) {
        assert.ok(dec.data.length > 0, 'empty chunk data');
        data += dec.data.toString('latin1');
        dec.data = null;
      } else if (!dec.done) assert.equal(pos, read.length, 'stopped early without data or done');
      if (dec.done) return { data, rest: base + pos, error: null };
    }
    base += read.length;
  }
  return { data, rest: -1, error: null };
}

describe('fuzz: chunked transfer coding', () => {
  it(seeded('round trip: chunkPrefix/LAST_CHUNK framing (and extensions, leading zeros) decodes to the data, in any split'), () => {
    const r = fc.record({ body: bytes(200), chunking, tail: bytes(10) });
    check(
      fc.property(r, cuts, ({ body, chunking, tail }, points) => {
        const req = { framing: 'chunked', body, chunking } as Req;
        const enc = encodeBody(req);
        const trailerStart =
          enc.length -
          (chunking.lastZeros === 1 && chunking.exts[6] === '' && chunking.trailers.length === 0
            ? 2
            : Buffer.byteLength(chunking.trailers.map(([n, v]) => `${n}: ${v}\r\n`).join('') + '\r\n', 'latin1'));
        const data = Buffer.concat([enc, tail]);
        const want = { data: body.toString('latin1'), rest: trailerStart, error: null };
        assert.deepEqual(dechunk([data]), want);
        assert.deepEqual(dechunk(split(data, points)), want, 'split');
      }),
      2,
    );
  });

  it(seeded('arbitrary and damaged bytes: only RemoteProtocolError, always progress, the same in every split'), () => {
    const CHUNK_TOKENS = [
      '0',
      '1',
      '5',
      'a',
      'F',
      '\r\n',
      '\r',
      '\n',
      ';',
      '=',
      '"',
      '\\',
      ' ',
      '\t',
      'x',
      'hello',
      '0\r\n',
      '5\r\nhello\r\n',
      'ffffffff',
    ];
    const input = fc.oneof(
      bytes(60),
      tokens(CHUNK_TOKENS),
      mutated(fc.record({ body: bytes(60), chunking }).map((x) => encodeBody({ framing: 'chunked', ...x } as Req))),
    );
    const limits = fc.tuple(fc.oneof(fc.constant(Infinity), fc.nat(80)), fc.integer({ min: 1, max: 4096 }));
    check(
      fc.property(input, limits, cuts, (data, [maxBody, maxLine], points) => {
        const whole = dechunk([data], maxBody, maxLine);
        assert.deepEqual(dechunk(split(data, points), maxBody, maxLine), whole, 'split');
        assert.deepEqual(
          dechunk(
            [...data].map((b) => Buffer.of(b)),
            maxBody,
            maxLine,
          ),
          whole,
          'byte by byte',
        );
        if (whole.error !== null) {
          assert.ok([codes.BAD_CHUNK, codes.BARE_CR, codes.BARE_LF, codes.BODY_TOO_LARGE].includes(whole.error as never), whole.error);
        }
      }),
      4,
    );
  });
});
