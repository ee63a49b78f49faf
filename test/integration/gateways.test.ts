// The SCGI and uwsgi listeners spoken to directly, byte for byte (nginx in front
// is in test/interop/nginx.test.ts): a request, its body limit, a bad head.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer, type Server } from '../helpers/server.js';
import { encodeScgiHead } from '../../src/protocols/scgi/netstring.js';
import { encodeUwsgiHead } from '../../src/protocols/uwsgi/packet.js';

function talk(path: string, data: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path, () => sock.end(data));
    const got: Buffer[] = [];
    sock.on('data', (d: Buffer) => got.push(d));
    sock.on('error', reject);
    sock.on('close', () => resolve(Buffer.concat(got).toString('latin1')));
  });
}

describe('--scgi and --uwsgi, directly', () => {
  let srv: Server;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-gw-`);
  before(async () => {
    srv = await startServer('pep3333:application', { args: ['--scgi', `unix:${dir}/scgi.sock`, '--uwsgi', `unix:${dir}/uwsgi.sock`, '--limit-request-body', '1000'] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });
  const cgi = (method: string, path: string, body: string): [string, string][] => [
    ['CONTENT_LENGTH', String(body.length)], ['SCGI', '1'], ['REQUEST_METHOD', method], ['PATH_INFO', path], ['QUERY_STRING', ''],
    ['SERVER_NAME', 'x'], ['SERVER_PORT', '80'], ['SERVER_PROTOCOL', 'HTTP/1.1'], ['REMOTE_ADDR', '127.0.0.1'],
  ];

  test('SCGI: a CGI response with a Status line; bodies over --limit-request-body get 413; a bad head 400', async () => {
    const ok = await talk(`${dir}/scgi.sock`, Buffer.concat([encodeScgiHead(cgi('POST', '/echo', 'hello')), Buffer.from('hello')]));
    assert.match(ok, /^Status: 200 OK\r\n/);
    assert.match(ok, /\r\n\r\nhello$/);
    const big = 'x'.repeat(5000);
    assert.match(await talk(`${dir}/scgi.sock`, Buffer.concat([encodeScgiHead(cgi('POST', '/echo', big)), Buffer.from(big)])), /^Status: 413 /);
    assert.match(await talk(`${dir}/scgi.sock`, Buffer.from('3:abc,')), /^Status: 400 /);
  });

  test('uwsgi: an HTTP status line; 413 the same way', async () => {
    const ok = await talk(`${dir}/uwsgi.sock`, Buffer.concat([encodeUwsgiHead(cgi('POST', '/echo', 'hi')), Buffer.from('hi')]));
    assert.match(ok, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(ok, /\r\n\r\nhi$/);
    const big = 'y'.repeat(2000);
    assert.match(await talk(`${dir}/uwsgi.sock`, Buffer.concat([encodeUwsgiHead(cgi('PUT', '/echo', big)), Buffer.from(big)])), /^HTTP\/1\.1 413 /);
  });
});
