// warpipe in front of fcgiwrap (--mount /cgi-bin=fastcgi://…?split=cgi&root=DIR),
// started by spawn-fcgi: the classic nginx + spawn-fcgi + fcgiwrap stack for
// CGI scripts, with warpipe in nginx's place. The script is the first
// executable file on the path (as --cgi finds it); fcgiwrap gets SCRIPT_FILENAME,
// SCRIPT_NAME and PATH_INFO split there; scripts that are missing, not
// executable or outside the root never reach it; fcgiwrap down is a 502. Real
// spawn-fcgi and fcgiwrap from Debian.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { requirePeer, startServer, type Server } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';
import { writeCgiScripts } from '../helpers/cgi-scripts.js';

const SPAWN_FCGI = '/usr/bin/spawn-fcgi';
const FCGIWRAP = '/usr/sbin/fcgiwrap';
const havePeers = existsSync(SPAWN_FCGI) && existsSync(FCGIWRAP);

describe('warpipe -> spawn-fcgi + fcgiwrap (--mount fastcgi://…?split=cgi)', () => {
  let srv: Server | null = null;
  let wrap: ChildProcess | null = null;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-fcgiwrap-`);
  before(async () => {
    if (!havePeers) return;
    writeCgiScripts(`${dir}/cgi`);
    writeFileSync(`${dir}/outside.sh`, '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho escaped\n', { mode: 0o755 });
    // -n: spawn-fcgi binds the socket, then execs fcgiwrap in the foreground (daemontools style)
    wrap = spawn(SPAWN_FCGI, ['-n', '-s', `${dir}/wrap.sock`, '-M', '0600', '--', FCGIWRAP, '-c', '2'], {
      stdio: 'ignore',
      detached: true,
    });
    for (let i = 0; i < 200 && !existsSync(`${dir}/wrap.sock`); i++) await new Promise((r) => setTimeout(r, 25));
    srv = await startServer('pep3333:application', {
      args: ['--mount', `/cgi-bin=fastcgi://unix:${dir}/wrap.sock?split=cgi&root=${dir}/cgi`],
    });
  });
  after(async () => {
    if (wrap?.exitCode === null) process.kill(-wrap.pid!, 'SIGTERM');
    if (srv) assert.equal(await srv.stop(), 0);
  });

  test('a script gets the CGI variables split at the script; bodies, statuses and redirects go through', async (t) => {
    if (!requirePeer(t, havePeers, 'spawn-fcgi and fcgiwrap (Debian spawn-fcgi, fcgiwrap)')) return;
    const res = await fetch(`${srv!.url}/cgi-bin/env.sh/extra/path?a=1`, { headers: { 'X-Custom': 'yes', Proxy: 'http://evil:3128' } });
    assert.equal(res.status, 200);
    const env = Object.fromEntries(
      (await res.text())
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    assert.equal(env.SCRIPT_NAME, '/cgi-bin/env.sh');
    assert.equal(env.SCRIPT_FILENAME, `${dir}/cgi/env.sh`);
    assert.equal(env.PATH_INFO, '/extra/path');
    assert.equal(env.QUERY_STRING, 'a=1');
    assert.equal(env.REQUEST_METHOD, 'GET');
    assert.equal(env.GATEWAY_INTERFACE, 'CGI/1.1');
    assert.equal(env.HTTP_X_CUSTOM, 'yes');
    assert.equal(env.HTTP_PROXY, undefined, 'httpoxy');

    const body = Buffer.alloc(300_000, 'q');
    const echo = await fetch(`${srv!.url}/cgi-bin/echo.py`, { method: 'POST', body });
    assert.equal(echo.status, 201);
    assert.equal(echo.headers.get('x-len'), String(body.length));
    assert.ok(Buffer.from(await echo.arrayBuffer()).equals(body));
    const redirect = await fetch(`${srv!.url}/cgi-bin/redirect.sh`, { redirect: 'manual' });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('location'), '/elsewhere');
    assert.equal(await (await fetch(`${srv!.url}/cgi-bin/sub/deep.sh/x`)).text(), 'deep /cgi-bin/sub/deep.sh /x');
  });

  test('missing, unexecutable and outside scripts never reach fcgiwrap', async (t) => {
    if (!requirePeer(t, havePeers, 'spawn-fcgi and fcgiwrap')) return;
    for (const path of [
      '/cgi-bin/notexec.sh',
      '/cgi-bin/missing.sh',
      '/cgi-bin/../outside.sh',
      '/cgi-bin/%2e%2e/outside.sh',
      '/cgi-bin/env.sh%0a/x',
      '/cgi-bin/sub/',
    ]) {
      const res = await rawRequest(srv!.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.ok(res.status === 404 || res.status === 400, `${path}: ${res.status}`);
    }
  });

  test('fcgiwrap down: 502 and a log line', async (t) => {
    if (!requirePeer(t, havePeers, 'spawn-fcgi and fcgiwrap')) return;
    // fcgiwrap -c 2 preforks: stop its whole process group
    const exited = new Promise((r) => wrap!.once('exit', r));
    process.kill(-wrap!.pid!, 'SIGTERM');
    await exited;
    // spawn-fcgi's exit is not its preforked children's: until the last one is gone, the socket still answers
    for (let i = 0; i < 400 && (await accepts(`${dir}/wrap.sock`)); i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal((await fetch(`${srv!.url}/cgi-bin/env.sh`, { signal: AbortSignal.timeout(10_000) })).status, 502);
    await srv!.waitForLog(/fastcgi upstream unix:.*wrap\.sock is down/);
  });
});

/** Whether something still accepts connections on the unix socket at `path`. */
function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(path, () => {
      sock.destroy();
      resolve(true);
    });
    sock.on('error', () => resolve(false));
  });
}
