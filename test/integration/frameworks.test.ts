// Real frameworks served end to end through warpipe, on Debian's own python3
// (where python3-flask, python3-django, python3-webpy and python3-bottle install).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { SYSTEM_PYTHON, pythonHas, requirePeer, startServer, type Server } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';

const DIR = fileURLToPath(new URL('../../../test/fixtures/frameworks/', import.meta.url));

async function serve(app: string, module: string, t: { skip(m?: string): void }, validate = true): Promise<Server | null> {
  if (
    !requirePeer(
      t,
      pythonHas(SYSTEM_PYTHON, module),
      `${SYSTEM_PYTHON} with ${module} (Debian package python3-${module === 'web' ? 'webpy' : module})`,
    )
  )
    return null;
  return startServer(app, { cwd: DIR, args: ['--python', SYSTEM_PYTHON, ...(validate ? ['--validate'] : [])] });
}

const form = (word: string): RequestInit => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  body: `word=${encodeURIComponent(word)}`,
});

describe('frameworks', () => {
  test('Flask: template, form POST, JSON, multipart upload, streamed response', async (t) => {
    const srv = await serve('flask_app:app', 'flask', t);
    if (!srv) return;
    try {
      assert.match(await (await fetch(`${srv.url}/?name=warpipe`)).text(), /<h1>Hello warpipe<\/h1>/);
      assert.equal(await (await fetch(`${srv.url}/form`, form('héllo wörld'))).text(), 'you said héllo wörld');
      assert.deepEqual(await (await fetch(`${srv.url}/json`)).json(), { framework: 'flask', path: '/json', script_root: '' });
      const fd = new FormData();
      fd.append('file', new Blob([Buffer.alloc(300_000, 'abcde')]), 'data.bin');
      assert.deepEqual(await (await fetch(`${srv.url}/upload`, { method: 'POST', body: fd })).json(), {
        filename: 'data.bin',
        size: 300_000,
        first: 'abcde',
      });
      const chunked = await rawRequest(
        srv.port,
        'POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n' +
          '5\r\nword=\r\n2\r\nhi\r\n0\r\n\r\n',
      );
      assert.equal(chunked.body.toString(), 'you said hi');
      assert.equal(await (await fetch(`${srv.url}/stream`)).text(), 'line 0\nline 1\nline 2\n');
      assert.equal((await fetch(`${srv.url}/missing`)).status, 404);
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });

  test('Django: a template with a CSRF-protected form, its POST, JSON and a chunked upload', async (t) => {
    const srv = await serve('djangosite.wsgi:application', 'django', t);
    if (!srv) return;
    try {
      const page = await fetch(`${srv.url}/?name=warpipe`);
      const html = await page.text();
      assert.match(html, /<h1>Hello warpipe<\/h1>/);
      const token = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(html)?.[1];
      assert.ok(token, 'the form carries a CSRF token');
      const cookie = /csrftoken=([^;]+)/.exec(page.headers.get('set-cookie') ?? '')?.[1];
      assert.ok(cookie, 'the CSRF cookie is set');
      const refused = await fetch(`${srv.url}/form`, form('no token'));
      assert.equal(refused.status, 403, 'Django refuses a POST without the token');
      const said = await fetch(`${srv.url}/form`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: `csrftoken=${cookie}` },
        body: `csrfmiddlewaretoken=${encodeURIComponent(token)}&word=${encodeURIComponent('dja<ngo>')}`,
      });
      assert.equal(said.status, 200);
      assert.match(await said.text(), /you said dja&lt;ngo&gt;/);
      assert.deepEqual(await (await fetch(`${srv.url}/json`)).json(), {
        framework: 'django',
        path: '/json',
        script_name: '',
        host: `127.0.0.1:${srv.port}`,
      });
      const up = await rawRequest(
        srv.port,
        'POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n',
      );
      assert.deepEqual(JSON.parse(up.body.toString()), { size: 7, content_length: '7' });
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });

  test('web.py: the classic app, GET with a query, form POST, JSON', async (t) => {
    // web.py answers some responses without a Content-Type, which wsgiref's validator refuses
    const srv = await serve('webpy_app:application', 'web', t, false);
    if (!srv) return;
    try {
      assert.equal(await (await fetch(`${srv.url}/?name=<b>`)).text(), '<h1>Hello &lt;b&gt;</h1>');
      assert.equal(await (await fetch(`${srv.url}/form`, form('webpy'))).text(), 'you said webpy');
      const json = (await (await fetch(`${srv.url}/json?x=1`)).json()) as Record<string, unknown>;
      assert.deepEqual([json.framework, json.path, json.home, json.query], ['web.py', '/json', srv.url, '?x=1']);
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });

  test('Bottle: template, form POST, JSON', async (t) => {
    const srv = await serve('bottle_app:app', 'bottle', t);
    if (!srv) return;
    try {
      assert.equal(await (await fetch(`${srv.url}/?name=bottle`)).text(), '<h1>Hello bottle</h1>');
      assert.equal(await (await fetch(`${srv.url}/form`, form('bottled'))).text(), 'you said bottled');
      assert.deepEqual(await (await fetch(`${srv.url}/json`)).json(), { framework: 'bottle', path: '/json' });
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });
});
