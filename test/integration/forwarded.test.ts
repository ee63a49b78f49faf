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

test("without --forwarded-allow-ips, forwarded headers are the app's to read and change nothing", async () => {
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
  const srv = await startServer('pep3333:application', {
    args: ['--forwarded-allow-ips', '127.0.0.1,::1', '--access-log', `${dir}/a.log`],
  });
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
  assert.equal(
    r.stderr,
    'warpipe: --forwarded-allow-ips: "localhost" is not an IP address or CIDR range ' +
      '(like 127.0.0.1, ::1, 10.0.0.0/8 or *) (see warpipe --help)\n',
  );
});

/** Write `data` (pieces with a pause between) and collect the answer until the server closes or goes quiet. */
async function talk(port: number, pieces: Buffer[]): Promise<{ text: string; closed: boolean }> {
  const { exchange } = await import('../helpers/raw.js');
  const { bytes, closed } = await exchange(port, pieces, { idleMs: 800, pauseMs: 5 });
  return { text: bytes.toString('latin1'), closed };
}
const environOf = (text: string, nth = 0): Record<string, unknown> => {
  const bodies = text
    .split('HTTP/1.1 ')
    .slice(1)
    .map((r) => r.slice(r.indexOf('\r\n\r\n') + 4));
  return JSON.parse(bodies[nth]!) as Record<string, unknown>;
};
const GET = Buffer.from('GET /environ HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n');

test(
  '--proxy-protocol: the client is the one the header names, v1 or v2, ' + 'however the header is cut; the connection stays usable',
  async () => {
    const { encodeProxyV1, encodeProxyV2 } = await import('../../src/protocols/proxy/header.js');
    const srv = await startServer('pep3333:application', { args: ['--proxy-protocol', '--forwarded-allow-ips', '127.0.0.1'] });
    const v1 = encodeProxyV1({ address: '203.0.113.9', port: 51234 }, { address: '127.0.0.1', port: srv.port });
    const one = await talk(srv.port, [v1, GET, GET]);
    assert.equal(environOf(one.text, 0).REMOTE_ADDR, '203.0.113.9');
    assert.equal(environOf(one.text, 0).REMOTE_PORT, '51234');
    assert.equal(environOf(one.text, 1).REMOTE_ADDR, '203.0.113.9', 'the second request on the connection too');
    assert.equal(
      environOf(one.text, 0).HTTP_X_FORWARDED_FOR,
      '6.6.6.6',
      "the client's own X-Forwarded-For is not believed: it is no proxy of ours",
    );

    const v2 = encodeProxyV2({ address: '2001:db8::9', port: 443 }, { address: '::1', port: srv.port });
    const bytewise = [...Buffer.concat([v2, GET])].map((b) => Buffer.from([b]));
    assert.equal(environOf((await talk(srv.port, bytewise)).text).REMOTE_ADDR, '2001:db8::9');

    const local = Buffer.from([...Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1'), 0x20, 0x00, 0x00, 0x00]);
    const check = Buffer.from('GET /environ HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(
      environOf((await talk(srv.port, [local, check])).text).REMOTE_ADDR,
      '127.0.0.1',
      "LOCAL (a health check): the balancer's own address",
    );

    const none = await talk(srv.port, [GET]);
    assert.match(none.text, /^HTTP\/1\.1 400 /);
    assert.equal(none.closed, true);
    assert.equal(none.text.split('HTTP/1.1').length, 2, 'nothing after the 400');
    assert.equal(await srv.stop(), 0);
  },
);

test('--proxy-protocol: a peer outside --forwarded-allow-ips is closed at once and the log says so once', async () => {
  const srv = await startServer('pep3333:application', { args: ['--proxy-protocol', '--forwarded-allow-ips', '10.0.0.0/8'] });
  for (let i = 0; i < 3; i++) {
    const r = await talk(srv.port, [Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n'), GET]);
    assert.deepEqual(r, { text: '', closed: true });
  }
  await srv.waitForLog(/--proxy-protocol: closed a connection from 127\.0\.0\.1, which is not in --forwarded-allow-ips/);
  assert.equal(srv.logs().split('not in --forwarded-allow-ips').length, 2);
  assert.equal(await srv.stop(), 0);
  const r = await runCli(['pep3333:application', '--proxy-protocol']);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    'warpipe: --proxy-protocol needs --forwarded-allow-ips: ' +
      'the addresses of the load balancers that send the header (see warpipe --help)\n',
  );
});
