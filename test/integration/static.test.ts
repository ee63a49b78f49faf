// --static: files served by the gateway itself, beside the Python app, and
// never anything outside their directory. Real CLI, real sockets.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer, type Server } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';

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
