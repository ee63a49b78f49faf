// The SCGI and uwsgi listeners spoken to directly, byte for byte (nginx in front
// is in test/interop/nginx.test.ts): a request, its body limit, a bad head; and
// slow clients on all three gateway listeners (FastCGI too).

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
    srv = await startServer('pep3333:application', {
      args: [
        '--scgi',
        `unix:${dir}/scgi.sock`,
        '--uwsgi',
        `unix:${dir}/uwsgi.sock`,
        '--fastcgi',
        `unix:${dir}/fcgi.sock`,
        '--limit-request-body',
        '1000',
      ],
    });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });
  const cgi = (method: string, path: string, body: string): [string, string][] => [
    ['CONTENT_LENGTH', String(body.length)],
    ['SCGI', '1'],
    ['REQUEST_METHOD', method],
    ['PATH_INFO', path],
    ['QUERY_STRING', ''],
    ['SERVER_NAME', 'x'],
    ['SERVER_PORT', '80'],
    ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['REMOTE_ADDR', '127.0.0.1'],
  ];

  test('SCGI: a CGI response with a Status line; bodies over --limit-request-body get 413; a bad head 400', async () => {
    const ok = await talk(`${dir}/scgi.sock`, Buffer.concat([encodeScgiHead(cgi('POST', '/echo', 'hello')), Buffer.from('hello')]));
    assert.match(ok, /^Status: 200 OK\r\n/);
    assert.match(ok, /\r\n\r\nhello$/);
    const big = 'x'.repeat(5000);
    assert.match(
      await talk(`${dir}/scgi.sock`, Buffer.concat([encodeScgiHead(cgi('POST', '/echo', big)), Buffer.from(big)])),
      /^Status: 413 /,
    );
    assert.match(await talk(`${dir}/scgi.sock`, Buffer.from('3:abc,')), /^Status: 400 /);
  });

  test('uwsgi: an HTTP status line; 413 the same way', async () => {
    const ok = await talk(`${dir}/uwsgi.sock`, Buffer.concat([encodeUwsgiHead(cgi('POST', '/echo', 'hi')), Buffer.from('hi')]));
    assert.match(ok, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(ok, /\r\n\r\nhi$/);
    const big = 'y'.repeat(2000);
    assert.match(
      await talk(`${dir}/uwsgi.sock`, Buffer.concat([encodeUwsgiHead(cgi('PUT', '/echo', big)), Buffer.from(big)])),
      /^HTTP\/1\.1 413 /,
    );
  });

  test('uwsgi and FastCGI give each string its length: a NUL in a variable is 400, not an app error (500)', async () => {
    const before = srv.logs().length;
    const nul: [string, string][] = [...cgi('GET', '/', ''), ['HTTP_HOST', 'a\0b']];
    assert.match(await talk(`${dir}/uwsgi.sock`, encodeUwsgiHead(nul)), /^HTTP\/1\.1 400 /);
    const fcgi = await talk(
      `${dir}/fcgi.sock`,
      Buffer.concat([
        encodeRecord(RecordType.BeginRequest, 1, beginRequestBody(Role.Responder, 0)),
        encodeRecord(RecordType.Params, 1, encodeParams(nul)),
        encodeRecord(RecordType.Params, 1),
        encodeRecord(RecordType.Stdin, 1),
      ]),
    );
    assert.match(fcgi, /Status: 400 /);
    assert.doesNotMatch(srv.logs().slice(before), /ERROR/);
  });

  test('a request read whole and answered: the connection is closed at once, not held until the client ends its side', async () => {
    const hi = Buffer.from('hi');
    const requests: [string, Buffer][] = [
      ['scgi', Buffer.concat([encodeScgiHead(cgi('POST', '/echo', 'hi')), hi])],
      ['uwsgi', Buffer.concat([encodeUwsgiHead(cgi('POST', '/echo', 'hi')), hi])],
      [
        // FastCGI without FCGI_KEEP_CONN (nginx's default): the END_REQUEST comes last
        'fcgi',
        Buffer.concat([
          encodeRecord(RecordType.BeginRequest, 1, beginRequestBody(Role.Responder, 0)),
          encodeRecord(RecordType.Params, 1, encodeParams(cgi('POST', '/echo', 'hi'))),
          encodeRecord(RecordType.Params, 1),
          encodeRecord(RecordType.Stdin, 1, hi),
          encodeRecord(RecordType.Stdin, 1),
        ]),
      ],
    ];
    for (const [proto, request] of requests) {
      // our side stays open; once the answer has ended, a write finds the socket closed (EPIPE), not half-closed
      const outcome = await new Promise<string>((resolve) => {
        const sock = net.connect({ path: `${dir}/${proto}.sock`, allowHalfOpen: true }, () => sock.write(request));
        let got = '';
        sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
        sock.on('error', () => {});
        // FastCGI: the answer, then the empty STDOUT and END_REQUEST (version 1, type 3) last
        const answered = (): boolean =>
          proto === 'fcgi' ? got.includes('\r\n\r\nhi') && got.slice(-16, -14) === '\x01\x03' : got.endsWith('\r\n\r\nhi');
        sock.on('end', () => sock.write('x', (err) => resolve(`${answered()} ${err ? (err as NodeJS.ErrnoException).code : 'written'}`)));
      });
      assert.equal(outcome, 'true EPIPE', proto);
    }
  });
});

/** Connect, send `data` without ending, and resolve with the ms until the server closes (null: still open after `waitMs`). */
function closedAfter(path: string, data: Buffer, waitMs: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const sock = net.connect(path, () => {
      if (data.length > 0) sock.write(data);
    });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(null);
    }, waitMs);
    sock.on('error', reject);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - start);
    });
    sock.resume();
  });
}

describe('slow clients on --fastcgi, --scgi and --uwsgi', () => {
  let srv: Server;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-gw-slow-`);
  before(async () => {
    srv = await startServer('pep3333:application', {
      args: [
        '--fastcgi',
        `unix:${dir}/fcgi.sock`,
        '--scgi',
        `unix:${dir}/scgi.sock`,
        '--uwsgi',
        `unix:${dir}/uwsgi.sock`,
        '--header-timeout',
        '1',
        '--body-timeout',
        '1',
      ],
    });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });
  const params: [string, string][] = [
    ['REQUEST_METHOD', 'POST'],
    ['PATH_INFO', '/echo'],
    ['CONTENT_LENGTH', '10'],
    ['SERVER_NAME', 'x'],
    ['SERVER_PORT', '80'],
  ];
  const fcgiHead = (flags = 0): Buffer =>
    Buffer.concat([
      encodeRecord(RecordType.BeginRequest, 1, beginRequestBody(Role.Responder, flags)),
      encodeRecord(RecordType.Params, 1, encodeParams(params)),
      encodeRecord(RecordType.Params, 1),
    ]);
  const within = (ms: number | null, what: string): void => {
    assert.ok(ms !== null && ms >= 900 && ms < 4000, `${what}: closed after ${ms} ms`);
  };

  test('a connection that sends nothing, half a head, or half a body is closed after its timeout', async () => {
    const scgiHead = encodeScgiHead([
      ['CONTENT_LENGTH', '10'],
      ['SCGI', '1'],
      ['REQUEST_METHOD', 'POST'],
      ['PATH_INFO', '/echo'],
    ]);
    const uwsgiHead = encodeUwsgiHead([
      ['CONTENT_LENGTH', '10'],
      ['REQUEST_METHOD', 'POST'],
      ['PATH_INFO', '/echo'],
    ]);
    const cases: [string, string, Buffer][] = [
      ['fastcgi, nothing', 'fcgi', Buffer.alloc(0)],
      ['fastcgi, half a PARAMS record', 'fcgi', fcgiHead().subarray(0, 30)],
      ['fastcgi, half the STDIN', 'fcgi', Buffer.concat([fcgiHead(), encodeRecord(RecordType.Stdin, 1, Buffer.from('12345'))])],
      ['scgi, nothing', 'scgi', Buffer.alloc(0)],
      ['scgi, half a head', 'scgi', scgiHead.subarray(0, 10)],
      ['scgi, half the body', 'scgi', Buffer.concat([scgiHead, Buffer.from('12345')])],
      ['uwsgi, half a head', 'uwsgi', uwsgiHead.subarray(0, 10)],
      ['uwsgi, half the body', 'uwsgi', Buffer.concat([uwsgiHead, Buffer.from('12345')])],
    ];
    const results = await Promise.all(cases.map(([, sock, data]) => closedAfter(`${dir}/${sock}.sock`, data, 6000)));
    cases.forEach(([what], i) => within(results[i]!, what));
    await srv.waitForLog(/fastcgi: closing a connection whose request head took longer than 1s/);
    await srv.waitForLog(/scgi: closing a connection whose request body took longer than 1s/);
  });

  test('a kept FastCGI connection may idle between requests', async () => {
    const sock = net.connect(`${dir}/fcgi.sock`);
    const got: Buffer[] = [];
    sock.on('data', (d: Buffer) => got.push(d));
    const ends = (): number => Buffer.concat(got).toString('latin1').split('Status: 200').length - 1;
    const ask = async (n: number): Promise<void> => {
      sock.write(
        Buffer.concat([
          fcgiHead(FCGI_KEEP_CONN),
          encodeRecord(RecordType.Stdin, 1, Buffer.from('0123456789')),
          encodeRecord(RecordType.Stdin, 1),
        ]),
      );
      for (let i = 0; i < 200 && ends() < n; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(ends(), n);
    };
    await ask(1);
    await new Promise((r) => setTimeout(r, 1600)); // idle past both timeouts
    assert.equal(sock.destroyed, false);
    await ask(2);
    sock.destroy();
  });
});

describe('--fastcgi: ABORT_REQUEST before the params are whole', () => {
  let srv: Server;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-gw-abort-`);
  before(async () => {
    srv = await startServer('pep3333:application', { args: ['--fastcgi', `unix:${dir}/fcgi.sock`] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('still gets its END_REQUEST (spec §5.4), and the kept connection serves the next request', async () => {
    const sock = net.connect(`${dir}/fcgi.sock`);
    const got: Buffer[] = [];
    sock.on('data', (d: Buffer) => got.push(d));
    const params = encodeParams([
      ['REQUEST_METHOD', 'GET'],
      ['PATH_INFO', '/sized'],
      ['QUERY_STRING', '3'],
      ['SERVER_NAME', 'x'],
      ['SERVER_PORT', '80'],
    ]);
    sock.write(
      Buffer.concat([
        encodeRecord(RecordType.BeginRequest, 1, beginRequestBody(Role.Responder, FCGI_KEEP_CONN)),
        encodeRecord(RecordType.Params, 1, params.subarray(0, 10)),
        encodeRecord(RecordType.AbortRequest, 1),
      ]),
    );
    const endRequest = (id: number): boolean => {
      const all = Buffer.concat(got);
      for (let off = 0; off + 8 <= all.length; off += 8 + all.readUInt16BE(off + 4) + all[off + 6]!) {
        if (all[off + 1] === RecordType.EndRequest && all.readUInt16BE(off + 2) === id) return true;
      }
      return false;
    };
    for (let i = 0; i < 100 && !endRequest(1); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(endRequest(1), 'END_REQUEST for the aborted request');
    const before = Buffer.concat(got).length;
    sock.write(
      Buffer.concat([
        encodeRecord(RecordType.BeginRequest, 1, beginRequestBody(Role.Responder, FCGI_KEEP_CONN)),
        encodeRecord(RecordType.Params, 1, params),
        encodeRecord(RecordType.Params, 1),
        encodeRecord(RecordType.Stdin, 1),
      ]),
    );
    for (let i = 0; i < 100 && !Buffer.concat(got).subarray(before).includes('sss'); i++) await new Promise((r) => setTimeout(r, 20));
    sock.destroy();
    const answer = Buffer.concat(got).subarray(before).toString('latin1');
    assert.ok(answer.includes('Status: 200 OK\r\n') && answer.includes('sss'), JSON.stringify(answer));
  });
});
