// docs/deploy.md, "HTTP/2": its snippets run as written, paths and ports aside.
// curl checks which protocol it got over TLS (ALPN h2) and over h2c; Debian's
// HAProxy terminates TLS and speaks HTTP/2 to warpipe on plain HTTP (`proto
// h2`), and the app sees HTTP/2, https and the client's address.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePeer } from '../helpers/server.js';
import { freePort, waitForPort } from '../helpers/net.js';
import { haveOpenssl, makeCertificate } from '../helpers/certs.js';
import { commandLines, serveScript, shimDir, snippet, substitute, writeDocApps, type Running } from '../helpers/snippets.js';

const DEPLOY = 'docs/deploy.md';
const haveCurl = spawnSync('curl', ['--version'], { encoding: 'utf8' }).stdout?.includes('HTTP2') === true;
const haveHaproxy = spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0;

describe('docs/deploy.md: HTTP/2', () => {
  let work: string;
  let bin: string;
  let warpipe: Running | null = null;
  let port = 0;
  let tlsPort = 0;
  /** curl trusts this certificate (CURL_CA_BUNDLE), made for localhost. */
  let ca = '';

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'warpipe-h2-docs-'));
    writeDocApps(work);
    bin = shimDir(join(work, 'shims'));
    if (!haveOpenssl) return;
    makeCertificate(`${work}/cert.pem`, `${work}/key.pem`, 'localhost');
    ca = `${work}/cert.pem`;
    writeFileSync(`${work}/site.pem`, readFileSync(ca, 'utf8') + readFileSync(`${work}/key.pem`, 'utf8'));
    port = await freePort();
    tlsPort = await freePort();
    // the h2c command as written, with a TLS listener beside it for the ALPN check
    const command = substitute(snippet(DEPLOY, 'deploy-h2c').text, [
      ['0.0.0.0:8000', `127.0.0.1:${port}`],
      ['10.0.0.2', `127.0.0.1 --https 127.0.0.1:${tlsPort} --certfile ${work}/cert.pem --keyfile ${work}/key.pem`],
    ]);
    warpipe = await serveScript(command, { cwd: work, bin });
  });
  after(async () => {
    if (warpipe) assert.equal(await warpipe.stop(), 0, warpipe.logs());
    rmSync(work, { recursive: true, force: true });
  });

  test('curl gets HTTP/2 over TLS by ALPN and over h2c', (t) => {
    if (!requirePeer(t, haveCurl && haveOpenssl, 'curl with HTTP/2 and openssl (Debian packages curl, openssl)')) return;
    const lines = commandLines(snippet(DEPLOY, 'deploy-h2-check').text);
    assert.equal(lines.length, 2);
    const script = substitute(lines.join('\n'), [
      ['https://example.org/', `https://localhost:${tlsPort}/`],
      ['http://example.org/', `http://127.0.0.1:${port}/`],
    ]);
    const r = spawnSync('bash', ['-euc', script], { encoding: 'utf8', env: { ...process.env, CURL_CA_BUNDLE: ca }, timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '2\n2\n', 'each prints 2');
  });

  test('HAProxy terminates TLS and speaks HTTP/2 to warpipe (proto h2): the app sees HTTP/2, https and the client', async (t) => {
    if (!requirePeer(t, haveHaproxy && haveCurl && haveOpenssl, 'haproxy, curl and openssl (Debian packages haproxy, curl, openssl)'))
      return;
    const front = await freePort();
    const config = substitute(snippet(DEPLOY, 'deploy-h2-haproxy').text, [
      [' :443 ', ` 127.0.0.1:${front} `],
      ['/etc/haproxy/site.pem', `${work}/site.pem`],
      ['10.0.0.5:8000', `127.0.0.1:${port}`],
    ]);
    const head = 'global\n  log stderr format raw local0 err\ndefaults\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n';
    writeFileSync(`${work}/haproxy.cfg`, head + config);
    const haproxy: ChildProcess = spawn('haproxy', ['-db', '-f', `${work}/haproxy.cfg`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    haproxy.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    try {
      await waitForPort(front, () => (haproxy.exitCode === null ? null : `haproxy exited: ${err}`));
      const r = spawnSync('curl', ['--http2', '-s', '-w', '\n%{http_version}', `https://localhost:${front}/through?x=1`], {
        encoding: 'utf8',
        env: { ...process.env, CURL_CA_BUNDLE: ca },
        timeout: 30_000,
      });
      assert.equal(r.status, 0, `${r.stderr} ${err}`);
      const [body, version] = r.stdout.split('\n');
      assert.equal(version, '2', 'the client spoke HTTP/2 to HAProxy');
      const app = JSON.parse(body!) as Record<string, string>;
      assert.equal(app.protocol, 'HTTP/2', 'HAProxy spoke HTTP/2 to warpipe');
      assert.equal(app.scheme, 'https', 'X-Forwarded-Proto from a --forwarded-allow-ips proxy');
      assert.equal(app.remote_addr, '127.0.0.1');
      assert.equal(app.path, '/through');
    } finally {
      haproxy.kill('SIGTERM');
    }
  });
});
