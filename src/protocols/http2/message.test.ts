import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalProtocolError, RemoteProtocolError } from '../../errors.js';
import { headersObject, readRequest, responseHead } from './message.js';

const get = (...more: string[]): string[] => [':method', 'GET', ':scheme', 'https', ':path', '/a?b', ':authority', 'x.example', ...more];

test('readRequest: pseudo-headers out, :authority as Host, repeats and cookies kept in order', () => {
  const r = readRequest(get('cookie', 'a=1', 'accept', 'text/html', 'cookie', 'b=2'));
  assert.equal(r.method, 'GET');
  assert.equal(r.target, '/a?b');
  assert.equal(r.host, 'x.example');
  assert.equal(r.contentLength, -1);
  assert.deepEqual(r.headers, ['cookie', 'a=1', 'accept', 'text/html', 'cookie', 'b=2', 'host', 'x.example']);
  const withHost = readRequest(get('host', 'x.example', 'content-length', '12', 'expect', '100-continue'));
  assert.deepEqual(withHost.headers, ['host', 'x.example', 'content-length', '12']);
  assert.equal(withHost.contentLength, 12);
  assert.equal(withHost.expectContinue, true);
  const hostOnly = readRequest([':method', 'GET', ':scheme', 'http', ':path', '/', 'host', 'h.example:81']);
  assert.equal(hostOnly.host, 'h.example:81');
});

test('readRequest: what warpipe refuses beyond nghttp2, with the status', () => {
  const refused: [string[], number, RegExp][] = [
    [get('host', 'y.example'), 400, /disagree/],
    [[':method', 'GET', ':scheme', 'http', ':path', '/'], 400, /neither :authority nor Host/],
    [[':method', 'CONNECT', ':authority', 'x.example:443'], 400, /CONNECT/],
    [get(':protocol', 'websocket'), 400, /extended CONNECT/],
    [get('content-length', '1x'), 400, /content-length/],
    [get('content-length', '1', 'content-length', '1'), 400, /repeated content-length/],
    [get('host', 'x.example', 'host', 'x.example'), 400, /more than one Host/],
    [get('expect', 'something'), 417, /Expect/],
  ];
  for (const [raw, status, message] of refused) {
    assert.throws(
      () => readRequest(raw),
      (err: unknown) => err instanceof RemoteProtocolError && err.status === status && message.test(err.message),
      raw.join(' '),
    );
  }
});

test('responseHead: lowercased, connection-specific fields out, server and a known length added', () => {
  const h = responseHead(
    'GET',
    200,
    [
      ['Content-Type', 'text/plain'],
      ['Connection', 'close'],
      ['Transfer-Encoding', 'chunked'],
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
    ],
    5,
  );
  assert.deepEqual(h.raw, [
    ':status',
    '200',
    'content-type',
    'text/plain',
    'set-cookie',
    'a=1',
    'set-cookie',
    'b=2',
    'server',
    'warpipe',
    'content-length',
    '5',
  ]);
  assert.deepEqual(headersObject(h.raw), {
    ':status': '200',
    'content-type': 'text/plain',
    'set-cookie': ['a=1', 'b=2'],
    server: 'warpipe',
    'content-length': '5',
  });
  assert.equal(h.noBody, false);
  const own = responseHead(
    'HEAD',
    200,
    [
      ['Server', 'mine'],
      ['Content-Length', '9'],
    ],
    0,
  );
  assert.deepEqual(own.raw, [':status', '200', 'server', 'mine', 'content-length', '9']);
  assert.equal(own.appLength, 9);
  assert.equal(own.noBody, true);
  assert.deepEqual(responseHead('GET', 204, [['Content-Length', '0']], 0).raw, [':status', '204', 'server', 'warpipe']);
  assert.deepEqual(responseHead('GET', 200, [], -1).raw, [':status', '200', 'server', 'warpipe'], 'a streamed body has no length');
  assert.throws(() => responseHead('GET', 200, [['Content-Length', 'x']], 1), LocalProtocolError);
});
