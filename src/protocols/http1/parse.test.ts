// Unit tests for the HTTP/1.1 request parser: one rule (or one CVE class) per
// test, exact status and code. Every rejection is checked fed whole and fed byte
// by byte (the parser promises the same result for any split).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RemoteProtocolError, codes } from '../../errors.js';
import { END_OF_MESSAGE, NEED_DATA, RequestParser, defaultLimits, type Limits, type RequestHead } from './parse.js';

interface Message {
  head: RequestHead;
  body: string;
  ended: boolean;
}
interface Outcome {
  messages: Message[];
  error: RemoteProtocolError | null;
  buffered: number;
}

/** Feed `input` cut at `cuts`, draining events after each piece. */
function feed(input: string | Buffer, limits: Partial<Limits> = {}, cuts: number[] = []): Outcome {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const p = new RequestParser({ ...defaultLimits, ...limits });
  const messages: Message[] = [];
  let error: RemoteProtocolError | null = null;
  let prev = 0;
  try {
    for (const cut of [...cuts, bytes.length]) {
      p.receive(bytes.subarray(prev, cut));
      prev = cut;
      for (;;) {
        const ev = p.next();
        if (ev === NEED_DATA) break;
        if (ev.kind === 'request') messages.push({ head: ev, body: '', ended: false });
        else if (ev.kind === 'data') {
          assert.ok(ev.chunk.length > 0, 'zero-length Data');
          messages.at(-1)!.body += ev.chunk.toString('latin1');
        } else messages.at(-1)!.ended = true;
      }
    }
  } catch (err) {
    if (!(err instanceof RemoteProtocolError)) throw err;
    error = err;
  }
  return { messages, error, buffered: p.bufferedBytes };
}

const bytewise = (n: number): number[] => Array.from({ length: Math.max(0, n - 1) }, (_, i) => i + 1);

/** Parse whole and byte by byte; both must agree; returns the whole-input outcome. */
function parse(input: string, limits: Partial<Limits> = {}): Outcome {
  const whole = feed(input, limits);
  const split = feed(input, limits, bytewise(input.length));
  assert.deepEqual(
    { m: split.messages, e: split.error?.code, b: split.buffered },
    { m: whole.messages, e: whole.error?.code, b: whole.buffered },
    'whole and byte-by-byte parses differ',
  );
  return whole;
}

function one(input: string, limits: Partial<Limits> = {}): Message {
  const out = parse(input, limits);
  assert.equal(out.error, null, `unexpected ${out.error?.code}: ${out.error?.message}`);
  assert.equal(out.messages.length, 1);
  assert.ok(out.messages[0]!.ended, 'EndOfMessage not emitted');
  return out.messages[0]!;
}

function rejects(input: string, status: number, code: string, limits: Partial<Limits> = {}): void {
  const out = parse(input, limits);
  assert.ok(out.error, `accepted, expected ${status} ${code}`);
  assert.equal(out.error.code, code, out.error.message);
  assert.equal(out.error.status, status);
}

const get = (headers: string, version = 'HTTP/1.1'): string => `GET / ${version}\r\n${headers}\r\n`;
const post = (headers: string, body = ''): string => `POST /u HTTP/1.1\r\nHost: h\r\n${headers}\r\n${body}`;

describe('request line', () => {
  it('parses a GET', () => {
    const { head, body } = one('GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nAccept:  */*  \r\n\r\n');
    assert.equal(head.kind, 'request');
    assert.equal(head.method, 'GET');
    assert.equal(head.target, '/a/b?c=d');
    assert.equal(head.minor, 1);
    assert.deepEqual(head.headers, ['Host', 'example.com', 'Accept', '*/*']);
    assert.equal(head.contentLength, 0);
    assert.equal(head.chunked, false);
    assert.equal(head.keepAlive, true);
    assert.equal(head.expectContinue, false);
    assert.equal(head.host, 'example.com');
    assert.equal(body, '');
  });

  it('keeps the method case-sensitive and accepts any token', () => {
    assert.equal(one(get('Host: h\r\n').replace('GET', 'get')).head.method, 'get');
    assert.equal(one(get('Host: h\r\n').replace('GET', "M-SEARCH!#$%&'*+.^_`|~")).head.method, "M-SEARCH!#$%&'*+.^_`|~");
  });

  it('passes absolute-form, authority-form and asterisk-form targets through raw', () => {
    assert.equal(one('GET http://a.example:8080/x?y HTTP/1.1\r\nHost: other\r\n\r\n').head.target, 'http://a.example:8080/x?y');
    assert.equal(one('CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n').head.target, 'a.example:443');
    assert.equal(one('OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n').head.target, '*');
  });

  it('allows obs-text bytes in the target, as latin-1', () => {
    assert.equal(one('GET /caf\xe9 HTTP/1.1\r\nHost: h\r\n\r\n').head.target, '/caf\xe9');
  });

  it('parses HTTP/1.0', () => {
    const { head } = one('GET / HTTP/1.0\r\n\r\n');
    assert.equal(head.minor, 0);
    assert.equal(head.host, null);
    assert.equal(head.keepAlive, false);
  });

  for (const [name, line] of [
    ['double space after method', 'GET  / HTTP/1.1'],
    ['double space before version', 'GET /  HTTP/1.1'],
    ['space after version', 'GET / HTTP/1.1 '],
    ['space inside the target', 'GET /a b HTTP/1.1'],
    ['leading space', ' GET / HTTP/1.1'],
    ['tab separator', 'GET\t/ HTTP/1.1'],
    ['no version', 'GET /'],
    ['only a method', 'GET'],
    ['invalid method char', 'G(T / HTTP/1.1'],
    ['NUL in method', 'G\x00T / HTTP/1.1'],
  ] as const) {
    it(`rejects ${name} with 400`, () => rejects(`${line}\r\nHost: h\r\n\r\n`, 400, codes.BAD_REQUEST_LINE));
  }

  for (const [name, target] of [
    ['NUL', '/a\x00b'],
    ['CTL', '/a\x01b'],
    ['DEL', '/a\x7fb'],
    ['HTAB', '/a\tb'],
  ] as const) {
    it(`rejects ${name} in the target with 400`, () => rejects(`GET ${target} HTTP/1.1\r\nHost: h\r\n\r\n`, 400, codes.BAD_TARGET));
  }

  for (const version of ['HTTP/2.0', 'HTTP/1.2', 'HTTP/0.9', 'HTTP/3.0']) {
    it(`answers ${version} with 505`, () => rejects(`GET / ${version}\r\nHost: h\r\n\r\n`, 505, codes.UNSUPPORTED_VERSION));
  }
  for (const version of ['http/1.1', 'HTTP/1.10', 'HTTP/11', 'HTTP/1', 'HTTPS/1.1', 'HTTP/a.b', 'HTTP/1.1x']) {
    it(`rejects version ${JSON.stringify(version)} with 400`, () => {
      rejects(`GET / ${version}\r\nHost: h\r\n\r\n`, 400, codes.BAD_VERSION);
    });
  }

  it('ignores up to 4 empty lines before the request line', () => {
    const out = parse('\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.equal(out.error, null);
    assert.equal(out.messages[0]!.head.target, '/');
  });

  it('rejects a 5th empty line with 400', () => {
    rejects('\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n', 400, codes.BAD_REQUEST_LINE);
  });

  it('answers 414 for a long request line while it is still incomplete', () => {
    const p = new RequestParser({ ...defaultLimits, maxRequestLine: 100 });
    p.receive(Buffer.from(`GET /${'a'.repeat(100)}`));
    assert.throws(() => p.next(), { code: codes.URI_TOO_LONG, status: 414 });
  });

  it('accepts a request line of exactly maxRequestLine bytes, 414 one byte over', () => {
    const line = `GET /${'a'.repeat(100 - 'GET / HTTP/1.1'.length)} HTTP/1.1`;
    assert.equal(line.length, 100);
    one(`${line}\r\nHost: h\r\n\r\n`, { maxRequestLine: 100 });
    rejects(`${line.replace('/', '//')}\r\nHost: h\r\n\r\n`, 414, codes.URI_TOO_LONG, { maxRequestLine: 100 });
  });
});

describe('line endings', () => {
  it('rejects a bare LF after the request line', () => rejects('GET / HTTP/1.1\nHost: h\r\n\r\n', 400, codes.BARE_LF));
  it('rejects a bare LF after a field', () => rejects('GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n', 400, codes.BARE_LF));
  it('rejects a bare LF as the empty line', () => rejects('GET / HTTP/1.1\r\nHost: h\r\n\n', 400, codes.BARE_LF));
  it('rejects LF LF', () => rejects('GET / HTTP/1.1\n\n', 400, codes.BARE_LF));
  it('rejects a bare LF before the request line', () => rejects('\nGET / HTTP/1.1\r\nHost: h\r\n\r\n', 400, codes.BARE_LF));
  it('rejects a bare CR in a field value (waitress CVE-2019-16785)', () => {
    rejects('GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n', 400, codes.BARE_CR);
  });
  it('rejects a bare CR in the request line', () => rejects('GET /\r HTTP/1.1\r\nHost: h\r\n\r\n', 400, codes.BARE_CR));
  it('rejects a bare CR as a line ending', () => rejects('GET / HTTP/1.1\rHost: h\r\n\r\n', 400, codes.BARE_CR));
  it('rejects CR CR LF', () => rejects('GET / HTTP/1.1\r\nHost: h\r\r\n\r\n', 400, codes.BARE_CR));

  it('finds a bare LF before the head is complete', () => {
    const p = new RequestParser();
    p.receive(Buffer.from('GET / HTTP/1.1\r\nHost: h\nX-Long: aaaa'));
    assert.throws(() => p.next(), { code: codes.BARE_LF, status: 400 });
  });

  it('finds a bare CR before the head is complete', () => {
    const p = new RequestParser();
    p.receive(Buffer.from('GET / HTTP/1.1\r\nHost: h\rX'));
    assert.throws(() => p.next(), { code: codes.BARE_CR, status: 400 });
  });

  it('waits when a CR is the last byte received', () => {
    const p = new RequestParser();
    p.receive(Buffer.from('GET / HTTP/1.1\r'));
    assert.equal(p.next(), NEED_DATA);
    p.receive(Buffer.from('\nHost: h\r\n\r\n'));
    assert.equal((p.next() as RequestHead).kind, 'request');
  });

  it('reports the earliest error whatever the reads (bare CR before a bad field name)', () => {
    rejects('GET / HTTP/1.1\r\nX\ry: 1\r\nBad Name: 2\r\n\r\n', 400, codes.BARE_CR);
    rejects('GET / HTTP/1.1\r\nBad Name: 2\r\nX\ry: 1\r\n\r\n', 400, codes.BAD_HEADER);
  });
});

describe('field lines', () => {
  it('trims OWS around values and keeps names as sent', () => {
    const { head } = one(get('Host: h\r\nX-Mixed-CASE: \t a b \t \r\nEmpty:\r\nEmpty2:   \r\n'));
    assert.deepEqual(head.headers, ['Host', 'h', 'X-Mixed-CASE', 'a b', 'Empty', '', 'Empty2', '']);
  });

  it('allows HTAB and obs-text in values', () => {
    assert.equal(one(get('Host: h\r\nX: a\tb\xff\x80\r\n')).head.headers[3], 'a\tb\xff\x80');
  });

  it('rejects obs-fold with 400', () => rejects(get('Host: h\r\nX: a\r\n b\r\n'), 400, codes.BAD_HEADER));
  it('rejects obs-fold with HTAB with 400', () => rejects(get('Host: h\r\nX: a\r\n\tb\r\n'), 400, codes.BAD_HEADER));
  it('rejects whitespace before the first field with 400', () => rejects(get(' Host: h\r\n'), 400, codes.BAD_HEADER));
  it('rejects whitespace before the colon with 400', () => {
    rejects(get('Host : h\r\n'), 400, codes.BAD_HEADER);
    assert.match(parse(get('Host : h\r\n')).error!.message, /whitespace before colon/);
  });
  it('rejects HTAB before the colon with 400', () => rejects(get('Host\t: h\r\n'), 400, codes.BAD_HEADER));
  it('rejects "Transfer-Encoding :" (smuggling classic) with 400', () => {
    rejects(post('Transfer-Encoding : chunked\r\n', '0\r\n\r\n'), 400, codes.BAD_HEADER);
  });
  it('rejects an empty field name with 400', () => rejects(get('Host: h\r\n: v\r\n'), 400, codes.BAD_HEADER));
  it('rejects a line without a colon with 400', () => rejects(get('Host: h\r\nNoColon\r\n'), 400, codes.BAD_HEADER));
  it('rejects NUL in a name with 400', () => rejects(get('Host: h\r\nX\x00Y: v\r\n'), 400, codes.BAD_HEADER));
  it('rejects NUL in a value with 400 (waitress CVE-2019-16789)', () => {
    rejects(get('Host: h\r\nX: a\x00b\r\n'), 400, codes.BAD_HEADER);
  });
  for (const ctl of ['\x01', '\x0b', '\x0c', '\x1f', '\x7f']) {
    it(`rejects CTL 0x${ctl.charCodeAt(0).toString(16)} in a value with 400`, () => {
      rejects(get(`Host: h\r\nX: a${ctl}b\r\n`), 400, codes.BAD_HEADER);
    });
  }
  it('rejects non-token characters in names with 400', () => {
    for (const c of ['(', '"', '/', '@', '[', '{', '\xe9']) rejects(get(`Host: h\r\nX${c}: v\r\n`), 400, codes.BAD_HEADER);
  });
});

describe('limits', () => {
  it('answers 431 for more than maxHeaderFields fields, before the head is complete', () => {
    const fields = 'A: 1\r\nB: 2\r\nC: 3\r\n';
    rejects(get(`Host: h\r\n${fields}`), 431, codes.TOO_MANY_HEADERS, { maxHeaderFields: 3 });
    const p = new RequestParser({ ...defaultLimits, maxHeaderFields: 3 });
    p.receive(Buffer.from(`GET / HTTP/1.1\r\nHost: h\r\n${fields}`));
    assert.throws(() => p.next(), { code: codes.TOO_MANY_HEADERS, status: 431 });
  });

  it('accepts exactly maxHeaderFields fields', () => {
    assert.equal(one(get('Host: h\r\nA: 1\r\nB: 2\r\n'), { maxHeaderFields: 3 }).head.headers.length, 6);
  });

  it('answers 431 for a field line over maxFieldSize, while incomplete', () => {
    rejects(get(`Host: h\r\nX: ${'a'.repeat(50)}\r\n`), 431, codes.HEADERS_TOO_LARGE, { maxFieldSize: 52 });
    one(get(`Host: h\r\nX: ${'a'.repeat(50)}\r\n`), { maxFieldSize: 53 });
    const p = new RequestParser({ ...defaultLimits, maxFieldSize: 100 });
    p.receive(Buffer.from(`GET / HTTP/1.1\r\nHost: h\r\nX: ${'a'.repeat(200)}`));
    assert.throws(() => p.next(), { code: codes.HEADERS_TOO_LARGE, status: 431 });
  });

  it('answers 431 for a head over maxHeaderBytes, while incomplete', () => {
    const head = get('Host: h\r\nX: 12345\r\n');
    one(head, { maxHeaderBytes: head.length });
    rejects(head, 431, codes.HEADERS_TOO_LARGE, { maxHeaderBytes: head.length - 1 });
    const p = new RequestParser({ ...defaultLimits, maxHeaderBytes: 1000 });
    p.receive(Buffer.from(`GET / HTTP/1.1\r\nHost: h\r\n${'X-Filler: 0123456789\r\n'.repeat(60)}`));
    assert.throws(() => p.next(), { code: codes.HEADERS_TOO_LARGE, status: 431 });
  });

  it('never decodes more than maxHeaderBytes + 1 bytes of a head', () => {
    const p = new RequestParser({ ...defaultLimits, maxHeaderBytes: 64 });
    p.receive(Buffer.alloc(10_000_000, 'a'));
    assert.throws(() => p.next(), { code: codes.HEADERS_TOO_LARGE, status: 431 });
  });
});

describe('Content-Length', () => {
  it('reads exactly Content-Length bytes, then the next request', () => {
    const out = parse(post('Content-Length: 5\r\n', 'helloGET / HTTP/1.1\r\nHost: h\r\n\r\n'));
    assert.equal(out.error, null);
    assert.equal(out.messages.length, 2);
    assert.equal(out.messages[0]!.head.contentLength, 5);
    assert.equal(out.messages[0]!.body, 'hello');
    assert.equal(out.messages[1]!.head.method, 'GET');
    assert.ok(out.messages[1]!.ended);
  });

  it('accepts 0 and leading zeros', () => {
    assert.equal(one(post('Content-Length: 0\r\n')).body, '');
    assert.equal(one(post('Content-Length: 007\r\n', 'abcdefg')).head.contentLength, 7);
  });

  it('treats no Content-Length and no Transfer-Encoding as an empty body', () => {
    const out = parse('POST / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.equal(out.messages.length, 2);
    assert.equal(out.messages[0]!.body, '');
  });

  for (const value of ['+5', '-5', '5 5', '0x5', '5,5', '5, 5', '', '5a', '1e3', '5.0', '\xb5']) {
    it(`rejects Content-Length ${JSON.stringify(value)} with 400`, () => {
      rejects(post(`Content-Length: ${value}\r\n`, 'hello'), 400, codes.BAD_CONTENT_LENGTH);
    });
  }

  it('rejects two Content-Length fields with 400, even if equal', () => {
    rejects(post('Content-Length: 5\r\nContent-Length: 5\r\n', 'hello'), 400, codes.BAD_CONTENT_LENGTH);
    rejects(post('Content-Length: 5\r\ncontent-length: 6\r\n', 'hello!'), 400, codes.BAD_CONTENT_LENGTH);
  });

  it('answers 413 over maxBodyBytes', () => {
    one(post('Content-Length: 10\r\n', '0123456789'), { maxBodyBytes: 10 });
    rejects(post('Content-Length: 11\r\n', '0123456789a'), 413, codes.BODY_TOO_LARGE, { maxBodyBytes: 10 });
  });

  it('answers 413 for values beyond Number.MAX_SAFE_INTEGER', () => {
    rejects(post('Content-Length: 9007199254740992\r\n'), 413, codes.BODY_TOO_LARGE);
    rejects(post('Content-Length: 99999999999999999999999999\r\n'), 413, codes.BODY_TOO_LARGE);
  });

  it('emits Data as bytes arrive, as subarrays of the received buffers', () => {
    const p = new RequestParser();
    p.receive(Buffer.from('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n01234'));
    assert.equal((p.next() as RequestHead).contentLength, 10);
    const first = p.next();
    assert.ok(first !== NEED_DATA && first.kind === 'data');
    assert.equal(first.chunk.toString(), '01234');
    assert.equal(p.next(), NEED_DATA);
    const rest = Buffer.from('56789GET');
    p.receive(rest);
    const second = p.next();
    assert.ok(second !== NEED_DATA && second.kind === 'data');
    assert.equal(second.chunk.buffer, rest.buffer, 'Data copied instead of sliced');
    assert.equal(second.chunk.toString(), '56789');
    assert.equal(p.next(), END_OF_MESSAGE);
    assert.equal(p.bufferedBytes, 3);
    assert.equal(p.next(), NEED_DATA);
  });
});

describe('Transfer-Encoding', () => {
  const body = '5\r\nhello\r\n0\r\n\r\n';
  for (const value of ['chunked', 'Chunked', 'CHUNKED', ' chunked ', '\tchunked']) {
    it(`accepts ${JSON.stringify(value)}`, () => {
      const { head, body: got } = one(post(`Transfer-Encoding: ${value}\r\n`, body));
      assert.equal(head.chunked, true);
      assert.equal(head.contentLength, -1);
      assert.equal(got, 'hello');
    });
  }

  it('rejects two Transfer-Encoding fields with 400', () => {
    rejects(post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', body), 400, codes.BAD_TRANSFER_ENCODING);
  });
  it('rejects Transfer-Encoding in HTTP/1.0 with 400', () => {
    rejects(`POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n${body}`, 400, codes.BAD_TRANSFER_ENCODING);
  });
  it('rejects Transfer-Encoding with Content-Length with 400 (either order)', () => {
    rejects(post('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', body), 400, codes.CL_AND_TE);
    rejects(post('Transfer-Encoding: chunked\r\nContent-Length: 5\r\n', body), 400, codes.CL_AND_TE);
  });
  for (const value of [
    'chunked, chunked',
    'chunked,chunked',
    'chunked, identity',
    'chunked, gzip',
    '',
    ',chunked',
    'chunked,',
    'chunked;q=1',
    '"chunked"',
    'chu nked',
    'chunked\xff',
  ]) {
    it(`rejects Transfer-Encoding ${JSON.stringify(value)} with 400`, () => {
      rejects(post(`Transfer-Encoding: ${value}\r\n`, body), 400, codes.BAD_TRANSFER_ENCODING);
    });
  }
  for (const value of ['gzip', 'identity', 'x-foo', 'gzip, chunked', 'deflate,chunked', 'gzip;q=1, chunked']) {
    it(`answers Transfer-Encoding ${JSON.stringify(value)} with 501`, () => {
      rejects(post(`Transfer-Encoding: ${value}\r\n`, body), 501, codes.UNKNOWN_TRANSFER_CODING);
    });
  }
});

describe('chunked body', () => {
  const chunked = (chunks: string): string => post('Transfer-Encoding: chunked\r\n', chunks);

  it('decodes chunks, extensions and trailers', () => {
    const { body } = one(chunked('5;a=b;c="x \\"y\\"" ; d\r\nhello\r\nA\r\n0123456789\r\n0;last\r\nT: v\r\nT2: w\r\n\r\n'));
    assert.equal(body, 'hello0123456789');
  });

  it('accepts upper- and lower-case hex, and the largest digit count', () => {
    assert.equal(one(chunked('a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n')).body.length, 20);
    assert.equal(one(chunked('000000000000000a\r\n0123456789\r\n0000\r\n\r\n')).body.length, 10);
  });

  for (const [name, line] of [
    ['0x prefix', '0x10'],
    ['plus sign', '+5'],
    ['leading space', ' 5'],
    ['trailing space', '5 '],
    ['trailing tab', '5\t'],
    ['minus sign', '-5'],
    ['empty size', ''],
    ['non-hex', 'g'],
    ['ext without name', '5;'],
    ['ext name then space', '5;a '],
    ['ext value missing', '5;a='],
    ['bad ext name', '5;a(b'],
    ['unterminated quote', '5;a="b'],
    ['NUL in ext', '5;a=\x00'],
    ['space inside ext value', '5;a=b c'],
    ['CTL in quoted ext', '5;a="\x01"'],
  ] as const) {
    it(`rejects chunk line with ${name} with 400 (waitress CVE-2022-24761)`, () => {
      rejects(chunked(`${line}\r\nhello\r\n0\r\n\r\n`), 400, codes.BAD_CHUNK);
    });
  }

  it('answers 413 for 17 hex digits', () => rejects(chunked('00000000000000005\r\nhello\r\n0\r\n\r\n'), 413, codes.BODY_TOO_LARGE));
  it('answers 413 for a size beyond MAX_SAFE_INTEGER', () => rejects(chunked('ffffffffffffffff\r\n'), 413, codes.BODY_TOO_LARGE));
  it('answers 413 when the chunks add up to more than maxBodyBytes', () => {
    one(chunked('5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n'), { maxBodyBytes: 10 });
    rejects(chunked('5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n'), 413, codes.BODY_TOO_LARGE, { maxBodyBytes: 10 });
  });
  it('rejects a chunk line over maxChunkLine with 400', () => {
    one(chunked('5;a=bcd\r\nhello\r\n0\r\n\r\n'), { maxChunkLine: 7 });
    rejects(chunked('5;a=bcde\r\nhello\r\n0\r\n\r\n'), 400, codes.BAD_CHUNK, { maxChunkLine: 7 });
  });
  it('rejects data not followed by CRLF with 400', () => {
    rejects(chunked('5\r\nhelloX\r\n0\r\n\r\n'), 400, codes.BAD_CHUNK);
    rejects(chunked('5\r\nhello\n0\r\n\r\n'), 400, codes.BAD_CHUNK);
    rejects(chunked('5\r\nhello\rX0\r\n\r\n'), 400, codes.BAD_CHUNK);
    rejects(chunked('3\r\nhello\r\n0\r\n\r\n'), 400, codes.BAD_CHUNK);
  });
  it('rejects a bare LF in a chunk line with 400', () => rejects(chunked('5\nhello\r\n0\r\n\r\n'), 400, codes.BARE_LF));
  it('rejects a bare LF after the last chunk with 400', () => rejects(chunked('0\n\r\n'), 400, codes.BARE_LF));
  it('rejects a bare CR in a chunk line with 400', () => rejects(chunked('5\rhello\r\n0\r\n\r\n'), 400, codes.BARE_CR));
  it('rejects a bare LF ending the trailer section with 400', () => rejects(chunked('0\r\n\n'), 400, codes.BARE_LF));
  it('rejects bad trailer fields with 400', () => {
    rejects(chunked('0\r\nBad Name: v\r\n\r\n'), 400, codes.BAD_HEADER);
    rejects(chunked('0\r\nT: v\r\n folded\r\n\r\n'), 400, codes.BAD_HEADER);
    rejects(chunked('0\r\nT: a\x00b\r\n\r\n'), 400, codes.BAD_HEADER);
    rejects(chunked('0\r\nT: v\r\nX: \r\r\n\r\n'), 400, codes.BARE_CR);
  });
  it('applies field limits to trailers', () => {
    rejects(chunked('0\r\nA: 1\r\nB: 2\r\n\r\n'), 431, codes.TOO_MANY_HEADERS, { maxHeaderFields: 1 });
    rejects(chunked(`0\r\nA: ${'x'.repeat(100)}\r\n\r\n`), 431, codes.HEADERS_TOO_LARGE, { maxFieldSize: 50 });
  });
  it('drops trailer fields (they are not headers)', () => {
    assert.deepEqual(one(chunked('0\r\nContent-Length: 5\r\n\r\n')).head.headers, ['Host', 'h', 'Transfer-Encoding', 'chunked']);
  });

  it('emits chunk data as it arrives, never empty, before the chunk is complete', () => {
    const p = new RequestParser();
    p.receive(Buffer.from('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123'));
    assert.equal((p.next() as RequestHead).chunked, true);
    const d = p.next();
    assert.ok(d !== NEED_DATA && d.kind === 'data');
    assert.equal(d.chunk.toString(), '0123');
    assert.equal(p.next(), NEED_DATA);
    p.receive(Buffer.from('456789\r'));
    const d2 = p.next();
    assert.ok(d2 !== NEED_DATA && d2.kind === 'data');
    assert.equal(d2.chunk.toString(), '456789');
    assert.equal(p.next(), NEED_DATA);
  });

  it('never ends a truncated chunked body: NEED_DATA, no EndOfMessage', () => {
    const input = chunked('5\r\nhello\r\n3\r\nab');
    for (let cut = 0; cut <= input.length; cut++) {
      const out = feed(input.slice(0, cut));
      assert.equal(out.error, null);
      assert.ok(!out.messages[0]?.ended, `ended at cut ${cut}`);
    }
    const out = feed(chunked('5\r\nhello\r\n0\r\n'));
    assert.ok(!out.messages[0]!.ended);
  });
});

describe('Host', () => {
  it('requires Host in HTTP/1.1', () => rejects('GET / HTTP/1.1\r\nX: y\r\n\r\n', 400, codes.BAD_HOST));
  it('rejects two Host fields', () => rejects(get('Host: a\r\nHost: a\r\n'), 400, codes.BAD_HOST));
  it('rejects two Host fields in HTTP/1.0', () => rejects(get('Host: a\r\nhost: b\r\n', 'HTTP/1.0'), 400, codes.BAD_HOST));
  for (const host of [
    'example.com',
    'example.com:8080',
    '127.0.0.1:80',
    '[::1]:443',
    '[v7.x]',
    'xn--bcher-kva.example',
    '',
    "a_b~c!$&'()*+,;=",
    'h:',
    'a%20b',
  ]) {
    it(`accepts Host ${JSON.stringify(host)}`, () => assert.equal(one(get(`Host: ${host}\r\n`)).head.host, host));
  }
  for (const host of ['a b', 'a/b', 'a@b', 'user@host', 'a:b:c', 'a:80x', '[::1', '::1]', 'a?b', 'a#b', 'a%2', 'a%zz', 'a\\b', 'h\xe9']) {
    it(`rejects Host ${JSON.stringify(host)} with 400`, () => rejects(get(`Host: ${host}\r\n`), 400, codes.BAD_HOST));
  }
});

describe('Connection and Expect', () => {
  const cases: Array<[string, string, boolean]> = [
    ['HTTP/1.1', '', true],
    ['HTTP/1.1', 'Connection: close\r\n', false],
    ['HTTP/1.1', 'Connection: Close\r\n', false],
    ['HTTP/1.1', 'Connection: keep-alive\r\n', true],
    ['HTTP/1.1', 'Connection: Upgrade, CLOSE\r\n', false],
    ['HTTP/1.1', 'Connection: upgrade\r\nConnection: close\r\n', false],
    ['HTTP/1.1', 'Connection: closed\r\n', true],
    ['HTTP/1.0', '', false],
    ['HTTP/1.0', 'Connection: keep-alive\r\n', true],
    ['HTTP/1.0', 'Connection: Keep-Alive\r\n', true],
    ['HTTP/1.0', 'Connection: te,  keep-alive ,x\r\n', true],
    ['HTTP/1.0', 'Connection: keep-alive, close\r\n', false],
  ];
  for (const [version, field, keepAlive] of cases) {
    it(`${version} ${JSON.stringify(field)} -> keepAlive ${keepAlive}`, () => {
      assert.equal(one(get(`Host: h\r\n${field}`, version)).head.keepAlive, keepAlive);
    });
  }

  it('sets expectContinue for HTTP/1.1 100-continue, any case', () => {
    assert.equal(one(post('Expect: 100-continue\r\nContent-Length: 1\r\n', 'x')).head.expectContinue, true);
    assert.equal(one(post('expect: 100-CONTINUE\r\nContent-Length: 1\r\n', 'x')).head.expectContinue, true);
    assert.equal(one(post('Content-Length: 1\r\n', 'x')).head.expectContinue, false);
  });
  it('ignores 100-continue in HTTP/1.0', () => {
    assert.equal(one('POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx').head.expectContinue, false);
  });
  for (const value of ['200-ok', '100-continue, foo', '100-continuex', 'continue']) {
    it(`answers Expect ${JSON.stringify(value)} with 417`, () => rejects(post(`Expect: ${value}\r\n`), 417, codes.BAD_EXPECT));
  }
});

describe('pipelining and buffering', () => {
  const three =
    'POST /1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc' +
    'POST /2 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n1\r\nf\r\n0\r\n\r\n' +
    'GET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n';

  it('parses 3 requests with bodies from one buffer', () => {
    const out = parse(three);
    assert.equal(out.error, null);
    assert.deepEqual(
      out.messages.map((m) => [m.head.target, m.body, m.ended]),
      [
        ['/1', 'abc', true],
        ['/2', 'def', true],
        ['/3', '', true],
      ],
    );
    assert.equal(out.messages[2]!.head.keepAlive, false);
    assert.equal(out.buffered, 0);
  });

  it('keeps later requests buffered while the caller stops calling next()', () => {
    const p = new RequestParser();
    p.receive(Buffer.from(three));
    assert.equal(p.bufferedBytes, three.length);
    assert.equal((p.next() as RequestHead).target, '/1');
    p.next(); // data
    assert.equal(p.next(), END_OF_MESSAGE);
    const rest = three.length - three.indexOf('POST /2');
    assert.equal(p.bufferedBytes, rest);
    const fourth = Buffer.from('GET /4 HTTP/1.1\r\nHost: h\r\n\r\n');
    p.receive(fourth);
    assert.equal(p.bufferedBytes, rest + fourth.length);
    assert.equal((p.next() as RequestHead).target, '/2');
  });

  it('is idle only between requests with nothing buffered', () => {
    const p = new RequestParser();
    assert.equal(p.idle, true);
    p.receive(Buffer.from('GET / HTTP/1.1\r\n'));
    assert.equal(p.next(), NEED_DATA);
    assert.equal(p.idle, false);
    p.receive(Buffer.from('Host: h\r\n\r\n'));
    p.next();
    assert.equal(p.idle, false);
    assert.equal(p.next(), END_OF_MESSAGE);
    assert.equal(p.idle, true);
  });

  it('is dead after an error: next() rethrows it, receive() is ignored', () => {
    const p = new RequestParser();
    p.receive(Buffer.from('GET / HTTP/1.1\nHost: h\r\n\r\n'));
    let first: unknown;
    assert.throws(
      () => p.next(),
      (err) => {
        first = err;
        return true;
      },
    );
    assert.throws(
      () => p.next(),
      (err) => err === first,
    );
    p.receive(Buffer.from('GET / HTTP/1.1\r\nHost: h\r\n\r\n'));
    assert.equal(p.bufferedBytes, 0);
    assert.throws(
      () => p.next(),
      (err) => err === first,
    );
  });

  it('drains thousands of one-byte reads queued before next() is called', () => {
    const input = Buffer.from(three.repeat(20) + 'POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 3000\r\n\r\n' + 'z'.repeat(3000));
    const p = new RequestParser();
    for (let i = 0; i < input.length; i++) p.receive(input.subarray(i, i + 1));
    assert.equal(p.bufferedBytes, input.length);
    let heads = 0;
    let ends = 0;
    let body = 0;
    for (let ev = p.next(); ev !== NEED_DATA; ev = p.next()) {
      if (ev.kind === 'request') heads++;
      else if (ev.kind === 'end') ends++;
      else body += ev.chunk.length;
    }
    assert.deepEqual([heads, ends, body, p.bufferedBytes], [61, 61, 20 * 6 + 3000, 0]);
  });

  it('does not mutate received buffers', () => {
    const input = Buffer.from(three);
    const copy = Buffer.from(input);
    feed(input, {}, [7, 50, 51, 90]);
    assert.deepEqual(input, copy);
  });
});

describe('split invariance (seeded fuzz)', () => {
  // Random requests with random damage; every way of cutting them must give one result.
  const seed = Number(process.env.PARSE_FUZZ_SEED ?? 20240601);
  it(`agrees whole, byte by byte and in random splits (seed ${seed})`, () => {
    let state = seed >>> 0;
    const rand = (n: number): number => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state % n;
    };
    const pick = <T>(a: readonly T[]): T => a[rand(a.length)]!;
    const fields = ['Host: h', 'Content-Length: 3', 'Transfer-Encoding: chunked', 'Connection: close', 'X-A: b', 'Expect: 100-continue'];
    for (let iter = 0; iter < 1500; iter++) {
      let text = '';
      for (let r = 1 + rand(3); r > 0; r--) {
        const hs = ['Host: h'];
        for (let k = rand(4); k > 0; k--) hs.push(pick(fields));
        text += `${pick(['GET', 'POST'])} /${rand(99)} ${pick(['HTTP/1.1', 'HTTP/1.0'])}\r\n${hs.join('\r\n')}\r\n\r\n`;
        if (hs.includes('Transfer-Encoding: chunked')) text += `3;x=y\r\nabc\r\n0\r\n${rand(2) ? 'T: 1\r\n' : ''}\r\n`;
        else if (hs.includes('Content-Length: 3')) text += 'abc';
      }
      const chars = text.split('');
      for (let k = rand(4); k > 0; k--) {
        chars.splice(rand(chars.length + 1), rand(2), pick(['\r', '\n', '\x00', ' ', ':', '\r\n', 'x'.repeat(rand(40)), ';']));
      }
      text = chars.join('');
      const limits = rand(2)
        ? {}
        : {
            maxRequestLine: 8 + rand(30),
            maxHeaderFields: rand(5),
            maxFieldSize: 4 + rand(30),
            maxHeaderBytes: 16 + rand(100),
            maxBodyBytes: rand(20),
            maxChunkLine: 1 + rand(8),
          };
      const expected = feed(text, limits);
      const summary = (o: Outcome): unknown => ({ m: o.messages, e: o.error?.code, b: o.buffered });
      const cutsList = [bytewise(text.length)];
      for (let t = 0; t < 3; t++) {
        const cuts = new Set<number>();
        for (let c = rand(5); c > 0; c--) cuts.add(1 + rand(Math.max(1, text.length - 1)));
        cutsList.push([...cuts].sort((x, y) => x - y));
      }
      for (const cuts of cutsList) {
        assert.deepEqual(
          summary(feed(text, limits, cuts)),
          summary(expected),
          `${JSON.stringify(text)} ${JSON.stringify(limits)} cuts ${cuts}`,
        );
      }
    }
  });
});
