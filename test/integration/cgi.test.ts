// --cgi: RFC 3875 scripts run per request, shell and Python; the environment
// is the request's meta-variables alone (no httpoxy, no gateway secrets).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer, type Server } from '../helpers/server.js';
import { alive } from '../helpers/procs.js';
import { writeCgiScripts, writeScript } from '../helpers/cgi-scripts.js';
import { rawRequest } from '../helpers/raw.js';

describe('--cgi', () => {
  let srv: Server;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(`${tmpdir()}/warpipe-cgi-`);
    writeCgiScripts(`${dir}/cgi-bin`);
    writeScript(`${dir}/cgi-bin`, 'broken.sh', '#!/bin/sh\necho oops >&2\nexit 3\n');
    srv = await startServer('pep3333:application', {
      args: ['--cgi', `/cgi-bin=${dir}/cgi-bin`],
      env: { WARPIPE_SECRET_TOKEN: 'do-not-leak' },
    });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('a shell script gets the RFC 3875 meta-variables, and only those', async () => {
    const res = await fetch(`${srv.url}/cgi-bin/env.sh/extra/path?a=1`, { headers: { 'X-Custom': 'yes', Proxy: 'http://evil:3128' } });
    assert.equal(res.status, 200);
    const env = Object.fromEntries(
      (await res.text())
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    assert.equal(env.GATEWAY_INTERFACE, 'CGI/1.1');
    assert.equal(env.REQUEST_METHOD, 'GET');
    assert.equal(env.SCRIPT_NAME, '/cgi-bin/env.sh');
    assert.equal(env.PATH_INFO, '/extra/path');
    assert.equal(env.PATH_TRANSLATED, `${dir}/cgi-bin/extra/path`);
    assert.equal(env.QUERY_STRING, 'a=1');
    assert.equal(env.HTTP_X_CUSTOM, 'yes');
    assert.equal(env.HTTP_PROXY, undefined, 'httpoxy');
    assert.equal(env.WARPIPE_SECRET_TOKEN, undefined, "the gateway's environment does not leak");
    assert.match(env.SERVER_SOFTWARE!, /^warpipe\//);
  });

  test('a Python script reads its body and sets its status; Location redirects; scripts in subdirectories run', async () => {
    const body = Buffer.alloc(300_000, 'q');
    const res = await fetch(`${srv.url}/cgi-bin/echo.py`, { method: 'POST', body });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-len'), String(body.length));
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(body));
    const redirect = await fetch(`${srv.url}/cgi-bin/redirect.sh`, { redirect: 'manual' });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('location'), '/elsewhere');
    assert.equal(await (await fetch(`${srv.url}/cgi-bin/sub/deep.sh/x`)).text(), 'deep /cgi-bin/sub/deep.sh /x');
  });

  test('a script that fails gets its client a 502 and its stderr logged; nothing outside or unexecutable runs', async () => {
    assert.equal((await fetch(`${srv.url}/cgi-bin/broken.sh`)).status, 502);
    await srv.waitForLog(/CGI .*broken\.sh: oops[^]*exited with code 3 before sending a response head|exited with code 3[^]*oops/);
    for (const path of [
      '/cgi-bin/notexec.sh',
      '/cgi-bin/missing.sh',
      '/cgi-bin/../cgi-bin/env.sh',
      '/cgi-bin/%2e%2e/x',
      '/cgi-bin/env.sh%00',
      '/cgi-bin/sub/',
    ]) {
      const res = await rawRequest(srv.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.ok(res.status === 404 || res.status === 400, `${path}: ${res.status}`);
    }
  });
});

// A server of its own: a 1 s timeout would also cut off the other tests' scripts on a busy machine.
describe('--cgi with --upstream-timeout 1', () => {
  let srv: Server;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(`${tmpdir()}/warpipe-cgi-`);
    writeScript(dir, 'hang.sh', '#!/bin/sh\necho "$$" > "$0.pid"\nexec sleep 30\n');
    srv = await startServer('pep3333:application', { args: ['--cgi', `/cgi-bin=${dir}`, '--upstream-timeout', '1'] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('a script silent for --upstream-timeout is killed; its client gets a 504', async () => {
    assert.equal((await fetch(`${srv.url}/cgi-bin/hang.sh`)).status, 504);
    await srv.waitForLog(/CGI script .*hang\.sh wrote nothing for 1s \(while handling GET \/cgi-bin\/hang\.sh\); killing it/);
    // (a machine busy enough to keep the script from starting for 1 s leaves no pid to look at)
    if (!existsSync(`${dir}/hang.sh.pid`)) return;
    const pid = Number(readFileSync(`${dir}/hang.sh.pid`, 'utf8'));
    for (let i = 0; i < 400 && alive(pid); i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(alive(pid), false, 'the script was killed');
  });
});
