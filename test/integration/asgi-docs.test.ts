// docs/asgi.md's and the README's ASGI snippets, run as written: the FastAPI
// app saved as main.py, each command line served by bash with `warpipe` on
// PATH (only the port moved; the interpreter is Debian's, where FastAPI is,
// given by WARPIPE_PYTHON), then its JSON route and its WebSocket echo asked.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/net.js';
import { SYSTEM_PYTHON, pythonHas, requirePeer } from '../helpers/server.js';
import { type Running, commandLines, serveScript, shimDir, snippet, substitute } from '../helpers/snippets.js';
import { WsClient } from '../helpers/ws-client.js';

let work: string;
let bin: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), 'warpipe-asgi-docs-'));
  writeFileSync(join(work, 'main.py'), snippet('docs/asgi.md', 'asgi-app').text);
  bin = shimDir(join(work, 'shims'));
});
after(() => rmSync(work, { recursive: true, force: true }));

const fastapi = pythonHas(SYSTEM_PYTHON, 'fastapi');
const WHAT = `${SYSTEM_PYTHON} with fastapi (Debian package python3-fastapi)`;

async function check(line: string, port: number): Promise<void> {
  const env = { WARPIPE_PYTHON: SYSTEM_PYTHON, WARPIPE_HTTP: `127.0.0.1:${port}` };
  const r: Running = await serveScript(line, { cwd: work, bin, env });
  try {
    assert.match(r.logs(), /asgi on (uvloop|asyncio)/);
    assert.deepEqual(await (await fetch(`http://127.0.0.1:${port}/`)).json(), { hello: 'world' });
    const ws = await WsClient.connect(port, '/ws');
    assert.match(ws.head, /^HTTP\/1\.1 101 /);
    ws.sendText('ping me back');
    assert.equal(await ws.text(), 'ping me back');
    ws.sendClose(1000);
    assert.equal(await ws.closeCode(), 1000);
    ws.destroy();
  } finally {
    assert.equal(await r.stop(), 0, r.logs());
  }
}

test('docs/asgi.md: the FastAPI app, served by each line of its serve snippet', async (t) => {
  if (!requirePeer(t, fastapi, WHAT)) return;
  const [first, second] = commandLines(snippet('docs/asgi.md', 'asgi-serve').text) as [string, string];
  let port = await freePort();
  await check(substitute(first, [['0.0.0.0:8000', `127.0.0.1:${port}`]]), port);
  port = await freePort();
  await check(second, port); // no --http: WARPIPE_HTTP places it
});

test('README: the FastAPI line', async (t) => {
  if (!requirePeer(t, fastapi, WHAT)) return;
  const [line] = commandLines(snippet('README.md', 'readme-fastapi').text) as [string];
  const port = await freePort();
  await check(substitute(line, [['0.0.0.0:8000', `127.0.0.1:${port}`]]), port);
});
