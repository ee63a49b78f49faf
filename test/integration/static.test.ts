// --static: files served by the gateway itself, beside the Python app, and
// never anything outside their directory; what it found kept for
// --static-cache-valid, and changes on disk seen after it. Real CLI, real sockets.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer, type Server } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';

/** 1.5 MiB that is not one byte repeated: larger than a small file (64 KiB) and than a read block (512 KiB). */
const BIG = Buffer.from(Array.from({ length: 1536 * 1024 + 7 }, (_, i) => (i * 7 + (i >> 10)) % 256));

describe('--static', () => {
  let srv: Server;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(`${tmpdir()}/warpipe-static-`);
    mkdirSync(`${dir}/public/sub`, { recursive: true });
    writeFileSync(`${dir}/public/a.txt`, 'abcdefghij');
    writeFileSync(`${dir}/public/index.html`, '<h1>home</h1>');
    writeFileSync(`${dir}/public/sub/style.css`, 'body{}');
    writeFileSync(`${dir}/secret.txt`, 'outside');
    symlinkSync(`${dir}/secret.txt`, `${dir}/public/escape.txt`);
    symlinkSync(`${dir}/public/a.txt`, `${dir}/public/inside.txt`);
    writeFileSync(`${dir}/public/big.bin`, BIG);
    srv = await startServer('pep3333:application', { args: ['--static', `/static=${dir}/public`] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });
  const get = (path: string, headers: Record<string, string> = {}): Promise<Response> => fetch(`${srv.url}${path}`, { headers });

  test('a file: its bytes, type, length, validators; HEAD has the same head and no body', async () => {
    const res = await get('/static/a.txt');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'abcdefghij');
    assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(res.headers.get('content-length'), '10');
    assert.match(res.headers.get('etag')!, /^W\/"a-[0-9a-f]+"$/);
    assert.ok(res.headers.get('last-modified'));
    assert.equal((await get('/static/sub/style.css')).headers.get('content-type'), 'text/css; charset=utf-8');
    const head = await rawRequest(srv.port, 'HEAD /static/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '10');
    assert.equal(head.body.length, 0);
    // the head made for the keep-alive GETs above is not reused for a request that closes, nor for HTTP/1.0
    const close = await rawRequest(srv.port, 'GET /static/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(close.headers.get('connection'), 'close');
    assert.equal(close.body.toString(), 'abcdefghij');
    assert.ok(close.closed);
    const old = await rawRequest(srv.port, 'GET /static/a.txt HTTP/1.0\r\n\r\n');
    assert.equal(old.headers.get('connection'), undefined);
    assert.ok(old.closed);
  });

  test('conditional requests get 304; ranges get 206 or 416', async () => {
    const etag = (await get('/static/a.txt')).headers.get('etag')!;
    assert.equal((await get('/static/a.txt', { 'If-None-Match': etag })).status, 304);
    assert.equal((await get('/static/a.txt', { 'If-Modified-Since': new Date(Date.now() + 60_000).toUTCString() })).status, 304);
    assert.equal((await get('/static/a.txt', { 'If-Modified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT' })).status, 200);
    const part = await get('/static/a.txt', { Range: 'bytes=2-5' });
    assert.equal(part.status, 206);
    assert.equal(await part.text(), 'cdef');
    assert.equal(part.headers.get('content-range'), 'bytes 2-5/10');
    assert.equal(await (await get('/static/a.txt', { Range: 'bytes=-3' })).text(), 'hij');
    const none = await get('/static/a.txt', { Range: 'bytes=50-' });
    assert.equal(none.status, 416);
    assert.equal(none.headers.get('content-range'), 'bytes */10');
    assert.equal((await get('/static/a.txt', { Range: 'bytes=2-3', 'If-Range': '"other"' })).status, 200);
  });

  test('a large file (read from its descriptor, block by block): whole, in ranges, HEAD, 304, many at once', async () => {
    const bytes = async (res: Response): Promise<Buffer> => Buffer.from(await res.arrayBuffer());
    const whole = await get('/static/big.bin');
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('content-length'), String(BIG.length));
    assert.equal(whole.headers.get('content-type'), 'application/octet-stream');
    assert.ok((await bytes(whole)).equals(BIG));
    const across = await get('/static/big.bin', { Range: 'bytes=524000-1049000' });
    assert.equal(across.status, 206);
    assert.equal(across.headers.get('content-range'), `bytes 524000-1049000/${BIG.length}`);
    assert.ok((await bytes(across)).equals(BIG.subarray(524000, 1049001)));
    assert.ok((await bytes(await get('/static/big.bin', { Range: 'bytes=-10' }))).equals(BIG.subarray(-10)));
    const head = await rawRequest(srv.port, 'HEAD /static/big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(head.headers.get('content-length'), String(BIG.length));
    assert.equal(head.body.length, 0);
    assert.equal((await get('/static/big.bin', { 'If-None-Match': whole.headers.get('etag')! })).status, 304);
    const all = await Promise.all(Array.from({ length: 8 }, () => get('/static/big.bin').then(bytes)));
    for (const b of all) assert.ok(b.equals(BIG));
  });

  test('directories: index.html, and a redirect to the slash', async () => {
    assert.equal(await (await get('/static/')).text(), '<h1>home</h1>');
    const redirect = await fetch(`${srv.url}/static`, { redirect: 'manual' });
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get('location'), '/static/');
    assert.equal((await get('/static/sub/')).status, 404, 'no listing');
  });

  test('nothing outside the directory: .., %2e%2e, NUL, backslash, symlinks out; a symlink in is fine', async () => {
    for (const path of [
      '/static/../secret.txt',
      '/static/%2e%2e/secret.txt',
      '/static/sub/..%2f..%2fsecret.txt',
      '/static/a.txt%00',
      '/static/..%5csecret.txt',
      '/static/escape.txt',
    ]) {
      const res = await rawRequest(srv.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.ok(res.status === 404 || res.status === 400, `${path}: ${res.status}`);
      assert.doesNotMatch(res.body.toString(), /outside/);
    }
    assert.equal(await (await get('/static/inside.txt')).text(), 'abcdefghij');
    const post = await fetch(`${srv.url}/static/a.txt`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  test('other paths still reach the Python app, with SCRIPT_NAME untouched', async () => {
    const env = (await (await get('/environ')).json()) as Record<string, string>;
    assert.equal(env.SCRIPT_NAME, '');
    assert.equal(env.PATH_INFO, '/environ');
    assert.equal((await get('/staticky')).status, 404, 'a prefix matches on a segment boundary only');
  });
});

/** GET `url` until `seen` says yes (a response cut while the file changed under it counts as no); the last answer. */
async function until(url: string, seen: (status: number, body: Buffer) => boolean, deadlineMs = 10_000): Promise<[number, Buffer]> {
  const end = Date.now() + deadlineMs;
  let last: [number, Buffer] = [0, Buffer.alloc(0)];
  for (;;) {
    try {
      const res = await fetch(url);
      last = [res.status, Buffer.from(await res.arrayBuffer())];
      if (seen(...last)) return last;
    } catch {
      // cut short: the file changed under the response
    }
    if (Date.now() > end) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('--static-cache-valid: changes on disk', () => {
  let dir: string;
  const servers: Server[] = [];
  /** A server for `valid` seconds whose root is `${dir}/NAME` (with a.txt, big.bin). */
  const serve = async (name: string, valid: string, more: string[] = []): Promise<Server> => {
    mkdirSync(`${dir}/${name}`);
    writeFileSync(`${dir}/${name}/a.txt`, 'version 1');
    writeFileSync(`${dir}/${name}/big.bin`, BIG);
    const args = ['--static', `/s=${dir}/${name}`, '--static-cache-valid', valid, ...more];
    const srv = await startServer('pep3333:application', { args });
    servers.push(srv);
    return srv;
  };
  before(() => {
    dir = mkdtempSync(`${tmpdir()}/warpipe-static-cache-`);
    writeFileSync(`${dir}/secret.txt`, 'outside');
  });
  after(async () => {
    for (const srv of servers) assert.equal(await srv.stop(), 0);
    rmSync(dir, { recursive: true, force: true });
  });

  test('a short window: a file changed (content and size), deleted, created, or swapped for a symlink out is seen', async () => {
    // and a root that is a symlink switched to another release (/r: DIR/current -> release1, then release2)
    for (const [release, text] of [
      ['release1', 'one'],
      ['release2', 'two'],
    ]) {
      mkdirSync(`${dir}/${release}`);
      writeFileSync(`${dir}/${release}/x.txt`, text!);
    }
    symlinkSync(`${dir}/release1`, `${dir}/current`);
    const srv = await serve('short', '0.2', ['--static', `/r=${dir}/current`]);
    const root = `${dir}/short`;
    const url = (p: string): string => `${srv.url}/s/${p}`;
    assert.equal(await (await fetch(url('a.txt'))).text(), 'version 1');
    assert.ok(Buffer.from(await (await fetch(url('big.bin'))).arrayBuffer()).equals(BIG));
    assert.equal((await fetch(url('new.txt'))).status, 404);

    writeFileSync(`${root}/a.txt`, 'version 2, longer');
    const [, small] = await until(url('a.txt'), (st, b) => st === 200 && b.toString() === 'version 2, longer');
    assert.equal(small.toString(), 'version 2, longer', 'the change was seen');
    const bigger = Buffer.concat([BIG, BIG.subarray(0, 100_000)]);
    writeFileSync(`${root}/big.bin`, bigger); // in place: the kept descriptor reads it, the size changed
    const [, big] = await until(url('big.bin'), (st, b) => st === 200 && b.equals(bigger));
    assert.ok(big.equals(bigger));
    writeFileSync(`${root}/new.txt`, 'new');
    assert.equal((await until(url('new.txt'), (st) => st === 200))[0], 200, 'a cached 404 gives way');
    rmSync(`${root}/big.bin`);
    assert.equal((await until(url('big.bin'), (st) => st === 404))[0], 404);

    assert.equal(await (await fetch(`${srv.url}/r/x.txt`)).text(), 'one');
    symlinkSync(`${dir}/release2`, `${dir}/next`);
    renameSync(`${dir}/next`, `${dir}/current`); // the switch, atomic, as deploy tools do it
    assert.equal((await until(`${srv.url}/r/x.txt`, (st, b) => st === 200 && b.toString() === 'two'))[1].toString(), 'two');

    rmSync(`${root}/a.txt`);
    symlinkSync(`${dir}/secret.txt`, `${root}/a.txt`);
    const [status, body] = await until(url('a.txt'), (st, b) => {
      assert.doesNotMatch(b.toString(), /outside/, 'never the file the symlink leads to');
      return st === 404;
    });
    assert.equal(status, 404);
    assert.doesNotMatch(body.toString(), /outside/);
  });

  test('a long window: what was found is served as it was until the window ends', async () => {
    const srv = await serve('long', '60');
    const root = `${dir}/long`;
    const url = (p: string): string => `${srv.url}/s/${p}`;
    const first = await fetch(url('a.txt'));
    assert.equal(await first.text(), 'version 1');
    assert.ok(Buffer.from(await (await fetch(url('big.bin'))).arrayBuffer()).equals(BIG));
    assert.equal((await fetch(url('new.txt'))).status, 404);

    writeFileSync(`${root}/a.txt`, 'version 2, longer'); // a small file: its bytes are held
    writeFileSync(`${root}/.big.tmp`, 'replaced');
    renameSync(`${root}/.big.tmp`, `${root}/big.bin`); // a large one replaced, as deploy tools do: its descriptor is held
    writeFileSync(`${root}/new.txt`, 'new');
    const again = await fetch(url('a.txt'));
    assert.equal(await again.text(), 'version 1');
    assert.equal(again.headers.get('etag'), first.headers.get('etag'));
    assert.ok(Buffer.from(await (await fetch(url('big.bin'))).arrayBuffer()).equals(BIG));
    assert.equal((await fetch(url('new.txt'))).status, 404);
    rmSync(`${root}/a.txt`);
    assert.equal(await (await fetch(url('a.txt'))).text(), 'version 1', 'deleted, but within the window');
  });

  test('0: every request looks at the disk', async () => {
    const srv = await serve('off', '0');
    const root = `${dir}/off`;
    const url = (p: string): string => `${srv.url}/s/${p}`;
    assert.equal(await (await fetch(url('a.txt'))).text(), 'version 1');
    writeFileSync(`${root}/a.txt`, 'version 2, longer');
    assert.equal(await (await fetch(url('a.txt'))).text(), 'version 2, longer');
    writeFileSync(`${root}/.big.tmp`, 'replaced');
    renameSync(`${root}/.big.tmp`, `${root}/big.bin`);
    assert.equal(await (await fetch(url('big.bin'))).text(), 'replaced');
    rmSync(`${root}/a.txt`);
    assert.equal((await fetch(url('a.txt'))).status, 404);
  });
});
