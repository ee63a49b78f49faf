// WebSocket frames from a client (test/vectors/websocket/, made by generate.py there)
// through the server's FrameParser (src/protocols/websocket/frames.ts) and, when a vector
// says so, permessage-deflate (deflate.ts). Each json:
//   { why, max_message?, deflate?, events }
// max_message: the parser's maxMessage (default 1 MiB)
// deflate:     permessage-deflate was negotiated; { client_no_context_takeover?: true }
//              (absent: no extension, RSV1 is a protocol error)
// events:      in order: ['text', string] | ['binary', hex] | ['binary-sha256', length, sha256]
//              | ['ping', hex] | ['pong', hex] | ['close', code, reason] | ['fail', close code]
// Fed whole, line by line, byte by byte and in random splits (feed.ts); a Promise from
// next() (a big compressed message) is awaited. WEBSOCKET_VECTOR_SEED replays the random
// splits of a failure.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PerMessageDeflate } from '../../src/protocols/websocket/deflate.js';
import { FrameParser, NEED_DATA, type WsEvent } from '../../src/protocols/websocket/frames.js';
import { vectorSuites } from './feed.js';

type Event = (string | number)[];
interface Vector {
  why: string;
  max_message?: number;
  deflate?: { client_no_context_takeover?: boolean };
  events: Event[];
}

function plain(ev: WsEvent): Event {
  switch (ev.kind) {
    case 'message':
      if (ev.text) return ['text', ev.data.toString('utf8')];
      if (ev.data.length <= 256) return ['binary', ev.data.toString('hex')];
      return ['binary-sha256', ev.data.length, createHash('sha256').update(ev.data).digest('hex')];
    case 'ping':
    case 'pong':
      return [ev.kind, ev.data.toString('hex')];
    case 'close':
      return ['close', ev.code, ev.reason];
    case 'fail':
      return ['fail', ev.code];
  }
}

async function run(chunks: Buffer[], vector: Vector): Promise<Event[]> {
  const deflate =
    vector.deflate === undefined
      ? null
      : new PerMessageDeflate({
          serverNoContextTakeover: false,
          clientNoContextTakeover: vector.deflate.client_no_context_takeover === true,
          serverMaxWindowBits: 15,
          clientMaxWindowBits: 15,
        });
  const parser = new FrameParser({ maxMessage: vector.max_message ?? 1024 * 1024, deflate });
  const events: Event[] = [];
  for (const chunk of chunks) {
    // the parser unmasks in place: each way gets its own copy of the bytes
    parser.receive(Buffer.from(chunk));
    for (let ev = parser.next(); ev !== NEED_DATA; ev = parser.next()) events.push(plain(ev instanceof Promise ? await ev : ev));
  }
  return events;
}

vectorSuites<Vector>({
  format: 'websocket',
  ext: 'ws',
  seedVar: 'WEBSOCKET_VECTOR_SEED',
  async check({ vector, chunks, where }) {
    assert.deepEqual(await run(chunks, vector), vector.events, where);
  },
});
