// The TypeScript side of the pipeline: a TS app and middleware served by the
// HTTP listener in-process, no Python involved. Same semantics as WSGI.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpListener, Logger, compose, defaultLimitsFor, type App, type Middleware } from '../helpers/pipeline.js';
import { exchange, parseResponses, rawRequest } from '../helpers/raw.js';

const closed: string[] = [];
const logged: string[] = [];

const tagged: Middleware = (app) => (environ, startResponse) =>
  app(environ, (status, headers, excInfo) => startResponse(status, [...headers, ['X-Tag', String(environ.PATH_INFO)]], excInfo));

const app: App = async (environ, startResponse) => {
  switch (environ.PATH_INFO) {
    case '/echo': {
      const body = await environ['wsgi.input'].readAll();
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      return [body];
    }
    case '/async':
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      return Object.assign(
        (async function* () {
          yield 'a';
          await new Promise((r) => setTimeout(r, 10));
          yield Buffer.from('b');
        })(),
        { close: () => void closed.push('/async') },
      );
    case '/write': {
      const write = startResponse('200 OK', []);
      write('one ');
      return ['two'];
    }
    case '/throw':
      throw new Error('TS app failure');
    case '/exc': {
      startResponse('200 OK', []);
      startResponse('418 Teapot', [], new Error('replaced'));
      return ['tea'];
    }
    case '/twice':
      startResponse('200 OK', []);
      startResponse('200 OK', []);
      return [];
    case '/errors':
      environ['wsgi.errors'].write('from the TS app\n');
      startResponse('204 No Content', []);
      return [];
    case '/split':
      startResponse('200 OK', [['X-Bad', 'a\r\nSet-Cookie: x=1']]);
      return ['no'];
    default:
      startResponse('404 Not Found', [['Content-Length', '0']]);
      return [];
  }
};

describe('TypeScript pipeline', () => {
  let listener: HttpListener;
  let port: number;
  before(async () => {
    const log = new Logger(10, (line) => void logged.push(line));
    listener = new HttpListener(compose(tagged)(app), defaultLimitsFor(), log);
    port = Number(/:(\d+)$/.exec(await listener.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 }, 0o660))![1]);
  });
  after(async () => {
    await listener.close();
  });

  test('middleware wraps the app; the input stream and a whole body', async () => {
    const res = await rawRequest(port, 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
    assert.equal(res.body.toString(), 'hello');
    assert.equal(res.headers.get('x-tag'), '/echo');
    assert.equal(res.headers.get('content-length'), '5');
  });

  test('async iterable bodies stream and close() is called', async () => {
    const res = await rawRequest(port, 'GET /async HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(res.body.toString(), 'ab');
    assert.equal(res.headers.get('transfer-encoding'), 'chunked');
    assert.deepEqual(closed, ['/async']);
  });

  test('write(), excInfo replacement, and errors', async () => {
    assert.equal((await rawRequest(port, 'GET /write HTTP/1.1\r\nHost: x\r\n\r\n')).body.toString(), 'one two');
    const exc = await rawRequest(port, 'GET /exc HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(exc.status, 418);
    const { bytes } = await exchange(
      port,
      'GET /throw HTTP/1.1\r\nHost: x\r\n\r\nGET /twice HTTP/1.1\r\nHost: x\r\n\r\nGET /split HTTP/1.1\r\nHost: x\r\n\r\n',
      { idleMs: 500 },
    );
    const res = parseResponses(bytes);
    assert.deepEqual(
      res.map((r) => r.status),
      [500, 500, 500],
    );
    assert.equal(res[2]!.headers.get('set-cookie'), undefined);
    assert.ok(logged.some((l) => l.includes('TS app failure')));
    assert.ok(logged.some((l) => l.includes('startResponse called twice')));
  });

  test('wsgi.errors writes to the log', async () => {
    await rawRequest(port, 'GET /errors HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.ok(logged.some((l) => l.includes('[ERROR] from the TS app')));
  });
});
