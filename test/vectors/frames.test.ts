// Worker -> gateway frames on a request channel (docs/worker-protocol.md), as the
// gateway reads them: bytes from the worker's socket go to a real Channel
// (src/workers/channel.ts: FrameReader of src/workers/frame.ts, RDATA handed on in
// pieces) lent to a real Python-app exchange (src/apps/python-app.ts: the type and
// state checks, parseResponse, parseFile). Only the sockets, the pool and the
// logger are fakes. Vectors: test/vectors/frames/, made by generate.py there. Each json:
//   { why, todo?, events, body, body_error, written, error }   (todo: see feed.ts)
// events:     in order: ['response', status, headers] (startResponse was called),
//             ['log', level, message] (a LOG frame), ['free'] (the response ended and
//             the channel was handed back)
// body:       the response body the app call resolved with (null: none)
// body_error: the code the response failed with (the app call rejected, or its
//             body failed after the head), or null
// written:    frames the gateway wrote back to the worker after its REQUEST (hex)
// error:      { code, status } when the gateway judged the worker broken (it kills it);
//             feeding stops there, as the worker's sockets are destroyed
// Fed whole, line by line, byte by byte and in random splits (feed.ts);
// FRAMES_VECTOR_SEED replays the random splits of a failure.

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { pythonApp } from '../../src/apps/python-app.js';
import type { GatewayError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { BodyInput } from '../../src/pipeline/input.js';
import type { Body, Environ } from '../../src/pipeline/types.js';
import { Channel, type ChannelOwner, type Exchange } from '../../src/workers/channel.js';
import { vectorSuites } from './feed.js';

type Event = ['response', string, [string, string][]] | ['log', number, string] | ['free'];
interface Outcome {
  events: Event[];
  body: string | null;
  body_error: string | null;
  written: string[];
  error: { code: string; status: number } | null;
}
interface Vector extends Outcome {
  why: string;
  todo?: string;
}

class FakeSocket extends EventEmitter {
  written: Buffer[] = [];
  write(b: Uint8Array): boolean {
    this.written.push(Buffer.from(b));
    return true;
  }
  cork(): void {}
  uncork(): void {}
  destroy(): void {}
  pause(): void {}
  resume(): void {}
  isPaused(): boolean {
    return false;
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The body's bytes: all of them once it ended; before that, what is there without waiting. */
async function drain(body: Body, ended: boolean): Promise<{ bytes: string; error: string | null }> {
  const parts: Buffer[] = [];
  if (Array.isArray(body)) return { bytes: Buffer.concat(body as Buffer[]).toString('latin1'), error: null };
  const it = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const stall: IteratorResult<Uint8Array> = { done: true, value: undefined };
  try {
    for (;;) {
      const next = ended ? await it.next() : await Promise.race([it.next(), tick().then(() => stall)]);
      if (next.done) break;
      parts.push(Buffer.from(next.value));
    }
  } catch (err) {
    return { bytes: Buffer.concat(parts).toString('latin1'), error: (err as GatewayError).code };
  }
  return { bytes: Buffer.concat(parts).toString('latin1'), error: null };
}

async function run(chunks: Buffer[], want: Outcome): Promise<Outcome> {
  const events: Event[] = [];
  let error: Outcome['error'] = null;
  let freed = false;
  const owner: ChannelOwner = {
    pid: 4242,
    busy: 0,
    served: 0,
    channelOnFree: () => {
      freed = true;
      events.push(['free']);
    },
    channelOnAdvance: () => {},
    channelOnOrphan: () => {},
    channelOnBroken: (_ch, err) => {
      error ??= { code: err.code, status: err.status };
    },
  };
  const tx = new FakeSocket();
  const rx = new FakeSocket();
  const channel = new Channel(tx as unknown as Socket, rx as unknown as Socket, owner, 0);
  const log = { log: (level: number, message: string) => events.push(['log', level, message]), debug: () => {} } as unknown as Logger;
  let exchange: Exchange | null = null;
  const app = pythonApp(
    {
      submit: (ex) => {
        exchange = ex;
      },
    },
    log,
    { bufferResponse: 1 << 20 },
  );
  const environ = {
    REQUEST_METHOD: 'GET',
    SCRIPT_NAME: '',
    PATH_INFO: '/',
    QUERY_STRING: '',
    SERVER_NAME: 'h',
    SERVER_PORT: '80',
    SERVER_PROTOCOL: 'HTTP/1.1',
    'wsgi.url_scheme': 'http',
    'wsgi.input': BodyInput.of(Buffer.alloc(0)),
    'wsgi.errors': { write() {} },
  } as Environ;
  const settled: { body?: Body; rejected?: string } = {};
  void (
    app(environ, (status, headers) => {
      events.push(['response', status, headers]);
      return () => {};
    }) as Promise<Body>
  ).then(
    (b) => {
      settled.body = b;
    },
    (err: GatewayError) => {
      settled.rejected = err.code;
    },
  );
  channel.begin(exchange!);
  tx.written = []; // the REQUEST frame
  for (const chunk of chunks) {
    if (error) break;
    rx.emit('data', chunk);
  }
  // answers to FILE frames come after the gateway tried to open the file
  for (let waited = 0; tx.written.length < want.written.length && waited < 2000; waited += 5) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await tick();
  let body: string | null = null;
  let bodyError: string | null = settled.rejected ?? null;
  if (settled.body !== undefined) {
    const drained = await drain(settled.body, freed);
    body = drained.bytes;
    bodyError = drained.error;
  }
  return { events, body, body_error: bodyError, written: tx.written.map((b) => b.toString('hex')), error };
}

vectorSuites<Vector>({
  format: 'frames',
  ext: 'frames',
  seedVar: 'FRAMES_VECTOR_SEED',
  async check({ vector, chunks, where }) {
    const { why: _why, todo: _todo, ...want } = vector;
    assert.deepEqual(await run(chunks, want), want, where);
  },
});
