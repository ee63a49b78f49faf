// The HTTP/1.1 front end and PEP 3333 behaviour, end to end: the real CLI,
// real Python workers running test/fixtures/apps/pep3333.py, real sockets.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, type Server } from '../helpers/server.js';
import { exchange, parseResponses, rawRequest } from '../helpers/raw.js';

const get = (path: string, host = 'example.test:8080'): string => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;

describe('HTTP/1.1 with --validate', () => {
  let srv: Server;
  before(async () => {
    srv = await startServer('pep3333:application', { args: ['--validate', '--limit-request-body', '100000'] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('the environ carries every CGI variable PEP 3333 asks for', async () => {
    const res = await fetch(`${srv.url}/environ?a=1&b=%20x`, { headers: { 'X-Custom': 'yes', Cookie: 'a=1' } });
    assert.equal(res.status, 200);
    const env = (await res.json()) as Record<string, unknown>;
    assert.equal(env.REQUEST_METHOD, 'GET');
    assert.equal(env.SCRIPT_NAME, '');
    assert.equal(env.PATH_INFO, '/environ');
    assert.equal(env.QUERY_STRING, 'a=1&b=%20x');
    assert.equal(env.SERVER_NAME, '127.0.0.1');
    assert.equal(env.SERVER_PORT, String(srv.port));
    assert.equal(env.SERVER_PROTOCOL, 'HTTP/1.1');
    assert.equal(env.REMOTE_ADDR, '127.0.0.1');
    assert.equal(env.REMOTE_HOST, '127.0.0.1');
    assert.match(String(env.REMOTE_PORT), /^\d+$/);
    assert.equal(env.HTTP_HOST, `127.0.0.1:${srv.port}`);
    assert.equal(env.HTTP_X_CUSTOM, 'yes');
    assert.equal(env.HTTP_COOKIE, 'a=1');
    assert.equal(env.REQUEST_URI, '/environ?a=1&b=%20x');
    assert.equal(env.GATEWAY_INTERFACE, 'CGI/1.1');
    assert.match(String(env.SERVER_SOFTWARE), /^warpipe\//);
    assert.equal(env['wsgi.url_scheme'], 'http');
    assert.deepEqual(env['wsgi.version'], [1, 0]);
    assert.equal(env['wsgi.multiprocess'], true);
    assert.equal(env['wsgi.multithread'], false);
    assert.equal(env['wsgi.run_once'], false);
    assert.equal(env['wsgi.input_terminated'], true);
    assert.equal(env.CONTENT_LENGTH ?? '', '');
  });

  test("an HTTP/1.0 request with no Host: SERVER_NAME and SERVER_PORT are the socket's own", async () => {
    const res = await rawRequest(srv.port, 'GET /environ HTTP/1.0\r\n\r\n');
    const env = JSON.parse(res.body.toString()) as Record<string, string>;
    assert.equal(env.SERVER_NAME, '127.0.0.1');
    assert.equal(env.SERVER_PORT, String(srv.port));
    assert.equal(env.HTTP_HOST, undefined);
  });

  test('Host without a port, repeated fields, and fields that must never reach the app', async () => {
    const res = await rawRequest(
      srv.port,
      'GET /environ HTTP/1.1\r\nHost: example.test\r\nX-Dup: 1\r\nX-Dup: 2\r\nCookie: a=1\r\nCookie: b=2\r\n' +
        'Proxy: http://evil.test/\r\nX_Spoof: 1\r\nX-Spoof: 2\r\nContent-Type: text/x\r\n\r\n',
    );
    const env = JSON.parse(res.body.toString()) as Record<string, string>;
    assert.equal(env.SERVER_NAME, 'example.test');
    assert.equal(env.SERVER_PORT, '80');
    assert.equal(env.HTTP_X_DUP, '1, 2');
    assert.equal(env.HTTP_COOKIE, 'a=1; b=2');
    assert.equal(env.HTTP_PROXY, undefined, 'httpoxy: Proxy must not become HTTP_PROXY');
    assert.equal(env.HTTP_X_SPOOF, '2', 'a header with "_" must not shadow its "-" twin');
    assert.equal(env.CONTENT_TYPE, 'text/x');
    assert.equal(env.HTTP_CONTENT_TYPE, undefined);
  });

  test('PATH_INFO is the percent-decoded path as latin-1; the raw target stays in REQUEST_URI', async () => {
    const res = await fetch(`${srv.url}/unicode/caf%C3%A9%2Fx`);
    assert.deepEqual(await res.json(), { path: '/unicode/café/x' });
    const bad = await rawRequest(srv.port, get('/environ%zz'));
    assert.equal(bad.status, 400);
    const nul = await rawRequest(srv.port, get('/environ%00'));
    assert.equal(nul.status, 400);
  });

  test('absolute-form targets: the authority replaces Host', async () => {
    const res = await rawRequest(srv.port, 'GET http://other.test:81/environ?q=1 HTTP/1.1\r\nHost: ignored.test\r\n\r\n');
    const env = JSON.parse(res.body.toString()) as Record<string, string>;
    assert.equal(env.HTTP_HOST, 'other.test:81');
    assert.equal(env.SERVER_NAME, 'other.test');
    assert.equal(env.SERVER_PORT, '81');
    assert.equal(env.PATH_INFO, '/environ');
    assert.equal(env.QUERY_STRING, 'q=1');
  });

  test('POST bodies: fixed length, chunked, and line-wise reading', async () => {
    const body = Buffer.alloc(50_000, 'abc');
    const res = await fetch(`${srv.url}/echo`, { method: 'POST', body });
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), body);

    const chunked = await rawRequest(
      srv.port,
      'POST /environ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n',
    );
    const env = JSON.parse(chunked.body.toString()) as Record<string, string>;
    assert.equal(env.CONTENT_LENGTH, '11', 'a buffered chunked body gets its real CONTENT_LENGTH');
    assert.equal(env.HTTP_TRANSFER_ENCODING, undefined);

    const echoed = await rawRequest(srv.port, 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    assert.equal(echoed.body.toString(), 'abc');

    const lines = await fetch(`${srv.url}/echo-lines`, { method: 'POST', body: 'one\ntwo\nthree' });
    assert.deepEqual(await lines.json(), { lines: ['one\n', 'two\n', 'three'] });
  });

  test('Expect: 100-continue gets an interim response before the body is sent', async () => {
    const sock = net.connect(srv.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    const interim = await new Promise<string>((r) => sock.once('data', (d) => r(d.toString('latin1'))));
    assert.equal(interim, 'HTTP/1.1 100 Continue\r\n\r\n');
    sock.write('hello');
    let final = Buffer.alloc(0);
    while (parseResponses(final).length === 0) {
      final = Buffer.concat([final, await new Promise<Buffer>((r) => sock.once('data', r))]);
    }
    sock.destroy();
    const [res] = parseResponses(final);
    assert.equal(res!.status, 200);
    assert.equal(res!.body.toString(), 'hello');
  });

  test('keep-alive and pipelining: answered in order on one connection', async () => {
    const { bytes, closed } = await exchange(srv.port, get('/status?201') + get('/sized?3') + get('/status?202'), { idleMs: 800 });
    const res = parseResponses(bytes);
    assert.deepEqual(
      res.map((r) => r.status),
      [201, 200, 202],
    );
    assert.equal(res[1]!.body.toString(), 'sss');
    assert.equal(closed, false, 'the connection stays open');
    for (const r of res) assert.equal(r.headers.get('keep-alive'), 'timeout=75', 'clients are told how long an idle connection is kept');
  });

  test('an error answered by the gateway keeps the connection, and says so', async () => {
    const { bytes, closed } = await exchange(srv.port, get('/die') + get('/sized?2'), { idleMs: 800 });
    const res = parseResponses(bytes);
    assert.deepEqual(
      res.map((r) => r.status),
      [502, 200],
    );
    assert.equal(res[0]!.headers.get('connection'), undefined);
    assert.equal(res[0]!.headers.get('keep-alive'), 'timeout=75');
    assert.equal(closed, false);
    const { bytes: b10 } = await exchange(srv.port, 'GET /die HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /sized?2 HTTP/1.0\r\n\r\n', {
      idleMs: 800,
    });
    const r10 = parseResponses(b10);
    assert.deepEqual(
      r10.map((r) => r.status),
      [502, 200],
    );
    assert.equal(r10[0]!.headers.get('connection'), 'keep-alive', 'an HTTP/1.0 client is told the connection stays');
  });

  test('HEAD: headers with the length a GET would have, no body', async () => {
    const { bytes } = await exchange(srv.port, 'HEAD /sized?7 HTTP/1.1\r\nHost: x\r\n\r\n' + get('/sized?2'), { idleMs: 800 });
    const res = parseResponses(bytes, [true, false]);
    assert.equal(res.length, 2);
    assert.equal(res[0]!.headers.get('content-length'), '7');
    assert.equal(res[0]!.body.length, 0);
    assert.equal(res[1]!.body.toString(), 'ss');
    const gen = parseResponses((await exchange(srv.port, 'HEAD /generator HTTP/1.1\r\nHost: x\r\n\r\n', { idleMs: 800 })).bytes, [true]);
    assert.equal(gen[0]!.headers.get('content-length'), '30', 'HEAD of a streamed body reports its counted length');
  });

  test('a response of unknown length is chunked for HTTP/1.1 and close-delimited for HTTP/1.0', async () => {
    const r11 = await rawRequest(srv.port, get('/slow-generator'));
    assert.equal(r11.headers.get('transfer-encoding'), 'chunked');
    assert.equal(r11.body.toString(), 'slow0;slow1;slow2;');
    const r10 = await rawRequest(srv.port, 'GET /slow-generator HTTP/1.0\r\n\r\n');
    assert.equal(r10.headers.get('transfer-encoding'), undefined);
    assert.equal(r10.headers.get('content-length'), undefined);
    assert.equal(r10.body.toString(), 'slow0;slow1;slow2;');
    assert.equal(r10.closed, true);
  });

  test('HTTP/1.0 keep-alive when asked for and the length is known', async () => {
    const { bytes, closed } = await exchange(
      srv.port,
      'GET /sized?1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /sized?2 HTTP/1.0\r\n\r\n',
      { idleMs: 800 },
    );
    const res = parseResponses(bytes);
    assert.equal(res.length, 2);
    assert.equal(res[0]!.headers.get('connection'), 'keep-alive');
    assert.equal(res[0]!.headers.get('keep-alive'), 'timeout=75');
    assert.equal(res[1]!.headers.get('keep-alive'), undefined);
    assert.equal(closed, true, 'the second request did not ask to keep the connection');
  });

  test('write() callable, generators, 204 and exc_info replacement', async () => {
    assert.equal(await (await fetch(`${srv.url}/write`)).text(), 'one,two,three');
    assert.equal(await (await fetch(`${srv.url}/generator`)).text(), 'part0;part1;part2;part3;part4;');
    const empty = await rawRequest(srv.port, get('/empty'));
    assert.equal(empty.status, 204);
    assert.equal(empty.headers.get('content-length'), undefined);
    const replaced = await fetch(`${srv.url}/exc-info`);
    assert.equal(replaced.status, 503);
    assert.equal(await replaced.text(), 'replaced');
  });

  test('an exception before the body is a 500 with the traceback in the log; the worker stays up', async () => {
    const res = await fetch(`${srv.url}/error-before`);
    assert.equal(res.status, 500);
    assert.doesNotMatch(await res.text(), /ValueError/, 'no traceback to the client');
    await srv.waitForLog(/ValueError: this app fails before any byte/);
    assert.equal((await fetch(`${srv.url}/sized?1`)).status, 200);
  });

  test('an exception after the headers aborts the connection instead of a clean truncated body', async () => {
    const { bytes, closed } = await exchange(srv.port, get('/error-after'), { idleMs: 3000 });
    assert.equal(closed, true);
    const text = bytes.toString('latin1');
    assert.match(text, /^HTTP\/1\.1 200 OK/);
    assert.doesNotMatch(text, /\r\n0\r\n\r\n$/, 'must not end with the last chunk');
    await srv.waitForLog(/RuntimeError: failing after the first chunk/);
  });

  test('a header value with CR/LF from the app becomes a 500, never a split header', async () => {
    const res = await rawRequest(srv.port, get('/bad-header'));
    assert.equal(res.status, 500);
    assert.equal(res.headers.get('set-cookie'), undefined);
  });

  test('close() is always called on the app iterable', async () => {
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const marker = `${mkdtempSync(`${tmpdir()}/warpipe-`)}/closed`;
    assert.equal(await (await fetch(`${srv.url}/closing?${marker}`)).text(), 'ab');
    assert.equal(readFileSync(marker, 'utf8'), 'closed');
  });

  test('wsgi.errors goes to the gateway log, tagged with the worker', async () => {
    await fetch(`${srv.url}/errors`);
    await srv.waitForLog(/\[worker \d+\] \[ERROR\] a line for the log from the app/);
  });

  test('a body over --limit-request-body is refused with 413 before the app runs', async () => {
    const res = await rawRequest(srv.port, 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100001\r\n\r\n');
    assert.equal(res.status, 413);
    assert.equal(res.closed, true);
  });
});

describe('HTTP/1.1 without the validator', () => {
  let srv: Server;
  before(async () => {
    srv = await startServer('pep3333:application', {
      args: [
        '--header-timeout',
        '1',
        '--body-timeout',
        '1',
        '--keepalive-timeout',
        '1',
        '--buffer-request-body',
        '65536',
        '--min-upload-rate',
        '100000',
      ],
    });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('wsgi.file_wrapper: the gateway streams the file from the current position', async () => {
    const text = await (await fetch(`${srv.url}/file?5`)).text();
    assert.equal(text.length, 100_000 - 5);
    assert.equal(text.slice(0, 10), '5678901234');
  });

  test('large responses and a streamed echo of a large upload', async () => {
    const big = Buffer.from(await (await fetch(`${srv.url}/big?5`)).arrayBuffer());
    assert.equal(big.length, 5 << 20);
    const streamed = Buffer.from(await (await fetch(`${srv.url}/big-stream?4`)).arrayBuffer());
    assert.equal(streamed.length, 4 << 20);
    const upload = Buffer.alloc(3 << 20, 7);
    const echoed = Buffer.from(await (await fetch(`${srv.url}/echo-stream`, { method: 'POST', body: upload })).arrayBuffer());
    assert.equal(echoed.length, upload.length);
    assert.ok(echoed.equals(upload));
  });

  test('a worker that dies mid-request gives that client 502; others are unaffected; the pool respawns', async () => {
    const slow = fetch(`${srv.url}/sleep?1`);
    await new Promise((r) => setTimeout(r, 100));
    const died = await fetch(`${srv.url}/die`);
    assert.equal(died.status, 502);
    assert.equal((await slow).status, 200);
    const segv = await fetch(`${srv.url}/segfault`);
    assert.equal(segv.status, 502);
    await srv.waitForLog(/exited with signal SIGSEGV; respawning/);
    const after = await Promise.all(Array.from({ length: 10 }, () => fetch(`${srv.url}/sized?2`)));
    assert.deepEqual(
      after.map((r) => r.status),
      Array(10).fill(200),
    );
  });

  test('slowloris: a client that never finishes its head is closed and counted in the log', async () => {
    const started = Date.now();
    const { closed } = await exchange(srv.port, 'GET / HTTP/1.1\r\nHost: x\r\nX-a: ', { idleMs: 5000 });
    assert.equal(closed, true);
    assert.ok(Date.now() - started < 4000);
    await srv.waitForLog(/closed 1 connection that sent no complete request head within 1s/);
  });

  test('an upload that stalls gets 408 and is closed, without a worker ever seeing it', async () => {
    const started = Date.now();
    const { bytes, closed } = await exchange(srv.port, 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc', { idleMs: 5000 });
    assert.equal(parseResponses(bytes)[0]!.status, 408);
    assert.equal(closed, true);
    assert.ok(Date.now() - started < 4000);
  });

  test('a streamed upload that trickles under --min-upload-rate is cut off, and its worker freed', async () => {
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve) => {
      const sock = net.connect(srv.port, '127.0.0.1', () => {
        sock.write(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n`);
        sock.write(Buffer.alloc(100_000, 't')); // over --buffer-request-body: a worker now waits on the rest
        let n = 0;
        const drip = setInterval(() => {
          if (sock.destroyed || ++n > 60) return clearInterval(drip);
          sock.write(Buffer.alloc(1000, 't')); // 10 KB/s: never idle for 1 s, but far under 100 KB/s
        }, 100);
      });
      sock.on('error', () => {});
      sock.resume();
      sock.on('close', () => resolve(Date.now() - started));
    });
    assert.ok(closedAfter < 5000, `cut off after ${closedAfter} ms`);
    await srv.waitForLog(/upload idle for 1s or slower than 100000 bytes\/s while a worker waited on it; closing/);
    assert.equal((await fetch(`${srv.url}/sized?5`, { signal: AbortSignal.timeout(5000) })).status, 200);
  });

  test('an app that reads its upload slowly is not mistaken for a stalled client (--body-timeout 1)', async () => {
    const res = await fetch(`${srv.url}/slow-read?1.5`, { method: 'POST', body: Buffer.alloc(3 << 20, 1) });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { read: 3 << 20 });
  });

  test('an idle keep-alive connection is closed after --keepalive-timeout', async () => {
    const started = Date.now();
    const { bytes, closed } = await exchange(srv.port, 'GET /sized?1 HTTP/1.1\r\nHost: x\r\n\r\n', { idleMs: 5000 });
    assert.equal(parseResponses(bytes)[0]!.status, 200);
    assert.equal(parseResponses(bytes)[0]!.headers.get('keep-alive'), 'timeout=1');
    assert.equal(closed, true);
    const took = Date.now() - started;
    assert.ok(took >= 900 && took < 4000, `closed after ${took} ms`);
  });

  test('100 clients that do not read their responses do not hold the workers', async () => {
    const sockets: net.Socket[] = [];
    for (let i = 0; i < 100; i++) {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('error', () => {});
      s.write(get('/sized?262144'));
      s.pause();
      sockets.push(s);
    }
    await new Promise((r) => setTimeout(r, 500));
    const started = Date.now();
    const res = await Promise.all(Array.from({ length: 20 }, () => fetch(`${srv.url}/sized?5`)));
    assert.deepEqual(
      res.map((r) => r.status),
      Array(20).fill(200),
    );
    assert.ok(Date.now() - started < 5000, 'fast clients are served while slow ones are buffered');
    for (const s of sockets) s.destroy();
  });

  test('slow uploads are read by the gateway before a worker is involved', async () => {
    const sockets: net.Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('error', () => {});
      s.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n' + 'x'.repeat(500));
      sockets.push(s);
    }
    await new Promise((r) => setTimeout(r, 300));
    const res = await Promise.all(Array.from({ length: 10 }, () => fetch(`${srv.url}/sized?5`)));
    assert.deepEqual(
      res.map((r) => r.status),
      Array(10).fill(200),
    );
    for (const s of sockets) s.destroy();
  });
});

describe('hostile requests never reach the app', () => {
  let srv: Server;
  before(async () => {
    srv = await startServer('pep3333:application', { args: ['--limit-request-line', '200', '--limit-request-headers', '2048'] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  const cases: [string, string, number][] = [
    ['bare LF line ends', 'GET /environ HTTP/1.1\nHost: x\n\n', 400],
    [
      'Content-Length and Transfer-Encoding together',
      'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
    ],
    ['duplicate Content-Length', 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc', 400],
    ['comma-list Content-Length', 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc', 400],
    ['unknown transfer coding', 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n', 501],
    ['chunked not last', 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', 400],
    ['no Host in HTTP/1.1', 'GET /environ HTTP/1.1\r\n\r\n', 400],
    ['two Host fields', 'GET /environ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
    ['whitespace before the colon', 'GET /environ HTTP/1.1\r\nHost : x\r\n\r\n', 400],
    ['obs-fold', 'GET /environ HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n', 400],
    ['NUL in a value', 'GET /environ HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n', 400],
    ['bad chunk size', 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n', 400],
    ['URI too long', `GET /${'a'.repeat(300)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
    ['header section too large', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(3000)}\r\n\r\n`, 431],
    ['HTTP/2.0 on an HTTP/1 port', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505],
    ['garbage', 'HELLO\r\n\r\n', 400],
    ['chunked, identity', 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n', 400],
    [
      'chunked twice (stacked fields)',
      'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
    ],
    ['Transfer-Encoding in HTTP/1.0', 'POST /echo HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['bare CR in a field line', 'GET /environ HTTP/1.1\r\nHost: x\rX-A: 1\r\n\r\n', 400],
    ['control character in a field name', 'GET /environ HTTP/1.1\r\nHost: x\r\nX\x01A: 1\r\n\r\n', 400],
    ['a bad chunk extension', 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a b\r\nhello\r\n0\r\n\r\n', 400],
    [
      'a chunk-size line of 5000 bytes',
      `POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;x=${'e'.repeat(5000)}\r\nhello\r\n0\r\n\r\n`,
      400,
    ],
    [
      'a chunk that is longer than its size',
      'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n',
      400,
    ],
    ['asterisk-form for GET', 'GET * HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['absolute-form with another scheme', 'GET ftp://x/ HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ];
  for (const [name, request, status] of cases) {
    test(`${name} -> ${status}, connection closed, the next request never runs`, async () => {
      const { bytes, closed } = await exchange(srv.port, request + 'GET /status?299 HTTP/1.1\r\nHost: x\r\n\r\n');
      const res = parseResponses(bytes);
      assert.equal(res.length, 1, `exactly one response, got: ${bytes.toString('latin1')}`);
      assert.equal(res[0]!.status, status);
      assert.equal(res[0]!.headers.get('connection'), 'close');
      assert.equal(closed, true);
    });
  }
});

describe('requests written ahead to a busy worker (--pipeline)', () => {
  let srv: Server;
  before(async () => {
    srv = await startServer('pep3333:application', { args: ['--workers', '1'] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('a mix of response shapes queued behind each other on one worker all come back right', async () => {
    const shapes = [
      ['/file?3', (t: string) => t.length === 100_000 - 3 && t.startsWith('3456')],
      ['/generator', (t: string) => t === 'part0;part1;part2;part3;part4;'],
      ['/sized?7', (t: string) => t === 'sssssss'],
      ['/write', (t: string) => t === 'one,two,three'],
      ['/error-before', (t: string) => t === 'Internal Server Error\n'],
    ] as const;
    const all = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const [path, ok] = shapes[i % shapes.length]!;
        const res = await fetch(`${srv.url}${path}`);
        return { path, ok: ok(await res.text()) };
      }),
    );
    assert.deepEqual(
      all.filter((r) => !r.ok),
      [],
    );
    const echoes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => fetch(`${srv.url}/echo`, { method: 'POST', body: `body ${i}` }).then((r) => r.text())),
    );
    assert.deepEqual(
      echoes,
      Array.from({ length: 20 }, (_, i) => `body ${i}`),
    );
  });

  test('requests written ahead behind one that kills its worker are all served, in order, by the next worker', async () => {
    // six connections ready first, then six requests in one tick: the one worker takes one and
    // (its requests having taken no time yet) has the others written ahead behind it
    const socks = await Promise.all(
      Array.from(
        { length: 6 },
        () =>
          new Promise<net.Socket>((resolve, reject) => {
            const s = net.connect(srv.port, '127.0.0.1', () => resolve(s));
            s.on('error', reject);
          }),
      ),
    );
    const replies = socks.map((s) => {
      const got: Buffer[] = [];
      s.on('data', (d: Buffer) => got.push(d));
      return new Promise<Buffer>((resolve) => s.on('close', () => resolve(Buffer.concat(got))));
    });
    const closing = (path: string): string => get(path).replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n');
    socks.forEach((s, i) => s.write(closing(i === 2 ? '/die-later?0' : `/sized?${i + 1}`)));
    const responses = (await Promise.all(replies)).map((b) => parseResponses(b)[0]);
    assert.equal(responses[2]?.status, 502);
    for (const i of [0, 1, 3, 4, 5]) {
      assert.equal(responses[i]?.status, 200, `request ${i}`);
      assert.equal(responses[i].body.toString(), 's'.repeat(i + 1));
    }
  });

  test('a request written ahead to a worker that dies is served by the next worker, not failed', async () => {
    const dying = fetch(`${srv.url}/die-later?0.4`);
    await new Promise((r) => setTimeout(r, 100));
    const behind = fetch(`${srv.url}/sized?4`);
    assert.equal((await dying).status, 502);
    const res = await behind;
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ssss');
  });
});

describe('Connection: close', () => {
  let srv: Server;
  let metrics: string;
  before(async () => {
    srv = await startServer('pep3333:application', { args: ['--metrics', '127.0.0.1:0'] });
    metrics = /metrics on (http:\/\/[^\s]+)/.exec(srv.logs())![1]!;
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  /** The client's connection, its request sent, once our answer and FIN are in: the answer and the open count. */
  async function answered(request: string): Promise<{ sock: net.Socket; body: string; open: number }> {
    const sock = net.connect({ port: srv.port, host: '127.0.0.1', allowHalfOpen: true });
    sock.on('error', () => {});
    const got: Buffer[] = [];
    sock.on('data', (d: Buffer) => got.push(d));
    const ended = new Promise<void>((resolve) => sock.once('end', resolve));
    sock.write(request);
    await ended;
    const [res, ...more] = parseResponses(Buffer.concat(got));
    assert.equal(res?.status, 200);
    assert.equal(more.length, 0);
    const text = await (await fetch(metrics)).text();
    const open = Number(/^warpipe_connections\{listener="http"\} (\d+)$/m.exec(text)?.[1]);
    return { sock, body: res.body.toString(), open };
  }

  const closing = (path: string): string => get(path).replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n');

  test('with nothing more sent, the server closes at once, as nginx does: it does not wait for the client to end', async () => {
    // our FIN is in and the client has not ended its side: a server that shut down and lingered still holds it
    const { sock, body, open } = await answered(closing('/sized?3'));
    assert.equal(body, 'sss');
    assert.equal(open, 0);
    sock.destroy();
  });

  test('with more already sent, the server lingers: what follows is read and dropped, not reset', async () => {
    const { sock, body, open } = await answered(`${closing('/sized?2')}GET /sized?4 HTTP/1.1\r\n`);
    assert.equal(body, 'ss');
    assert.ok(open >= 1, `the server holds the connection (${open} open)`);
    const closed = new Promise<boolean>((resolve) => sock.once('close', resolve));
    sock.end('Host: example.test\r\n\r\n');
    assert.equal(await closed, false);
  });
});

describe('--keepalive-timeout 0', () => {
  let srv: Server;
  before(async () => {
    srv = await startServer('pep3333:application', { args: ['--keepalive-timeout', '0'] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  // A client that is not told the connection closes may send its next request
  // into a socket the server is already closing (undici then fails the fetch).
  for (const [path, status] of [
    ['/sized?3', 200],
    ['/error-before', 500],
    ['/die', 502],
  ] as const) {
    test(`${status} (${path}): Connection: close is sent and the connection closed`, async () => {
      const { bytes, closed } = await exchange(srv.port, get(path), { idleMs: 3000 });
      const [res, ...more] = parseResponses(bytes);
      assert.equal(res?.status, status);
      assert.equal(res.headers.get('connection'), 'close');
      assert.equal(more.length, 0);
      assert.equal(closed, true);
    });
  }
});
