// --https: TLS in front of the same HTTP/1.1 listener. Certificates are made
// by openssl for each run. The app sees https; keep-alive and pipelining work
// inside TLS; plaintext on the TLS port and a handshake never finished are
// dropped without harm; SIGHUP serves a new certificate; bad files are one
// line and exit 2.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import tls from 'node:tls';
import { requirePeer, runCli, startServer, type Server } from '../helpers/server.js';
import { haveOpenssl, makeCertificate } from '../helpers/certs.js';
import { parseResponses } from '../helpers/raw.js';

/** A self-signed certificate for localhost and 127.0.0.1, as NAME.crt and NAME.key in `dir` (`name` tells them apart). */
const certificate = (dir: string, name: string): void => makeCertificate(`${dir}/${name}.crt`, `${dir}/${name}.key`, name);

/** Connect with TLS trusting `ca`; send `data`; the peer's certificate and every byte until the server closes or goes quiet. */
function tlsExchange(port: number, ca: Buffer, data: string): Promise<{ subject: string; alpn: string | false; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ port, host: '127.0.0.1', ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] }, () => sock.write(data));
    const got: Buffer[] = [];
    let timer: NodeJS.Timeout | null = null;
    const done = (): void => {
      if (timer) clearTimeout(timer);
      resolve({ subject: sock.getPeerCertificate().subject?.CN as string, alpn: sock.alpnProtocol ?? false, bytes: Buffer.concat(got) });
      sock.destroy();
    };
    sock.on('data', (d: Buffer) => {
      got.push(d);
      if (timer) clearTimeout(timer);
      timer = setTimeout(done, 500);
    });
    sock.on('end', done);
    sock.on('error', reject);
  });
}

const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`;

describe('--https', () => {
  let srv: Server;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-tls-`);
  before(async () => {
    if (!haveOpenssl) return;
    certificate(dir, 'one');
    srv = await startServer('pep3333:application', {
      args: ['--https', '127.0.0.1:0', '--certfile', `${dir}/one.crt`, '--keyfile', `${dir}/one.key`, '--header-timeout', '1'],
    });
  });
  after(async () => {
    if (srv) assert.equal(await srv.stop(), 0);
  });
  const tlsPort = (): number => Number(/listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(srv.logs())![1]);

  test('the app sees https; two pipelined requests on one TLS connection; ALPN says http/1.1', async (t) => {
    if (!requirePeer(t, haveOpenssl, 'openssl (Debian package openssl)')) return;
    const r = await tlsExchange(tlsPort(), readFileSync(`${dir}/one.crt`), get('/environ') + get('/sized?3'));
    assert.equal(r.alpn, 'http/1.1');
    const [env, sized] = parseResponses(r.bytes);
    const e = JSON.parse(env!.body.toString()) as Record<string, unknown>;
    assert.equal(e['wsgi.url_scheme'], 'https');
    assert.equal(e.HTTPS, 'on');
    assert.equal(e.SERVER_PORT, '443', 'a Host without a port means 443 here');
    assert.equal(sized!.body.toString(), 'sss');
    assert.equal(sized!.headers.get('keep-alive'), 'timeout=75');
  });

  test('plaintext on the TLS port, and a handshake never finished, are dropped; serving goes on', async (t) => {
    if (!requirePeer(t, haveOpenssl, 'openssl')) return;
    const closedAfter = (data: string | null): Promise<number> =>
      new Promise((resolve) => {
        const started = Date.now();
        const s = net.connect(tlsPort(), '127.0.0.1', () => data !== null && s.write(data));
        s.on('error', () => {});
        s.resume();
        s.on('close', () => resolve(Date.now() - started));
      });
    assert.ok((await closedAfter(get('/'))) < 1000, 'plaintext HTTP is no TLS handshake');
    const silent = await closedAfter(null);
    assert.ok(silent >= 800 && silent < 4000, `a silent client is dropped after --header-timeout 1, here after ${silent} ms`);
    const r = await tlsExchange(tlsPort(), readFileSync(`${dir}/one.crt`), get('/sized?2'));
    assert.equal(parseResponses(r.bytes)[0]!.body.toString(), 'ss');
  });

  test('SIGHUP re-reads the certificate: new connections get the new one', async (t) => {
    if (!requirePeer(t, haveOpenssl, 'openssl')) return;
    certificate(dir, 'two');
    renameSync(`${dir}/two.crt`, `${dir}/one.crt`);
    renameSync(`${dir}/two.key`, `${dir}/one.key`);
    srv.proc.kill('SIGHUP');
    await srv.waitForLog(/--https: certificate re-read from /);
    const r = await tlsExchange(tlsPort(), readFileSync(`${dir}/one.crt`), get('/sized?1'));
    assert.equal(r.subject, 'two');
  });
});

test('--https without a usable certificate and key is one line and exit 2', async (t) => {
  if (!requirePeer(t, haveOpenssl, 'openssl')) return;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-tls-`);
  certificate(dir, 'a');
  certificate(dir, 'b');
  const none = await runCli(['pep3333:application', '--https', '127.0.0.1:0']);
  assert.equal(none.code, 2);
  assert.equal(none.stderr, 'warpipe: --https needs --certfile and --keyfile (PEM files) (see warpipe --help)\n');
  const missing = await runCli([
    'pep3333:application',
    '--https',
    '127.0.0.1:0',
    '--certfile',
    `${dir}/nope.crt`,
    '--keyfile',
    `${dir}/a.key`,
  ]);
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr, `warpipe: --certfile ${dir}/nope.crt / --keyfile ${dir}/a.key: ENOENT (${dir}/nope.crt)\n`);
  const mismatch = await runCli([
    'pep3333:application',
    '--https',
    '127.0.0.1:0',
    '--certfile',
    `${dir}/a.crt`,
    '--keyfile',
    `${dir}/b.key`,
  ]);
  assert.equal(mismatch.code, 2);
  assert.match(mismatch.stderr, /^warpipe: --certfile .*a\.crt \/ --keyfile .*b\.key: .*key values mismatch.*\n$/);
});
