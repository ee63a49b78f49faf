// --static with --compress: FILE.br / FILE.zst / FILE.gz beside FILE served to
// clients that accept them (nginx gzip_static), with FILE's type, their own
// ETag and length, Vary, ranges; a stale one (older than FILE) never; a small
// file's compressed copy kept in memory; --static-max-age. Real CLI, real sockets.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { startServer, type Server } from '../helpers/server.js';
import { decode, getRaw, prose } from '../helpers/compressed.js';
import { rawRequest } from '../helpers/raw.js';

const CSS = prose(40_000, 5);
const APP_JS = prose(200_000, 6); // larger than a small file (64 KiB): read from its descriptor
const OLD = prose(5000, 8);

describe('--static with precompressed files and --static-max-age', () => {
  let srv: Server;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warpipe-static-compress-'));
    mkdirSync(join(dir, 'public/docs'), { recursive: true });
    const pub = (name: string): string => join(dir, 'public', name);
    writeFileSync(pub('site.css'), CSS);
    writeFileSync(pub('site.css.br'), zlib.brotliCompressSync(CSS));
    writeFileSync(pub('site.css.gz'), zlib.gzipSync(CSS));
    writeFileSync(pub('app.js'), APP_JS);
    writeFileSync(pub('app.js.gz'), zlib.gzipSync(APP_JS));
    writeFileSync(pub('docs/index.html'), CSS);
    writeFileSync(pub('docs/index.html.gz'), zlib.gzipSync(CSS));
    writeFileSync(pub('old.txt'), OLD);
    writeFileSync(pub('old.txt.gz'), zlib.gzipSync('stale bytes'));
    const past = new Date(Date.now() - 3600_000);
    utimesSync(pub('old.txt.gz'), past, past); // the .gz is older than the file: not served
    writeFileSync(pub('small.txt'), prose(4000, 9));
    writeFileSync(pub('logo.png'), Buffer.alloc(5000, 7));
    srv = await startServer('hello:application', { args: ['--static', `/s=${dir}/public`, '--static-max-age', '3600'] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
    rmSync(dir, { recursive: true, force: true });
  });
  const get = (path: string, accept?: string, more: Record<string, string> = {}) =>
    getRaw(srv.port, `/s/${path}`, accept === undefined ? more : { 'Accept-Encoding': accept, ...more });

  test('FILE.br and FILE.gz to the clients that accept them, with the type of FILE and an ETag of their own', async () => {
    const plain = await get('site.css');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.raw.toString(), CSS);
    const br = await get('site.css', 'gzip, deflate, br');
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(br.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal(br.headers.vary, 'Accept-Encoding');
    assert.match(br.headers.etag!, /^W\/"[0-9a-f]+-[0-9a-f]+-br"$/);
    assert.notEqual(br.headers.etag, plain.headers.etag);
    assert.ok(br.raw.equals(zlib.brotliCompressSync(CSS)), 'the file on disk, byte for byte');
    assert.equal(Number(br.headers['content-length']), br.raw.length);
    const gz = await get('site.css', 'gzip');
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(decode('gzip', gz.raw).toString(), CSS);
    assert.equal((await get('site.css', 'br;q=0.5, gzip')).headers['content-encoding'], 'gzip', 'the client prefers gzip');
    const big = await get('app.js', 'br, gzip');
    assert.equal(big.headers['content-encoding'], 'gzip', 'no app.js.br: the next the client accepts');
    assert.equal(big.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(decode('gzip', big.raw).toString(), APP_JS);
    const index = await get('docs/', 'gzip');
    assert.equal(index.headers['content-encoding'], 'gzip');
    assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(decode('gzip', index.raw).toString(), CSS);
  });

  test('a precompressed file: 304 on its ETag, ranges of its bytes, HEAD with its head', async () => {
    const br = await get('site.css', 'br');
    const again = await get('site.css', 'br', { 'If-None-Match': br.headers.etag! });
    assert.equal(again.status, 304);
    assert.equal(again.headers.vary, 'Accept-Encoding');
    assert.equal(again.headers['cache-control'], 'public, max-age=3600');
    const part = await get('site.css', 'br', { Range: 'bytes=0-99' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-encoding'], 'br');
    assert.ok(part.raw.equals(br.raw.subarray(0, 100)));
    assert.equal(part.headers['content-range'], `bytes 0-99/${br.raw.length}`);
    const head = await rawRequest(srv.port, 'HEAD /s/site.css HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br\r\nConnection: close\r\n\r\n');
    assert.equal(head.headers.get('content-encoding'), 'br');
    assert.equal(head.headers.get('content-length'), String(br.raw.length));
  });

  test('a precompressed file older than its original is never served', async () => {
    const res = await get('old.txt', 'gzip');
    assert.equal(decode(res.headers['content-encoding'], res.raw).toString(), OLD, 'not old.txt.gz (it says "stale bytes")');
  });

  test('a small text file without one: compressed once, the copy kept in memory with an ETag of its own', async () => {
    let res = await get('small.txt', 'br');
    // the first answers may be compressed on the fly while the copy is made on the thread pool
    for (let i = 0; i < 200 && !/-br"$/.test(res.headers.etag ?? ''); i++) {
      await new Promise((r) => setImmediate(r));
      res = await get('small.txt', 'br');
    }
    assert.match(res.headers.etag!, /-br"$/);
    assert.equal(res.headers['content-encoding'], 'br');
    assert.equal(res.headers['cache-control'], 'public, max-age=3600');
    assert.equal(decode('br', res.raw).toString(), prose(4000, 9));
    const png = await get('logo.png', 'br, gzip');
    assert.equal(png.headers['content-encoding'], undefined, 'an image is not compressed');
  });

  test('--static-max-age: Cache-Control on 200, 206 and 304; not on a 404', async () => {
    const res = await get('site.css');
    assert.equal(res.headers['cache-control'], 'public, max-age=3600');
    assert.equal((await get('site.css', undefined, { Range: 'bytes=1-2' })).headers['cache-control'], 'public, max-age=3600');
    const nm = await get('site.css', undefined, { 'If-None-Match': res.headers.etag! });
    assert.equal(nm.status, 304);
    assert.equal(nm.headers['cache-control'], 'public, max-age=3600');
    const missing = await get('nothing.css');
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['cache-control'], undefined);
  });
});

describe('--static with --compress off and no --static-max-age', () => {
  let srv: Server;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warpipe-static-plain-'));
    writeFileSync(join(dir, 'site.css'), CSS);
    writeFileSync(join(dir, 'site.css.gz'), zlib.gzipSync(CSS));
    srv = await startServer('hello:application', { args: ['--static', `/s=${dir}`, '--compress', 'off'] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
    rmSync(dir, { recursive: true, force: true });
  });

  test('the file as it is, no Cache-Control', async () => {
    const res = await getRaw(srv.port, '/s/site.css', { 'Accept-Encoding': 'gzip, br' });
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(res.headers['cache-control'], undefined);
    assert.equal(res.raw.toString(), CSS);
  });
});
