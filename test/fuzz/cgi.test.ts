// Property-based fuzzing of the CGI response head parser
// (src/protocols/cgi/response.ts), which reads what CGI scripts, php-fpm,
// fcgiwrap, SCGI and uwsgi backends answer, and of the gateway's own simple
// responses (src/protocols/http1/serialize.ts simpleResponse), read back with it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as fc from 'fast-check';
import { RemoteProtocolError, codes } from '../../src/errors.js';
import { CgiHeadParser, type CgiHead } from '../../src/protocols/cgi/response.js';
import { NEED_DATA } from '../../src/protocols/need-data.js';
import { reasonPhrase, simpleResponse } from '../../src/protocols/http1/serialize.js';
import { bytes, check, cuts, latin1, mutated, onlyThrows, seeded, split, stringOf, tokens } from './support.js';

const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Feed `reads` until the head is whole: the head (or the error's code) and the body bytes after it. */
type Outcome = { head: CgiHead; body: string } | { error: string; status: number } | 'need-data';
function feed(reads: Buffer[], maxBytes: number): Outcome {
  const p = new CgiHeadParser(maxBytes);
  for (let i = 0; i < reads.length; i++) {
    const r = onlyThrows(RemoteProtocolError, () => p.receive(reads[i]!));
    if (r instanceof RemoteProtocolError) return { error: r.code, status: r.status };
    if (r !== NEED_DATA) return { head: r, body: Buffer.concat([p.rest, ...reads.slice(i + 1)]).toString('latin1') };
  }
  return 'need-data';
}

// A model of a head: an optional HTTP status line, then fields (some of them Status: and Location:).
interface Field {
  name: string;
  value: string;
  pre: string;
  post: string;
}
interface Head {
  statusLine: string | null;
  fields: Field[];
  crlf: boolean[];
  body: Buffer;
}

// field content: no control character but HTAB (the parser refuses the others)
const noCtl = (c: fc.StringConstraints = {}): fc.Arbitrary<string> => latin1(c).map((s) => s.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '~'));
// values that optional-whitespace trimming leaves alone: no leading or trailing SP or HTAB
const value = noCtl({ maxLength: 30 }).map((s) => s.replace(/^[ \t]+|[ \t]+$/g, ''));
const code = fc.integer({ min: 100, max: 599 });
const reason = noCtl({ minLength: 1, maxLength: 20 });
const ows = stringOf(' \t', { maxLength: 2 });
const field: fc.Arbitrary<Field> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ name: stringOf(TCHARS, { minLength: 1, maxLength: 12 }), value, pre: ows, post: ows }) },
  {
    weight: 1,
    arbitrary: fc.record({
      name: fc.mixedCase(fc.constant('status')),
      value: fc.tuple(code, fc.option(value.filter((s) => s !== ''))).map(([c, r]) => (r === null ? String(c) : `${c} ${r}`)),
      pre: ows,
      post: ows,
    }),
  },
  { weight: 1, arbitrary: fc.record({ name: fc.mixedCase(fc.constant('location')), value, pre: ows, post: ows }) },
);
const statusLine = fc
  .tuple(fc.constantFrom('0', '1'), code, fc.option(reason))
  .map(([m, c, r]) => `HTTP/1.${m} ${c}${r === null ? '' : ` ${r}`}`);
const head: fc.Arbitrary<Head> = fc
  .record({
    statusLine: fc.option(statusLine),
    fields: fc.array(field, { maxLength: 8 }),
    crlf: fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
    body: bytes(40),
  })
  .filter((h) => h.statusLine !== null || h.fields.length > 0)
  .filter((h) => h.fields.filter((f) => f.name.toLowerCase() === 'status').length <= 1); // two Status fields are a 502

function encode(h: Head): Buffer {
  const lines = [...(h.statusLine === null ? [] : [h.statusLine]), ...h.fields.map((f) => `${f.name}:${f.pre}${f.value}${f.post}`), ''];
  return Buffer.concat([Buffer.from(lines.map((l, i) => l + (h.crlf[i % h.crlf.length] ? '\r\n' : '\n')).join(''), 'latin1'), h.body]);
}

function expected(h: Head): CgiHead {
  let status: string | null = null;
  if (h.statusLine !== null) {
    const [, c, r] = /^HTTP\/1\.[01] ([0-9]{3})(?: (.*))?$/.exec(h.statusLine)!;
    status = r ? `${c} ${r}` : `${c} ${reasonPhrase(Number(c))}`;
  }
  let location = false;
  const headers: [string, string][] = [];
  for (const f of h.fields) {
    if (f.name.toLowerCase() === 'status') {
      const [c, ...r] = f.value.split(' ');
      status = r.length > 0 ? f.value : `${c} ${reasonPhrase(Number(c))}`;
      continue;
    }
    if (f.name.toLowerCase() === 'location') location = true;
    headers.push([f.name, f.value]);
  }
  return { status: status ?? (location ? '302 Found' : '200 OK'), headers };
}

const CGI_TOKENS = [
  '\n',
  '\r\n',
  '\n\n',
  '\r\n\r\n',
  ':',
  ': ',
  'Status: ',
  'Status: 404',
  'Location: /x',
  'HTTP/1.1 200 OK',
  'X',
  '\r',
  '\0',
  ' ',
];

describe('fuzz: CGI response heads', () => {
  it(seeded('round trip: a head of Status/Location/other fields, LF or CRLF, is read back with its body, in any split'), () => {
    check(
      fc.property(head, cuts, (h, points) => {
        const data = encode(h);
        const want = { head: expected(h), body: h.body.toString('latin1') };
        assert.deepEqual(feed([data], 65536), want);
        assert.deepEqual(feed(split(data, points, true), 65536), want);
      }),
      2,
    );
  });

  it(seeded('simpleResponse() reads back as its status, fields and body'), () => {
    const extra = fc.array(fc.tuple(stringOf(TCHARS, { minLength: 1, maxLength: 10 }), value), { maxLength: 3 });
    check(
      fc.property(fc.integer({ min: 100, max: 599 }), value, fc.boolean(), extra, cuts, (status, date, close, fields, points) => {
        const bytes = simpleResponse(status, date, close, fields.map(([n, v]) => `${n}: ${v}\r\n`).join(''));
        const got = feed(split(bytes, points), 65536);
        assert.ok(typeof got === 'object' && 'head' in got, JSON.stringify(got));
        assert.equal(got.head.status, `${status} ${reasonPhrase(status)}`);
        const reason = reasonPhrase(status);
        assert.deepEqual(got.head.headers, [
          ['Date', date],
          ['Server', 'warpipe'],
          ['Content-Type', 'text/plain; charset=utf-8'],
          ['Content-Length', String(reason.length + 1)],
          ...fields,
          ...(close ? [['Connection', 'close']] : []),
        ]);
        assert.equal(got.body, `${reason}\n`);
      }),
    );
  });

  it(seeded('arbitrary and damaged bytes: only RemoteProtocolError (502), the same result in any split'), () => {
    const input = fc.oneof(bytes(80), head.map(encode), mutated(head.map(encode)), tokens(CGI_TOKENS));
    // the limit as a share of the input (0-150 %), so that heads near it are common
    check(
      fc.property(input, fc.integer({ min: 0, max: 150 }), cuts, (data, percent, points) => {
        const maxBytes = Math.max(1, Math.floor((data.length * percent) / 100));
        const whole = feed([data], maxBytes);
        if (typeof whole === 'object' && 'error' in whole) assert.deepEqual(whole, { error: codes.UPSTREAM_BAD_RESPONSE, status: 502 });
        assert.deepEqual(feed(split(data, points, true), maxBytes), whole, 'split');
      }),
      4,
    );
  });

  it(seeded('never buffers more than maxBytes without the end of the head'), () => {
    // bytes in which no empty line (LF LF, LF CR LF) ever ends a head
    const endless = bytes(200, 1).map((b) => Buffer.from(b.toString('latin1').replace(/\n(?=\r?\n)/g, 'x'), 'latin1'));
    check(
      fc.property(endless, fc.integer({ min: 0, max: 100 }), cuts, (data, maxBytes, points) => {
        const p = new CgiHeadParser(maxBytes);
        let fed = 0;
        for (const piece of split(data, points)) {
          fed += piece.length;
          const r = onlyThrows(RemoteProtocolError, () => p.receive(piece));
          if (r instanceof RemoteProtocolError) {
            assert.ok(fed > maxBytes, `threw at ${fed} bytes, within the limit ${maxBytes}`);
            return;
          }
          assert.equal(r, NEED_DATA);
          assert.ok(fed <= maxBytes, `${fed} bytes buffered, over the limit ${maxBytes}`);
        }
      }),
      2,
    );
  });
});
