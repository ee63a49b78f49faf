// Real ASGI frameworks through warpipe on Debian's python3 (python3-fastapi,
// python3-starlette, python3-django, python3-websockets as the client), and
// an ASGI app behind the FastCGI and SCGI listeners too.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ASGI_DIR, ROOT, SYSTEM_PYTHON, pythonHas, requirePeer, startServer, type Server } from '../helpers/server.js';

/** The worker's own test apps (python/tests/apps): the Starlette and Django ones serve here too. */
const PY_APPS = join(ROOT, 'python/tests/apps');

async function serve(app: string, modules: string[], t: { skip(m?: string): void }, cwd = ASGI_DIR): Promise<Server | null> {
  const missing = modules.filter((m) => !pythonHas(SYSTEM_PYTHON, m));
  const what = `${SYSTEM_PYTHON} with ${modules.join(', ')} (Debian packages python3-${modules.join(', python3-')})`;
  if (!requirePeer(t, missing.length === 0, what)) return null;
  // one worker: /release reaches the process whose stream waits for it
  return startServer(app, { cwd, args: ['--python', SYSTEM_PYTHON, '--workers', '1'] });
}

describe('ASGI frameworks', () => {
  test('FastAPI: parameters, JSON, a 1 MiB upload, a stream in pieces, lifespan state, a WebSocket with compression', async (t) => {
    const srv = await serve('fastapi_site:app', ['fastapi', 'websockets'], t);
    if (!srv) return;
    try {
      assert.match(srv.logs(), /asgi on uvloop|asgi on asyncio/);
      assert.deepEqual(await (await fetch(`${srv.url}/items/42?q=x`)).json(), { item_id: 42, q: 'x' });
      assert.equal((await fetch(`${srv.url}/items/nope`)).status, 422);
      const json = await fetch(`${srv.url}/json`);
      assert.equal(json.headers.get('content-type'), 'application/json');
      assert.deepEqual(await json.json(), { message: 'Hello, World!' });
      const body = Buffer.alloc(1 << 20);
      for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
      assert.deepEqual(await (await fetch(`${srv.url}/upload`, { method: 'POST', body })).json(), {
        size: body.length,
        sha256: createHash('sha256').update(body).digest('hex'),
      });
      assert.deepEqual(await (await fetch(`${srv.url}/state`)).json(), { greeting: 'hi from lifespan' });
      const stream = await fetch(`${srv.url}/stream`);
      const reader = stream.body!.getReader();
      assert.equal(Buffer.from((await reader.read()).value!).toString(), 'first\n');
      await (await fetch(`${srv.url}/release`)).json();
      assert.equal(Buffer.from((await reader.read()).value!).toString(), 'second\n');
      assert.equal((await reader.read()).done, true);
      const ws = spawnSync(SYSTEM_PYTHON, [`${ASGI_DIR}/ws_client.py`, `ws://127.0.0.1:${srv.port}/ws`, 'hello', 'wörld'], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(ws.status, 0, ws.stderr);
      assert.equal(ws.stdout, 'extensions: PerMessageDeflate\necho: hello\necho: wörld\nbig: 1048582 True\nclosed: 1000\n');
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });

  test('Starlette: a mounted sub-app sees its root_path; a background task runs after the response', async (t) => {
    const srv = await serve('starlette_app:app', ['starlette'], t, PY_APPS);
    if (!srv) return;
    try {
      assert.equal(await (await fetch(`${srv.url}/`)).text(), 'home');
      const where = (await (await fetch(`${srv.url}/sub/where/there`)).json()) as Record<string, unknown>;
      assert.deepEqual(where.path_params, { name: 'there' });
      assert.equal(where.root_path, '/sub');
      assert.equal(await (await fetch(`${srv.url}/background`)).text(), 'queued');
      await srv.waitForLog(/background task: ran/);
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });

  test("Django's ASGI handler: sync and async views, a POST body; lifespan unsupported", async (t) => {
    const srv = await serve('django_asgi:application', ['django'], t, PY_APPS);
    if (!srv) return;
    try {
      assert.match(srv.logs(), /lifespan unsupported/);
      assert.deepEqual(await (await fetch(`${srv.url}/sync?q=1`)).json(), { path: '/sync', script_name: '', q: '1' });
      assert.equal(await (await fetch(`${srv.url}/async`)).text(), 'async ok');
      const body = Buffer.alloc(200_000, 'z');
      assert.ok(Buffer.from(await (await fetch(`${srv.url}/echo`, { method: 'POST', body })).arrayBuffer()).equals(body));
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });
});

describe('ASGI behind the FastCGI-family listeners', () => {
  test('an SCGI request reaches an ASGI app and its answer comes back as a CGI response', async () => {
    const dir = mkdtempSync(`${tmpdir()}/warpipe-asgi-scgi-`);
    const srv = await startServer('probe:app', { cwd: ASGI_DIR, args: ['--workers', '1', '--scgi', `unix:${dir}/scgi.sock`] });
    try {
      const vars = [
        'CONTENT_LENGTH',
        '0',
        'SCGI',
        '1',
        'REQUEST_METHOD',
        'GET',
        'REQUEST_URI',
        '/hello',
        'PATH_INFO',
        '/hello',
        'QUERY_STRING',
        '',
        'SERVER_NAME',
        'x',
        'SERVER_PORT',
        '80',
        'SERVER_PROTOCOL',
        'HTTP/1.1',
      ];
      const head = Buffer.from(`${vars.join('\0')}\0`, 'latin1');
      const sock = net.connect(`${dir}/scgi.sock`);
      sock.write(Buffer.concat([Buffer.from(`${head.length}:`), head, Buffer.from(',')]));
      const got: Buffer[] = [];
      sock.on('data', (c: Buffer) => got.push(c));
      await new Promise((r) => sock.on('close', r));
      const text = Buffer.concat(got).toString('latin1');
      assert.match(text, /^Status: 200 OK\r\n/);
      assert.match(text, /\r\n\r\nhello from asgi$/);
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });
});
