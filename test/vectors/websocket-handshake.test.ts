// WebSocket opening handshakes (test/vectors/websocket-handshake/, made by generate.py
// there): raw requests read by the HTTP/1.1 parser (src/protocols/http1/parse.ts), as the
// listener reads them, then judged by checkHandshake (src/protocols/websocket/handshake.ts)
// and, when accepted, negotiated by negotiateDeflate (deflate.ts) with its default options.
// Each json: { why, result }; result is null (not a WebSocket handshake), { status, headers }
// (refused) or { accept, subprotocols, extensions, deflate } (accepted). Fed whole, line
// by line, byte by byte and in random splits (feed.ts); WEBSOCKET_HANDSHAKE_VECTOR_SEED
// replays the random splits of a failure.

import assert from 'node:assert/strict';
import { NEED_DATA, RequestParser, type RequestHead } from '../../src/protocols/http1/parse.js';
import { negotiateDeflate } from '../../src/protocols/websocket/deflate.js';
import { checkHandshake } from '../../src/protocols/websocket/handshake.js';
import { vectorSuites } from './feed.js';

interface Vector {
  why: string;
  result: unknown;
}

function head(chunks: Buffer[]): RequestHead {
  const parser = new RequestParser();
  for (const chunk of chunks) {
    parser.receive(chunk);
    const ev = parser.next();
    if (ev !== NEED_DATA && ev.kind === 'request') return ev;
  }
  throw new Error('no request head in the vector');
}

function judge(h: RequestHead): unknown {
  const ws = checkHandshake(h);
  if (ws === null) return null;
  if (ws.kind === 'reject') return { status: ws.status, headers: ws.headers };
  const deflate = negotiateDeflate(ws.extensions);
  return { accept: ws.accept, subprotocols: ws.subprotocols, extensions: ws.extensions, deflate: deflate?.header ?? null };
}

vectorSuites<Vector>({
  format: 'websocket-handshake',
  ext: 'http',
  seedVar: 'WEBSOCKET_HANDSHAKE_VECTOR_SEED',
  check({ vector, chunks, where }) {
    assert.deepEqual(judge(head(chunks)), vector.result, where);
  },
});
