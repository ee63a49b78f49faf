import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LocalProtocolError } from '../../errors.js';
import { acceptKey, acceptResponse, checkHandshake, type WebSocketRequest } from './handshake.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const HEADERS = ['Host', 'x', 'Upgrade', 'websocket', 'Connection', 'Upgrade', 'Sec-WebSocket-Key', KEY, 'Sec-WebSocket-Version', '13'];

function request(extra: string[] = []): WebSocketRequest {
  const ws = checkHandshake({ method: 'GET', minor: 1, headers: [...HEADERS, ...extra] });
  assert.ok(ws !== null && ws.kind === 'websocket');
  return ws;
}

describe('WebSocket handshake', () => {
  it('RFC 6455 §1.3: the sample nonce gives s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', () => {
    assert.equal(acceptKey(KEY), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('the 101 head, byte for byte, with a subprotocol, the extensions and extra headers in order', () => {
    const head = acceptResponse(request(['Sec-WebSocket-Protocol', 'chat, superchat']), {
      subprotocol: 'superchat',
      extensions: 'permessage-deflate; server_max_window_bits=12',
      headers: [
        ['Server', 'warpipe'],
        ['Set-Cookie', 'a=b; Path=/'],
      ],
    });
    assert.equal(
      head.toString('latin1'),
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: superchat\r\n' +
        'Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12\r\nServer: warpipe\r\nSet-Cookie: a=b; Path=/\r\n\r\n',
    );
  });

  it('the minimal 101: no subprotocol, no extension', () => {
    assert.equal(
      acceptResponse(request()).toString('latin1'),
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
    );
  });

  it('a subprotocol the client did not offer is a 500 (LocalProtocolError), also when it offered none', () => {
    for (const [extra, choice] of [
      [['Sec-WebSocket-Protocol', 'chat'], 'Chat'],
      [[], 'chat'],
    ] as const) {
      assert.throws(
        () => acceptResponse(request([...extra]), { subprotocol: choice }),
        (err: unknown) => err instanceof LocalProtocolError && err.status === 500 && /not offered/.test(err.message),
      );
    }
  });

  it('headers an app may not set on a 101, in any case, are refused', () => {
    const names = ['Connection', 'upgrade', 'Content-Length', 'Transfer-Encoding', 'Keep-Alive', 'Proxy-Connection', 'TE', 'Trailer'];
    names.push('Sec-WebSocket-Accept', 'SEC-WEBSOCKET-PROTOCOL', 'Sec-WebSocket-Extensions', 'Sec-WebSocket-Version', 'Sec-WebSocket-Key');
    for (const name of names) {
      assert.throws(
        () => acceptResponse(request(), { headers: [[name, 'x']] }),
        (err: unknown) => err instanceof LocalProtocolError && err.status === 500,
        name,
      );
    }
  });

  it('CR, LF, NUL or another control character in a value, a name that is not a token, a character past latin-1: refused', () => {
    const bad: [string, string][] = [
      ['X-A', 'a\r\nSet-Cookie: evil=1'],
      ['X-A', 'a\nb'],
      ['X-A', 'a\rb'],
      ['X-A', 'a\0b'],
      ['X-A', 'a\x7fb'],
      ['X-A', 'a\x01b'],
      ['X-A', '\u20ac'],
      ['X A', 'v'],
      ['X-A:', 'v'],
      ['', 'v'],
    ];
    for (const h of bad) {
      assert.throws(() => acceptResponse(request(), { headers: [h] }), LocalProtocolError, JSON.stringify(h));
    }
    // a tab and latin-1 text are field content
    assert.match(acceptResponse(request(), { headers: [['X-A', 'a\tb \xe9']] }).toString('latin1'), /X-A: a\tb \xe9\r\n/);
  });
});
