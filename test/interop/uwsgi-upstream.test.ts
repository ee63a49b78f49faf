// warpipe in front of uWSGI (--mount /u=uwsgi://unix:...), nginx's uwsgi_pass
// role: the WSGI app behind uWSGI sees the mount in SCRIPT_NAME; bodies and
// statuses go through; uWSGI down is a 502. Real uWSGI from Debian.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { FIXTURES, requirePeer, startServer, type Server } from '../helpers/server.js';

const haveUwsgi = spawnSync('uwsgi', ['--plugin', 'python3', '--help'], { stdio: 'ignore', timeout: 20_000 }).status === 0;

describe('warpipe -> uWSGI (--mount uwsgi://)', () => {
  let srv: Server | null = null;
  let uwsgi: ChildProcess | null = null;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-uwsgi-`);

  before(async () => {
    if (!haveUwsgi) return;
    uwsgi = spawn('uwsgi', ['--plugin', 'python3', '--socket', `${dir}/u.sock`, '--wsgi-file', `${FIXTURES}pep3333.py`, '--callable', 'application',
      '--processes', '1', '--master', '--die-on-term', '--disable-logging'], { stdio: 'ignore' });
    for (let i = 0; i < 200 && !existsSync(`${dir}/u.sock`); i++) await new Promise((r) => setTimeout(r, 50));
    srv = await startServer('pep3333:application', { args: ['--mount', `/u=uwsgi://unix:${dir}/u.sock`] });
  });
  after(async () => {
    if (uwsgi?.exitCode === null) uwsgi.kill('SIGTERM');
    if (srv) assert.equal(await srv.stop(), 0);
  });

  test('the app behind uWSGI gets the mount as SCRIPT_NAME; bodies and statuses go through', async (t) => {
    if (!requirePeer(t, haveUwsgi, 'uwsgi with its python3 plugin (Debian uwsgi-core, uwsgi-plugin-python3)')) return;
    const env = (await (await fetch(`${srv!.url}/u/environ?x=1`, { headers: { 'X-Custom': 'yes' } })).json()) as Record<string, unknown>;
    assert.equal(env.SCRIPT_NAME, '/u');
    assert.equal(env.PATH_INFO, '/environ');
    assert.equal(env.QUERY_STRING, 'x=1');
    assert.equal(env.HTTP_X_CUSTOM, 'yes');
    assert.notEqual(env.pid, ((await (await fetch(`${srv!.url}/environ`)).json()) as Record<string, unknown>).pid);
    const body = Buffer.alloc(500_000, 'u');
    const echo = await fetch(`${srv!.url}/u/echo`, { method: 'POST', body });
    assert.ok(Buffer.from(await echo.arrayBuffer()).equals(body));
    assert.equal((await fetch(`${srv!.url}/u/status?404`)).status, 404);
    // uWSGI answers an app that fails before its head with nothing at all; like nginx, that is a 502
    assert.equal((await fetch(`${srv!.url}/u/error-before`)).status, 502);
  });

  test('uWSGI down: 502 and a log line', async (t) => {
    if (!requirePeer(t, haveUwsgi, 'uwsgi')) return;
    const exited = new Promise((r) => uwsgi!.once('exit', r));
    uwsgi!.kill('SIGTERM');
    await exited;
    assert.equal((await fetch(`${srv!.url}/u/environ`)).status, 502);
    await srv!.waitForLog(/uwsgi upstream unix:.*u\.sock is down/);
  });
});
