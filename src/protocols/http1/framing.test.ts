import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frameResponse, type FramingContext } from './framing.js';

const DATE = 'Thu, 03 Dec 2026 08:00:00 GMT';
const keep: FramingContext = { date: DATE, mayKeepAlive: true, keepAliveHint: 'Keep-Alive: timeout=5\r\n' };
const close: FramingContext = { ...keep, mayKeepAlive: false };
const CT: [string, string][] = [['Content-Type', 'text/plain']];
const base = 'Content-Type: text/plain\r\nDate: ' + DATE + '\r\nServer: warpipe\r\n';

// [what, method, minor, status, headers, knownLength, ctx, head after the status line, noBody, chunked, remaining, keepAlive]
type Row = [string, string, 0 | 1, string, [string, string][], number, FramingContext, string, boolean, boolean, number, boolean];
const rows: Row[] = [
  [
    'whole body: we add its length',
    'GET',
    1,
    '200 OK',
    CT,
    5,
    keep,
    base + 'Content-Length: 5\r\nKeep-Alive: timeout=5\r\n',
    false,
    false,
    -1,
    true,
  ],
  [
    'streamed, HTTP/1.1: chunked',
    'GET',
    1,
    '200 OK',
    CT,
    -1,
    keep,
    base + 'Transfer-Encoding: chunked\r\nKeep-Alive: timeout=5\r\n',
    false,
    true,
    -1,
    true,
  ],
  ['streamed, HTTP/1.0: to the close', 'GET', 0, '200 OK', CT, -1, keep, base, false, false, -1, false],
  [
    'HTTP/1.0 kept: says keep-alive',
    'GET',
    0,
    '200 OK',
    CT,
    3,
    keep,
    base + 'Content-Length: 3\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n',
    false,
    false,
    -1,
    true,
  ],
  [
    "the app's length is kept and owed",
    'GET',
    1,
    '200 OK',
    [...CT, ['Content-Length', '7']],
    -1,
    keep,
    base.replace('Date', 'Content-Length: 7\r\nDate') + 'Keep-Alive: timeout=5\r\n',
    false,
    false,
    7,
    true,
  ],
  [
    'HEAD: the length a GET would have, no body',
    'HEAD',
    1,
    '200 OK',
    CT,
    9,
    keep,
    base + 'Content-Length: 9\r\nKeep-Alive: timeout=5\r\n',
    true,
    false,
    -1,
    true,
  ],
  [
    "HEAD with the app's length: nothing owed",
    'HEAD',
    1,
    '200 OK',
    [['Content-Length', '4']],
    -1,
    keep,
    'Content-Length: 4\r\nDate: ' + DATE + '\r\nServer: warpipe\r\nKeep-Alive: timeout=5\r\n',
    true,
    false,
    -1,
    true,
  ],
  [
    "204 drops the app's Content-Length",
    'GET',
    1,
    '204 No Content',
    [['Content-Length', '0']],
    0,
    keep,
    'Date: ' + DATE + '\r\nServer: warpipe\r\nKeep-Alive: timeout=5\r\n',
    true,
    false,
    -1,
    true,
  ],
  [
    '304 gets no length',
    'GET',
    1,
    '304 Not Modified',
    [],
    0,
    keep,
    'Date: ' + DATE + '\r\nServer: warpipe\r\nKeep-Alive: timeout=5\r\n',
    true,
    false,
    -1,
    true,
  ],
  [
    'not kept: Connection: close',
    'GET',
    1,
    '200 OK',
    CT,
    2,
    close,
    base + 'Content-Length: 2\r\nConnection: close\r\n',
    false,
    false,
    -1,
    false,
  ],
  [
    "the app's Server stays",
    'GET',
    1,
    '200 OK',
    [['Server', 'mine']],
    0,
    keep,
    'Server: mine\r\nDate: ' + DATE + '\r\nContent-Length: 0\r\nKeep-Alive: timeout=5\r\n',
    false,
    false,
    -1,
    true,
  ],
];

for (const [what, method, minor, status, headers, known, ctx, fields, noBody, chunked, remaining, keepAlive] of rows) {
  test(`framing: ${what}`, () => {
    const code = Number(status.slice(0, 3));
    const f = frameResponse({ method, minor }, status, code, headers, known, ctx);
    assert.equal(f.head, `HTTP/1.1 ${status}\r\n${fields}\r\n`);
    assert.deepEqual(
      { noBody: f.noBody, chunked: f.chunked, remaining: f.remaining, keepAlive: f.keepAlive },
      { noBody, chunked, remaining, keepAlive },
    );
  });
}

test('framing: a Content-Length from the app that is not digits, or comes twice, is refused', () => {
  for (const headers of [
    [['Content-Length', '-1']],
    [['Content-Length', '1e3']],
    [
      ['Content-Length', '5'],
      ['content-length', '5'],
    ],
  ] as [string, string][][]) {
    assert.throws(() => frameResponse({ method: 'GET', minor: 1 }, '200 OK', 200, headers, -1, keep), {
      code: 'ERR_APP_BAD_RESPONSE_HEADER',
    });
  }
});
