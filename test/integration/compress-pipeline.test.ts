// --compress as a Middleware in front of TypeScript apps, served by the real
// HTTP listener in-process: which responses are compressed and how their
// heads change, every coding decoded back to the app's bytes, streams flushed
// block by block (the app's next block is let out only once the client decoded
// the one before), close() exactly once, write(), excInfo.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { HttpListener, Logger, compose, defaultLimitsFor, type App } from '../helpers/pipeline.js';
import { compression } from '../../src/pipeline/compress.js';
import { parseCompress } from '../../src/pipeline/codings.js';
import { rawRequest } from '../helpers/raw.js';
import { decode, decoder, getRaw, nodeHasZstd, prose } from '../helpers/compressed.js';

const TEXT = prose(20_000);
const BIG = prose(3 << 20, 7);
const closes = new Map<string, number>();
const closeWaiters = new Map<string, () => void>();
const closed = (path: string) => (): void => {
  closes.set(path, (closes.get(path) ?? 0) + 1);
  closeWaiters.get(path)?.();
};
/** Resolves when the app's body for `path` is closed (at once if it was). */
const whenClosed = (path: string): Promise<void> =>
  closes.has(path) ? Promise.resolve() : new Promise((resolve) => closeWaiters.set(path, resolve));

/** Gates of the streaming app, made afresh per request: block i+1 is yielded once the test opened gate i. */
let gates: (() => void)[] = [];
let opened: Promise<void>[] = [];
function newGates(): void {
  gates = [];
  opened = BLOCKS.map(() => new Promise<void>((resolve) => gates.push(resolve)));
}
const BLOCKS = [prose(3000, 2), prose(10, 3), prose(70_000, 4)];

type Sr = Parameters<App>[1];
const send = (startResponse: Sr, type: string, body: string | Buffer, more: [string, string][] = []): Buffer[] => {
  startResponse('200 OK', [['Content-Type', type], ...more]);
  return [Buffer.from(body)];
};

/** Bytes that do not shrink. */
const NOISE = Buffer.alloc(4096);
for (let i = 0, x = 9; i < NOISE.length; i++) NOISE[i] = (x = (x * 48271) % 2147483647) & 0xff;

const routes: Record<string, App> = {
  '/text': (_e, sr) => send(sr, 'text/html; charset=utf-8', TEXT),
  '/json': (_e, sr) => send(sr, 'application/problem+json', TEXT, [['Content-Length', String(TEXT.length)]]),
  '/big': (_e, sr) => Object.assign(send(sr, 'text/plain', BIG), { close: closed('/big') }),
  '/png': (_e, sr) => send(sr, 'image/png', TEXT),
  '/events': (_e, sr) => send(sr, 'text/event-stream', TEXT),
  '/no-transform': (_e, sr) => send(sr, 'text/plain', TEXT, [['Cache-Control', 'public, No-Transform']]),
  '/encoded': (_e, sr) => send(sr, 'text/plain', TEXT, [['Content-Encoding', 'identity']]),
  '/small': (_e, sr) => send(sr, 'text/plain', TEXT.slice(0, 1023)),
  '/small-length': (_e, sr) => {
    sr('200 OK', [
      ['Content-Type', 'text/plain'],
      ['Content-Length', '900'],
    ]);
    return (async function* () {
      yield TEXT.slice(0, 900);
    })();
  },
  '/validators': (_e, sr) =>
    send(sr, 'text/css', TEXT, [
      ['ETag', '"v1"'],
      ['Vary', 'Cookie'],
      ['X-Other', 'kept'],
    ]),
  '/weak': (_e, sr) =>
    send(sr, 'text/css', TEXT, [
      ['ETag', 'W/"v2"'],
      ['Vary', 'accept-encoding, Cookie'],
    ]),
  '/random': (_e, sr) => send(sr, 'text/plain', NOISE),
  '/204': (_e, sr) => (sr('204 No Content', [['Content-Type', 'text/plain']]), []),
  '/304': (_e, sr) => (
    sr('304 Not Modified', [
      ['Content-Type', 'text/plain'],
      ['ETag', '"x"'],
    ]),
    []
  ),
  '/206': (_e, sr) => (
    sr('206 Partial Content', [
      ['Content-Type', 'text/plain'],
      ['Content-Range', 'bytes 0-99/200'],
    ]),
    [TEXT.slice(0, 100)]
  ),
  '/404': (_e, sr) => (sr('404 Not Found', [['Content-Type', 'text/html']]), [TEXT]),
  '/write': (_e, sr) => {
    sr('200 OK', [['Content-Type', 'text/plain']])(TEXT);
    return Object.assign([' and more'], { close: closed('/write') });
  },
  '/lazy': (_e, sr) =>
    (async function* () {
      sr('200 OK', [['Content-Type', 'text/plain']]);
      yield TEXT;
    })(),
  '/exc': (_e, sr) => {
    sr('200 OK', [['Content-Type', 'text/plain']]);
    sr('500 Internal Server Error', [['Content-Type', 'text/html']], new Error('replaced'));
    return [TEXT];
  },
  '/stream': (_e, sr) => {
    sr('200 OK', [
      ['Content-Type', 'text/plain'],
      ['Content-Length', String(BLOCKS.join('').length)],
    ]);
    newGates();
    const blocks = async function* (): AsyncGenerator<string> {
      for (let i = 0; i < BLOCKS.length; i++) {
        if (i > 0) await opened[i - 1];
        yield BLOCKS[i]!;
      }
    };
    return Object.assign(blocks(), { close: closed('/stream') });
  },
  '/endless': (_e, sr) => {
    sr('200 OK', [['Content-Type', 'application/json']]);
    const lines = async function* (): AsyncGenerator<string> {
      for (let i = 0; ; i++) {
        yield `{"n": ${i}, "text": "${TEXT.slice(0, 2000)}"}\n`;
        await new Promise((r) => setImmediate(r));
      }
    };
    return Object.assign(lines(), { close: closed('/endless') });
  },
};

const app: App = (environ, startResponse) => {
  const route = routes[environ.PATH_INFO];
  if (route !== undefined) return route(environ, startResponse);
  startResponse('404 Not Found', [['Content-Type', 'text/plain']]);
  return ['no'];
};

const codings = nodeHasZstd ? ['br', 'zstd', 'gzip'] : ['br', 'gzip'];

describe('--compress in front of a TypeScript app', () => {
  let listener: HttpListener;
  let port: number;
  before(async () => {
    const mw = compression({ codings: parseCompress('on'), minSize: 1024 });
    listener = new HttpListener(compose(mw)(app), defaultLimitsFor(), new Logger(40, () => {}));
    port = Number(/:(\d+)$/.exec(await listener.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 }, 0o660))![1]);
  });
  after(async () => {
    await listener.close();
  });
  const get = (path: string, accept: string | null, more: Record<string, string> = {}) =>
    getRaw(port, path, accept === null ? more : { 'Accept-Encoding': accept, ...more });

  test('each coding: the bytes decode to the body, with a Content-Length of their own and Vary', async () => {
    for (const coding of codings) {
      for (const path of ['/text', '/json']) {
        const res = await get(path, coding);
        assert.equal(res.headers['content-encoding'], coding, `${path} ${coding}`);
        assert.equal(res.headers.vary, 'Accept-Encoding');
        assert.equal(Number(res.headers['content-length']), res.raw.length);
        assert.ok(res.raw.length < TEXT.length / 2, `${coding}: ${res.raw.length} bytes`);
        assert.equal(decode(coding, res.raw).toString(), TEXT);
      }
    }
    const plain = await get('/text', null);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.raw.toString(), TEXT);
  });

  test('the client picks by q; the server order breaks ties; a bad header counts as absent', async () => {
    assert.equal((await get('/text', 'gzip, deflate, br, zstd')).headers['content-encoding'], 'br');
    assert.equal((await get('/text', 'br;q=0.5, gzip')).headers['content-encoding'], 'gzip');
    assert.equal((await get('/text', 'gzip;q=0.5, identity')).headers['content-encoding'], undefined);
    assert.equal((await get('/text', 'gzip;q=5')).headers['content-encoding'], undefined);
    assert.equal((await get('/text', 'deflate')).headers['content-encoding'], undefined);
    assert.equal((await get('/text', '*')).headers['content-encoding'], 'br');
  });

  test('sent as they are: other types, no-transform, already encoded, small, 204/206/304, HEAD, ranges', async () => {
    for (const path of ['/png', '/events', '/no-transform', '/encoded', '/small', '/small-length', '/random', '/206']) {
      const res = await get(path, 'gzip, br');
      assert.notEqual(res.headers['content-encoding'], 'gzip', path);
      assert.notEqual(res.headers['content-encoding'], 'br', path);
      assert.equal(res.headers.vary, undefined, path);
    }
    assert.equal((await get('/204', 'gzip')).status, 204);
    const nm = await get('/304', 'gzip');
    assert.equal(nm.status, 304);
    assert.equal(nm.headers['content-encoding'], undefined);
    assert.equal(nm.headers.etag, '"x"');
    const head = await rawRequest(port, 'HEAD /text HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n');
    assert.equal(head.headers.get('content-encoding'), undefined);
    assert.equal(head.headers.get('content-length'), String(TEXT.length));
    const range = await get('/text', 'gzip', { Range: 'bytes=0-10' });
    assert.equal(range.headers['content-encoding'], undefined);
    const notFound = await get('/404', 'gzip');
    assert.equal(notFound.status, 404);
    assert.equal(decode(notFound.headers['content-encoding'], notFound.raw).toString(), TEXT, 'an error page is compressed too');
  });

  test('validators: a strong ETag made weak, a weak one kept; Accept-Encoding added to Vary once', async () => {
    const v = await get('/validators', 'gzip');
    assert.equal(v.headers.etag, 'W/"v1"');
    assert.equal(v.headers.vary, 'Cookie, Accept-Encoding');
    assert.equal(v.headers['x-other'], 'kept');
    const w = await get('/weak', 'gzip');
    assert.equal(w.headers.etag, 'W/"v2"');
    assert.equal(w.headers.vary, 'accept-encoding, Cookie');
    assert.equal(decode('gzip', w.raw).toString(), TEXT);
  });

  test('write(), a startResponse made while iterating, excInfo: sent as the app meant', async () => {
    const w = await get('/write', 'gzip');
    assert.equal(w.headers['content-encoding'], undefined);
    assert.equal(w.raw.toString(), `${TEXT} and more`);
    assert.equal(closes.get('/write'), 1);
    const lazy = await get('/lazy', 'gzip');
    assert.equal(lazy.status, 200);
    assert.equal(lazy.raw.toString(), TEXT);
    const exc = await get('/exc', 'gzip');
    assert.equal(exc.status, 500);
    assert.equal(exc.headers['content-type'], 'text/html');
    assert.equal(decode(exc.headers['content-encoding'], exc.raw).toString(), TEXT);
  });

  test('a body over the event-loop bound is compressed on the thread pool, and closed once', async () => {
    for (const coding of codings) {
      const res = await get('/big', coding);
      assert.equal(res.headers['content-encoding'], coding);
      assert.equal(Number(res.headers['content-length']), res.raw.length);
      assert.ok(decode(coding, res.raw).equals(Buffer.from(BIG)));
    }
    assert.equal(closes.get('/big'), codings.length);
  });

  test('a stream: each block decodable as soon as it is sent (the next is made only then), chunked, closed once', async () => {
    for (const coding of codings) {
      const before = closes.get('/stream') ?? 0;
      const text = await new Promise<string>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/stream', headers: { 'Accept-Encoding': coding }, agent: false }, (res) => {
          assert.equal(res.headers['content-encoding'], coding);
          assert.equal(res.headers['transfer-encoding'], 'chunked', 'the Content-Length of the plain body is dropped');
          assert.equal(res.headers['content-length'], undefined);
          const d = decoder(coding);
          let got = '';
          let next = 0;
          let want = BLOCKS[0]!.length;
          d.on('data', (b: Buffer) => {
            got += b.toString();
            // everything the app yielded so far is here: let it make the next block
            while (got.length === want && next < BLOCKS.length - 1) {
              gates[next]!();
              next++;
              want += BLOCKS[next]!.length;
            }
          });
          d.on('end', () => resolve(got));
          d.on('error', reject);
          res.pipe(d);
        });
        req.on('error', reject);
      });
      assert.equal(text, BLOCKS.join(''), coding);
      assert.equal(closes.get('/stream'), before + 1);
    }
  });

  test('a client that leaves mid-stream: the app is closed, the listener goes on', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/endless', headers: { 'Accept-Encoding': 'br' }, agent: false }, (res) => {
        const d = decoder('br');
        let got = 0;
        d.on('data', (b: Buffer) => {
          got += b.length;
          if (got > 50_000) {
            req.destroy();
            resolve();
          }
        });
        res.pipe(d);
      });
      req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
    });
    await whenClosed('/endless');
    assert.equal(closes.get('/endless'), 1);
    assert.equal((await get('/text', 'gzip')).status, 200);
  });
});
