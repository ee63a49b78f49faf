import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AccessEntry } from '../access-log.js';
import { GatewayError, OverloadError, codes } from '../errors.js';
import { Logger } from '../log.js';
import { BodyInput } from '../pipeline/input.js';
import type { App, Body, Environ, Headers } from '../pipeline/types.js';
import { Exchange, type ResponseSink } from './exchange.js';

/** A sink that writes down what the exchange asked of it. */
class Recorder implements ResponseSink {
  readonly calls: string[] = [];
  closed = false;
  finalStatusOnly = true;
  cutShort = false;
  sendWhole(status: string, _code: number, headers: Headers, chunks: Uint8Array[], total: number): number {
    this.calls.push(`whole ${status} ${headers.length}h ${Buffer.concat(chunks).toString()} (${total})`);
    return total;
  }
  sendHead(status: string, _code: number, _headers: Headers, first: Uint8Array): number {
    this.calls.push(`head ${status} ${Buffer.from(first).toString()}`);
    return first.length;
  }
  sendBody(data: Uint8Array): number {
    this.calls.push(`body ${Buffer.from(data).toString()}`);
    return data.length;
  }
  backpressure(): Promise<void> | null {
    return null;
  }
  endBody(): boolean {
    this.calls.push('end');
    return !this.cutShort;
  }
  answer(status: number, retryAfter: number | null): number {
    this.calls.push(`answer ${status}${retryAfter === null ? '' : ` retry ${retryAfter}`}`);
    return 4;
  }
  abort(): void {
    this.calls.push('abort');
  }
  done(): void {
    this.calls.push('done');
  }
}

function run(app: App, sink = new Recorder()): Promise<{ sink: Recorder; records: AccessEntry[]; logged: string[] }> {
  const records: AccessEntry[] = [];
  const logged: string[] = [];
  const server = {
    app,
    log: new Logger(10, (line) => void logged.push(line)),
    observer: { record: (e: AccessEntry) => void records.push(e) },
  };
  const environ = { REQUEST_METHOD: 'GET', PATH_INFO: '/x', REQUEST_URI: '/x' } as Partial<Environ> as Environ;
  new Exchange(server, environ, sink, '127.0.0.1', 'http', 1).run(BodyInput.of(Buffer.alloc(0)));
  return new Promise((resolve) => setTimeout(() => resolve({ sink, records, logged }), 20));
}

/** A body whose close() is counted. */
function closing(chunks: string[], fail = false): Body & { closed: number } {
  const body = {
    closed: 0,
    async *[Symbol.asyncIterator]() {
      for (const c of chunks) yield Buffer.from(c);
      if (fail) throw new Error('fails after its head');
    },
    close() {
      body.closed++;
    },
  };
  return body;
}

test('exchange: a whole body goes out in one piece, recorded once, then the connection goes on', async () => {
  const { sink, records } = await run((_e, sr) => {
    sr('200 OK', [['Content-Type', 'text/plain']]);
    return [Buffer.from('hi'), 'there'];
  });
  assert.deepEqual(sink.calls, ['whole 200 OK 1h hithere (7)', 'end', 'done']);
  assert.equal(records.length, 1);
  assert.equal(records[0]!.status, 200);
  assert.equal(records[0]!.bytes, 7);
});

test('exchange: write() goes before the returned body, the head with the first bytes', async () => {
  const { sink } = await run((_e, sr) => {
    const write = sr('200 OK', []);
    write('one,');
    return ['two'];
  });
  assert.deepEqual(sink.calls, ['head 200 OK one,', 'body two', 'end', 'done']);
});

test('exchange: a streamed body, then close() exactly once', async () => {
  const body = closing(['a', '', 'b']);
  const { sink } = await run((_e, sr) => {
    sr('200 OK', []);
    return body;
  });
  assert.deepEqual(sink.calls, ['head 200 OK a', 'body b', 'end', 'done']);
  assert.equal(body.closed, 1);
});

test("exchange: an error before any head is the gateway's answer; after the head, an abort and no second status", async () => {
  const before = await run(() => {
    throw new Error('boom');
  });
  assert.deepEqual(before.sink.calls, ['answer 500', 'done']);
  assert.equal(before.records[0]!.status, 500);
  assert.match(before.logged.join('\n'), /Error handling GET \/x: Error: boom/);
  const body = closing(['a'], true);
  const after = await run((_e, sr) => {
    sr('200 OK', []);
    return body;
  });
  assert.deepEqual(after.sink.calls, ['head 200 OK a', 'abort']);
  assert.equal(after.records[0]!.status, 200);
  assert.equal(body.closed, 1);
});

test('exchange: exc_info replaces the head before it is sent, and is raised again after', async () => {
  const { sink } = await run((_e, sr) => {
    sr('200 OK', []);
    sr('503 Service Unavailable', [], new Error('replaced'));
    return ['x'];
  });
  assert.deepEqual(sink.calls, ['whole 503 Service Unavailable 0h x (1)', 'end', 'done']);
  const late = await run((_e, sr) => {
    const write = sr('200 OK', []);
    write('sent');
    sr('500 Oops', [], new Error('too late'));
    return [];
  });
  assert.deepEqual(late.sink.calls, ['head 200 OK sent', 'abort']);
  assert.match(late.logged.join('\n'), /too late/);
});

test('exchange: start_response twice, none at all, a 1xx where only a final status may be, a bad chunk: each a 500', async () => {
  const apps: App[] = [
    (_e, sr) => (sr('200 OK', []), sr('200 OK', []), []),
    () => ['no start_response'],
    (_e, sr) => (sr('103 Early Hints', []), []),
    (_e, sr) => (sr('200 OK', []), [42 as unknown as string]),
  ];
  for (const app of apps) assert.deepEqual((await run(app)).sink.calls, ['answer 500', 'done']);
});

test('exchange: errors said where they happened are not logged again; an overload carries Retry-After', async () => {
  const overloaded = await run(() => Promise.reject(new OverloadError('queue full', 3)));
  assert.deepEqual(overloaded.sink.calls, ['answer 503 retry 3', 'done']);
  assert.deepEqual(overloaded.logged, []);
  const died = await run(() => Promise.reject(new GatewayError(codes.WORKER_DIED, 'worker 7 exited with code 1', 502)));
  assert.deepEqual(died.sink.calls, ['answer 502', 'done']);
  assert.match(died.logged.join('\n'), /worker 7 exited with code 1 while handling GET \/x/);
});

test('exchange: a body cut short by the framing aborts; a client gone drops what still comes and closes the body', async () => {
  const short = new Recorder();
  short.cutShort = true;
  assert.deepEqual((await run((_e, sr) => (sr('200 OK', []), ['x']), short)).sink.calls, ['whole 200 OK 0h x (1)', 'end', 'abort']);
  const gone = new Recorder();
  const body = closing(['a', 'b']);
  const { records } = await run((_e, sr) => {
    sr('200 OK', []);
    gone.closed = true; // the client left before the body was iterated
    return body;
  }, gone);
  assert.deepEqual(gone.calls, []);
  assert.equal(body.closed, 1);
  assert.equal(records.length, 0); // the listener records its 499 when it sees the close (clientGone)
});

test("exchange: a body whose `whole` is not a function, or throws, is the app's error (500), not the gateway's crash", async () => {
  for (const whole of [
    'not a function',
    () => {
      throw new Error('whole fails');
    },
  ]) {
    const body = Object.assign(closing(['x']), { whole });
    const { sink, records } = await run((_e, sr) => {
      sr('200 OK', []);
      return body as Body;
    });
    assert.deepEqual(sink.calls, ['answer 500', 'done']);
    assert.equal(records[0]!.status, 500);
    assert.equal(body.closed, 1);
  }
});
