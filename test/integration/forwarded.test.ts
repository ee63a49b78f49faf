// --forwarded-allow-ips with real processes: X-Forwarded-For/-Proto set
// REMOTE_ADDR and wsgi.url_scheme only for connections from a listed proxy;
// from anyone else they reach the app as sent and change nothing. (Behind a
// real nginx proxy_pass: test/interop/nginx.test.ts.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { runCli, startServer } from '../helpers/server.js';

const forged = { 'X-Forwarded-For': '6.6.6.6, 203.0.113.9', 'X-Forwarded-Proto': 'https' };

test('without --forwarded-allow-ips, forwarded headers are the app\'s to read and change nothing', async () => {
  const srv = await startServer('pep3333:application');
  const env = (await (await fetch(`${srv.url}/environ`, { headers: forged })).json()) as Record<string, unknown>;
  assert.equal(env.REMOTE_ADDR, '127.0.0.1');
  assert.equal(env['wsgi.url_scheme'], 'http');
  assert.equal(env.HTTPS, undefined);
  assert.equal(env.HTTP_X_FORWARDED_FOR, '6.6.6.6, 203.0.113.9');
  assert.equal(await srv.stop(), 0);
});

test('from a listed proxy: REMOTE_ADDR is the client it saw, the scheme is its scheme, and the access log says so', async () => {
  const dir = mkdtempSync(`${tmpdir()}/warpipe-fwd-`);
  const srv = await startServer('pep3333:application', { args: ['--forwarded-allow-ips', '127.0.0.1,::1', '--access-log', `${dir}/a.log`] });
  const env = (await (await fetch(`${srv.url}/environ`, { headers: forged })).json()) as Record<string, unknown>;
  assert.equal(env.REMOTE_ADDR, '203.0.113.9');
  assert.equal(env['wsgi.url_scheme'], 'https');
  assert.equal(env.HTTPS, 'on');
  const plain = (await (await fetch(`${srv.url}/environ`)).json()) as Record<string, unknown>;
  assert.equal(plain.REMOTE_ADDR, '127.0.0.1', 'no header: the socket address');
  assert.equal(await srv.stop(), 0);
  const lines = readFileSync(`${dir}/a.log`, 'utf8').trimEnd().split('\n');
  assert.match(lines[0]!, /^203\.0\.113\.9 - - /);
  assert.match(lines[1]!, /^127\.0\.0\.1 - - /);
});

test('a peer outside the listed ranges is not believed', async () => {
  const srv = await startServer('pep3333:application', { args: ['--forwarded-allow-ips', '10.0.0.0/8'] });
  const env = (await (await fetch(`${srv.url}/environ`, { headers: forged })).json()) as Record<string, unknown>;
  assert.equal(env.REMOTE_ADDR, '127.0.0.1');
  assert.equal(env['wsgi.url_scheme'], 'http');
  assert.equal(await srv.stop(), 0);
});

test('a bad --forwarded-allow-ips is one line and exit 2', async () => {
  const r = await runCli(['pep3333:application', '--forwarded-allow-ips', '127.0.0.1,localhost']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'warpipe: --forwarded-allow-ips: "localhost" is not an IP address or CIDR range (like 127.0.0.1, ::1, 10.0.0.0/8 or *) (see warpipe --help)\n');
});
