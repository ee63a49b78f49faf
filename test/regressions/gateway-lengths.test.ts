// Issue 11, item 2: a uwsgi or SCGI head with CONTENT_LENGTH -1 (or a second
// CONTENT_LENGTH of -1) was never timed out; after the client closed it sat in
// CLOSE-WAIT holding its place in --max-connections, until every listener
// answered 503 for good. Lengths that are not decimal digits (`abc`, ` 5`,
// `0x10`, `1e3` were read as 0/5/16/1000) or that come twice are now refused
// with 400, and a client that closes before its body is whole is let go.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer, type Server } from '../helpers/server.js';
import { encodeScgiHead } from '../../src/protocols/scgi/netstring.js';
import { encodeUwsgiHead } from '../../src/protocols/uwsgi/packet.js';
import { encodeParams } from '../../src/protocols/fastcgi/params.js';
import { FCGI_KEEP_CONN, RecordType, Role, beginRequestBody, encodeRecord } from '../../src/protocols/fastcgi/record.js';

/** Send `data` (then end our side if `end`), resolve with what came back once the server closes, or null after `waitMs`. */
function answer(path: string, data: Buffer, waitMs: number, end = true): Promise<string | null> {
  return new Promise((resolve) => {
    const got: Buffer[] = [];
    const sock = net.connect(path, () => (end ? sock.end(data) : sock.write(data)));
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(null);
    }, waitMs);
    sock.on('data', (d: Buffer) => got.push(d));
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got).toString('latin1'));
    });
  });
}

const cgi = (length: string): [string, string][] => [
  ['CONTENT_LENGTH', length],
  ['SCGI', '1'],
  ['REQUEST_METHOD', 'POST'],
  ['PATH_INFO', '/echo'],
  ['SERVER_NAME', 'x'],
  ['SERVER_PORT', '80'],
];

describe('CONTENT_LENGTH on --scgi, --uwsgi and --fastcgi', () => {
  let srv: Server;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-cl-`);
  before(async () => {
    srv = await startServer('pep3333:application', {
      args: [
        '--scgi',
        `unix:${dir}/scgi.sock`,
        '--uwsgi',
        `unix:${dir}/uwsgi.sock`,
        '--fastcgi',
        `unix:${dir}/fcgi.sock`,
        '--header-timeout',
        '30',
        '--body-timeout',
        '30',
        '--max-connections',
        '20',
      ],
    });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('negative, non-decimal and repeated lengths get 400 at once', async () => {
    for (const bad of ['-1', 'abc', ' 5', '0x10', '1e3', '5 ', '+5']) {
      const uwsgi = await answer(`${dir}/uwsgi.sock`, Buffer.concat([encodeUwsgiHead(cgi(bad)), Buffer.from('hello')]), 10_000);
      assert.match(uwsgi ?? 'no answer in 10 s', /^HTTP\/1\.1 400 /, `uwsgi CONTENT_LENGTH ${JSON.stringify(bad)}`);
    }
    const twice = [...cgi('5'), ['CONTENT_LENGTH', '-1'] as [string, string]];
    const scgi = await answer(`${dir}/scgi.sock`, Buffer.concat([encodeScgiHead(twice), Buffer.from('hello')]), 10_000);
    assert.match(scgi ?? 'no answer in 10 s', /^Status: 400 /);
    const ok = await answer(`${dir}/uwsgi.sock`, Buffer.concat([encodeUwsgiHead(cgi('5')), Buffer.from('hello')]), 10_000);
    assert.match(ok ?? '', /^HTTP\/1\.1 200 [\s\S]*\r\n\r\nhello$/);
  });

  test('FastCGI: a bad length refuses that request with 400, and the kept connection serves the next', async () => {
    const request = (length: string): Buffer =>
      Buffer.concat([
        encodeRecord(RecordType.BeginRequest, 1, beginRequestBody(Role.Responder, FCGI_KEEP_CONN)),
        encodeRecord(RecordType.Params, 1, encodeParams(cgi(length))),
        encodeRecord(RecordType.Params, 1),
        encodeRecord(RecordType.Stdin, 1, Buffer.from('hello')),
        encodeRecord(RecordType.Stdin, 1),
      ]);
    const sock = net.connect(`${dir}/fcgi.sock`);
    const got: Buffer[] = [];
    sock.on('data', (d: Buffer) => got.push(d));
    const text = (): string => Buffer.concat(got).toString('latin1');
    sock.write(request('-1'));
    for (let i = 0; i < 500 && !text().includes('Bad Request\n'); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(text(), /Status: 400 Bad Request\r\n/);
    sock.write(request('5'));
    for (let i = 0; i < 500 && !text().includes('hello'); i++) await new Promise((r) => setTimeout(r, 20));
    sock.destroy();
    assert.match(text(), /Status: 200 OK\r\n[\s\S]*hello/);
  });

  test('clients that close before their body is whole are let go: --max-connections is not used up', async () => {
    // 40 clients (twice --max-connections) each send a head and half a body, then close their side
    for (const codec of ['uwsgi', 'scgi'] as const) {
      const head = codec === 'uwsgi' ? encodeUwsgiHead(cgi('10')) : encodeScgiHead(cgi('10'));
      const closed = await Promise.all(
        Array.from({ length: 40 }, () => answer(`${dir}/${codec}.sock`, Buffer.concat([head, Buffer.from('12345')]), 15_000)),
      );
      assert.ok(
        closed.every((c) => c !== null),
        `${codec}: ${closed.filter((c) => c === null).length} of 40 still open after 15 s (--body-timeout is 30 s)`,
      );
    }
    const ok = await answer(`${dir}/uwsgi.sock`, Buffer.concat([encodeUwsgiHead(cgi('5')), Buffer.from('hello')]), 10_000);
    assert.match(ok ?? '', /^HTTP\/1\.1 200 /);
  });
});
