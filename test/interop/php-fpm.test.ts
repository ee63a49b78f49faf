// warpipe in front of php-fpm (--mount /php=fastcgi://unix:... --document-root),
// nginx's fastcgi_pass role: $_SERVER, $_GET, $_POST, raw bodies, headers and
// status codes from PHP; missing scripts and CVE-2019-11043-shaped paths never
// reach php-fpm; php-fpm down is a 502. Real php-fpm from Debian.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { requirePeer, startServer, type Server } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';

const PHP_FPM = ['/usr/sbin/php-fpm8.2', '/usr/sbin/php-fpm'].find((p) => existsSync(p)) ?? '';

async function startPhpFpm(dir: string): Promise<ChildProcess> {
  writeFileSync(
    `${dir}/php-fpm.conf`,
    `
[global]
pid = ${dir}/php-fpm.pid
error_log = ${dir}/php-fpm.log
daemonize = no
[www]
listen = ${dir}/php.sock
pm = static
pm.max_children = 2
clear_env = no
catch_workers_output = yes
`,
  );
  // -R: the tests run as root here, which php-fpm otherwise refuses
  const proc = spawn(PHP_FPM, ['-R', '-n', '-y', `${dir}/php-fpm.conf`, '-F'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  for (let i = 0; i < 100 && !existsSync(`${dir}/php.sock`); i++) {
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!existsSync(`${dir}/php.sock`))
    throw new Error(`php-fpm did not start: ${err} ${existsSync(`${dir}/php-fpm.log`) ? readFileSync(`${dir}/php-fpm.log`, 'utf8') : ''}`);
  return proc;
}

describe('warpipe -> php-fpm (--mount fastcgi://)', () => {
  let srv: Server | null = null;
  let fpm: ChildProcess | null = null;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-php-`);
  const url = (path: string): string => `${srv!.url}${path}`;

  before(async () => {
    if (!PHP_FPM) return;
    writeFileSync(
      `${dir}/info.php`,
      `<?php
if (isset($_GET['status'])) { http_response_code((int)$_GET['status']); }
header('X-From: php');
header('Content-Type: application/json');
echo json_encode([
  'SCRIPT_NAME' => $_SERVER['SCRIPT_NAME'], 'PATH_INFO' => $_SERVER['PATH_INFO'] ?? '', 'SCRIPT_FILENAME' => $_SERVER['SCRIPT_FILENAME'],
  'REQUEST_METHOD' => $_SERVER['REQUEST_METHOD'], 'QUERY_STRING' => $_SERVER['QUERY_STRING'],
  'HTTP_X_CUSTOM' => $_SERVER['HTTP_X_CUSTOM'] ?? null, 'HTTP_PROXY' => $_SERVER['HTTP_PROXY'] ?? null,
  'get' => $_GET, 'post' => $_POST, 'body' => file_get_contents('php://input'),
]);
`,
    );
    writeFileSync(`${dir}/index.php`, '<?php echo "index";');
    writeFileSync(`${dir}/redirect.php`, '<?php header("Location: /elsewhere");');
    fpm = await startPhpFpm(dir);
    srv = await startServer('pep3333:application', {
      args: ['--mount', `/php=fastcgi://unix:${dir}/php.sock`, '--document-root', dir, '--upstream-keepalive', '1'],
    });
  });
  after(async () => {
    if (fpm?.exitCode === null) process.kill(-fpm.pid!, 'SIGTERM'); // the master and its children
    if (srv) assert.equal(await srv.stop(), 0);
  });

  test('$_SERVER, $_GET, $_POST, raw bodies, headers and status codes', async (t) => {
    if (!requirePeer(t, PHP_FPM !== '', 'php-fpm (Debian package php-fpm)')) return;
    const res = await fetch(url('/php/info.php/extra/path?a=1&b=two'), { headers: { 'X-Custom': 'yes', Proxy: 'http://evil' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-from'), 'php');
    const info = (await res.json()) as Record<string, unknown>;
    assert.equal(info.SCRIPT_NAME, '/php/info.php');
    assert.equal(info.PATH_INFO, '/extra/path');
    assert.equal(info.SCRIPT_FILENAME, `${dir}/info.php`);
    assert.deepEqual(info.get, { a: '1', b: 'two' });
    assert.equal(info.HTTP_X_CUSTOM, 'yes');
    assert.equal(info.HTTP_PROXY, null, 'httpoxy: a Proxy header never becomes HTTP_PROXY');
    const form = await fetch(url('/php/info.php'), { method: 'POST', body: new URLSearchParams({ name: 'warpipe', n: '3' }) });
    assert.deepEqual(((await form.json()) as { post: unknown }).post, { name: 'warpipe', n: '3' });
    const raw = await fetch(url('/php/info.php'), { method: 'PUT', body: 'x'.repeat(200_000) });
    assert.equal(((await raw.json()) as { body: string }).body.length, 200_000);
    assert.equal((await fetch(url('/php/info.php?status=418'))).status, 418);
    assert.equal(await (await fetch(url('/php/'))).text(), 'index');
    const redirect = await fetch(url('/php/redirect.php'), { redirect: 'manual' });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('location'), '/elsewhere');
    const many = await Promise.all(Array.from({ length: 20 }, () => fetch(url('/php/index.php')).then((r) => r.text())));
    assert.deepEqual(many, Array(20).fill('index'));
  });

  test('missing scripts, traversal and %0a paths (CVE-2019-11043) never reach php-fpm', async (t) => {
    if (!requirePeer(t, PHP_FPM !== '', 'php-fpm')) return;
    for (const path of [
      '/php/missing.php',
      '/php/info.php%0a/x',
      '/php/../etc/passwd.php',
      '/php/%2e%2e/x.php',
      '/php/info.php%00.txt',
      '/php/nothing',
    ]) {
      const res = await rawRequest(srv!.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.ok(res.status === 404 || res.status === 400, `${path}: ${res.status}`);
    }
    assert.equal((await fetch(url('/environ'))).status, 200, 'other paths still reach the Python app');
  });

  test('php-fpm down: 502, and a clear log line', async (t) => {
    if (!requirePeer(t, PHP_FPM !== '', 'php-fpm')) return;
    const exited = new Promise((r) => fpm!.once('exit', r));
    process.kill(-fpm!.pid!, 'SIGKILL'); // the whole process group: php-fpm's children outlive a lone master
    await exited;
    await new Promise((r) => setTimeout(r, 200));
    const res = await fetch(url('/php/index.php'));
    assert.equal(res.status, 502);
    await srv!.waitForLog(/fastcgi upstream unix:.*php\.sock is down|closed the connection/);
  });
});
