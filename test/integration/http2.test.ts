// HTTP/2 on the HTTP listeners, with real clients: curl (--http2-prior-knowledge
// on --http, --http2 over --https by ALPN) against every app kind, node:http2's
// client for the edge cases, h2load for load. The app sees SERVER_PROTOCOL
// HTTP/2 and the same environ otherwise; a request body streams to the worker
// with flow control; a stream whose client never opens its window is cut by
// --send-timeout without holding a worker; a reset stream still queued is never
// run; shutdown sends GOAWAY and lets streams in flight finish. The attacks on
// HTTP/2 are in http2-attacks.test.ts.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { haveOpenssl, makeCertificate } from '../helpers/certs.js';
import { writeCgiScripts } from '../helpers/cgi-scripts.js';
import { h2connect, h2get, h2request } from '../helpers/h2.js';
import { h2Frame, hpack } from '../../bench/chaos.js';
import { ASGI_DIR, requirePeer, startServer, type Server } from '../helpers/server.js';

const haveCurl = spawnSync('curl', ['--version'], { encoding: 'utf8' }).stdout?.includes('HTTP2') === true;
const haveH2load = spawnSync('h2load', ['--version'], { stdio: 'ignore' }).status === 0;

/** curl's answer: the HTTP version it spoke, the status and the body. */
function curl(args: string[]): Promise<{ version: string; status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('curl', ['-sk', '--max-time', '30', '-o', '-', '-w', '\n%{http_version} %{http_code}', ...args]);
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`curl ${args.join(' ')} exited ${code}`));
      const nl = out.lastIndexOf('\n');
      const [version, status] = out.slice(nl + 1).split(' ');
      resolve({ version: version!, status: Number(status), body: out.slice(0, nl) });
    });
  });
}

/** A certificate for localhost in `dir`, and the --https arguments that serve it. */
function certificate(dir: string): string[] {
  makeCertificate(`${dir}/cert.pem`, `${dir}/key.pem`, 'localhost');
  return ['--https', '127.0.0.1:0', '--certfile', `${dir}/cert.pem`, '--keyfile', `${dir}/key.pem`];
}

const tlsPort = (srv: Server): number => Number(/listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(srv.logs())![1]);

describe('HTTP/2: every app kind, h2c and h2', () => {
  let srv: Server;
  let upstream: Server;
  let asgi: Server;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-h2-`);
  before(async () => {
    if (!haveOpenssl) return;
    writeCgiScripts(`${dir}/cgi-bin`);
    mkdirSync(`${dir}/static`);
    writeFileSync(`${dir}/static/page.html`, '<p>static over h2</p>\n');
    // a mount's upstream: another warpipe speaking SCGI
    const scgiPort = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
    });
    upstream = await startServer('pep3333:application', { args: ['--scgi', `127.0.0.1:${scgiPort}`, '--workers', '1'] });
    srv = await startServer('pep3333:application', {
      args: [
        ...certificate(dir),
        '--static',
        `/static=${dir}/static`,
        '--cgi',
        `/cgi-bin=${dir}/cgi-bin`,
        '--mount',
        `/up=scgi://127.0.0.1:${scgiPort}`,
        '--access-log',
        `${dir}/access.log`,
        '--access-log-format',
        '$request_method $request_uri $server_protocol $status',
      ],
    });
    asgi = await startServer('probe:app', { cwd: ASGI_DIR, args: ['--workers', '1'] });
  });
  after(async () => {
    for (const s of [srv, upstream, asgi]) if (s) assert.equal(await s.stop(), 0);
  });

  test('curl over h2c and over TLS by ALPN: WSGI, static, CGI, a mount and ASGI all answer in HTTP/2', async (t) => {
    if (!requirePeer(t, haveCurl && haveOpenssl, 'curl with HTTP/2 and openssl (Debian packages curl, openssl)')) return;
    const origins = [
      ['--http2-prior-knowledge', srv.url],
      ['--http2', `https://127.0.0.1:${tlsPort(srv)}`],
    ] as const;
    for (const [flag, origin] of origins) {
      const env = await curl([flag, `${origin}/environ?x=1`]);
      assert.equal(env.version, '2', `${origin}: curl spoke HTTP/2`);
      const e = JSON.parse(env.body) as Record<string, string>;
      assert.equal(e.SERVER_PROTOCOL, 'HTTP/2');
      assert.equal(e.QUERY_STRING, 'x=1');
      assert.equal(e.HTTP_HOST, origin.slice(origin.indexOf('//') + 2), ':authority is HTTP_HOST');
      assert.equal(e['wsgi.url_scheme'], origin.startsWith('https') ? 'https' : 'http');
      assert.deepEqual(await curl([flag, `${origin}/static/page.html`]), { version: '2', status: 200, body: '<p>static over h2</p>\n' });
      const cgi = await curl([flag, `${origin}/cgi-bin/env.sh`]);
      assert.equal(cgi.status, 200);
      assert.match(cgi.body, /^SERVER_PROTOCOL=HTTP\/2$/m);
      const mounted = await curl([flag, `${origin}/up/sized?4`]);
      assert.deepEqual(mounted, { version: '2', status: 200, body: 'ssss' });
      const upload = Buffer.alloc(3 << 20, 'u'); // over --buffer-request-body: streamed to the worker
      writeFileSync(`${dir}/upload.bin`, upload);
      const echo = await curl([flag, '--data-binary', `@${dir}/upload.bin`, `${origin}/echo`]);
      assert.equal(echo.status, 200);
      assert.equal(createHash('sha256').update(echo.body, 'latin1').digest('hex'), createHash('sha256').update(upload).digest('hex'));
    }
    const scope = await curl(['--http2-prior-knowledge', `${asgi.url}/scope`]);
    assert.equal(scope.version, '2');
    assert.match(scope.body, /'http_version': '2'/, 'the ASGI scope says HTTP/2');
    const log = readFileSync(`${dir}/access.log`, 'utf8');
    assert.match(log, /^GET \/environ\?x=1 HTTP\/2 200$/m, 'the access log says HTTP/2');
  });

  test('--http still speaks HTTP/1.1, and --https offers h2 then http/1.1', async (t) => {
    if (!requirePeer(t, haveCurl && haveOpenssl, 'curl and openssl')) return;
    assert.equal((await curl(['--http1.1', `${srv.url}/sized?1`])).version, '1.1');
    assert.equal((await curl(['--http1.1', `https://127.0.0.1:${tlsPort(srv)}/sized?1`])).version, '1.1');
    // curl --http2 on plain http asks for an h2c upgrade, which warpipe does not take (RFC 9113 dropped it): HTTP/1.1 answers
    assert.equal((await curl(['--http2', `${srv.url}/sized?1`])).version, '1.1');
  });

  test('the response: set-cookie repeated, no connection-specific fields, HEAD and 204 without a body', async (t) => {
    if (!requirePeer(t, haveOpenssl, 'openssl')) return;
    const session = await h2connect(srv.url);
    try {
      const head = await h2request(session, { ':method': 'HEAD', ':path': '/sized?5' });
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], '5');
      assert.equal(head.body.length, 0);
      const empty = await h2request(session, '/empty');
      assert.equal(empty.status, 204);
      assert.equal(empty.headers['content-length'], undefined);
      const streamed = await h2request(session, '/big-stream?3');
      assert.equal(streamed.status, 200);
      assert.equal(streamed.headers['transfer-encoding'], undefined);
      assert.equal(streamed.headers.server, 'warpipe');
      assert.ok(streamed.body.length > 0);
      const failed = await h2request(session, '/error-before');
      assert.equal(failed.status, 500);
      // the same connection still serves after a failed stream
      assert.equal((await h2request(session, '/sized?2')).body.toString(), 'ss');
    } finally {
      session.close();
    }
  });

  test('warpipe holds what HTTP/2 leaves to a server: :authority against Host, CONNECT, content-length, Expect', async (t) => {
    if (!requirePeer(t, haveOpenssl, 'openssl')) return;
    const session = await h2connect(srv.url);
    try {
      const mismatch = await h2request(session, { ':path': '/environ', ':authority': 'a.example', host: 'b.example' });
      assert.equal(mismatch.status, 400);
      const agree = await h2request(session, { ':path': '/environ', ':authority': 'a.example', host: 'a.example' });
      assert.equal(agree.status, 200);
      const connect = await h2request(session, { ':method': 'CONNECT', ':authority': 'a.example:443' });
      assert.equal(connect.status, 400);
      const expect = await h2request(session, { ':method': 'POST', ':path': '/echo', expect: 'teapot' }, 'x');
      assert.equal(expect.status, 417);
      const cont = await h2request(session, { ':method': 'POST', ':path': '/echo', expect: '100-continue' }, 'body');
      assert.equal(cont.body.toString(), 'body');
      // a body with no content-length: the app is told its length (Django trusts CONTENT_LENGTH)
      const env = await h2request(session, { ':method': 'POST', ':path': '/environ' }, 'four');
      assert.equal((JSON.parse(env.body.toString()) as Record<string, string>).CONTENT_LENGTH, '4');
      assert.equal((await h2request(session, '/sized?3')).body.toString(), 'sss', 'the connection outlived every refusal');
    } finally {
      session.close();
    }
  });

  test('h2load: 10 connections x 10 streams, 0 failed', async (t) => {
    if (!requirePeer(t, haveH2load, 'h2load (Debian package nghttp2-client)')) return;
    for (const origin of [srv.url, `https://127.0.0.1:${tlsPort(srv)}`]) {
      const r = spawnSync('h2load', ['-n', '2000', '-c', '10', '-m', '10', `${origin}/sized?100`], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored, 0 timeout/, r.stdout);
      assert.match(r.stdout, /status codes: 2000 2xx/);
    }
  });
});

describe('HTTP/2: flow control, resets, limits and shutdown', () => {
  let srv: Server;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-h2q-`);
  before(async () => {
    srv = await startServer('queue_probe:application', {
      args: ['--workers', '1', '--send-timeout', '1', '--buffer-response', '65536'],
    });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  test('a stream reset while its request waits in the queue is never run', async () => {
    const session = await h2connect(srv.url);
    const gate = `${dir}/open-1`;
    const blocking = h2request(session, `/block?${gate}`);
    await srv.waitForLog(/queue_probe ran \/block\?.*open-1/);
    const queued = session.request({ ':path': '/never' });
    queued.on('error', () => {});
    queued.on('response', () => assert.fail('a reset stream got an answer'));
    // a PING answered after the HEADERS: the server has taken the request (frames are read in order)
    await new Promise<void>((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
    queued.close(http2.constants.NGHTTP2_CANCEL);
    await new Promise<void>((resolve) => queued.on('close', resolve));
    writeFileSync(gate, '');
    assert.equal((await blocking).body.toString(), 'ran /block');
    // the next request runs after the dropped one would have: had it run, its line would be in the log by now
    assert.equal((await h2request(session, '/after')).body.toString(), 'ran /after');
    assert.doesNotMatch(srv.logs(), /queue_probe ran \/never/);
    session.close();
    await new Promise((resolve) => session.on('close', resolve));
  });

  test('a client that never opens its window is cut by --send-timeout, and the worker is free meanwhile', async () => {
    // the app sends 400 KiB at once: more than the 64 KiB window and --buffer-response together
    const stingy = await h2connect(srv.url, { initialWindowSize: 0 });
    const stuck = stingy.request({ ':path': '/big?400' });
    stuck.on('error', () => {});
    stuck.pause();
    const closed = new Promise<number>((resolve) => stuck.on('close', () => resolve(stuck.rstCode)));
    const other = await h2get(srv.url, '/meanwhile');
    assert.equal(other.body.toString(), 'ran /meanwhile', 'the worker is not held by the stuck stream');
    assert.equal(await closed, http2.constants.NGHTTP2_CANCEL, 'RST_STREAM CANCEL after --send-timeout');
    await srv.waitForLog(/accepted no data on an HTTP\/2 stream for 1s; resetting it/);
    stingy.close();
  });

  test('--max-connections-per-ip counts HTTP/2 connections', async () => {
    const limited = await startServer('queue_probe:application', { args: ['--workers', '1', '--max-connections-per-ip', '2'] });
    try {
      const a = await h2connect(limited.url);
      const b = await h2connect(limited.url);
      await h2request(a, '/a');
      await h2request(b, '/b');
      const third = await fetch(`${limited.url}/c`);
      assert.equal(third.status, 503);
      await third.text();
      a.close();
      b.close();
    } finally {
      assert.equal(await limited.stop(), 0);
    }
  });

  test('SIGTERM: GOAWAY to an HTTP/2 client, its stream in flight finishes, then the server exits 0', async () => {
    const session = await h2connect(srv.url);
    const gate = `${dir}/open-2`;
    const inFlight = h2request(session, `/block?${gate}`);
    await srv.waitForLog(/queue_probe ran \/block\?.*open-2/);
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
    const exited = srv.stop();
    assert.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR);
    writeFileSync(gate, '');
    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'ran /block');
    assert.equal(await exited, 0);
    srv = null as unknown as Server;
  });
});

test('--spool-request-body over HTTP/2: an upload half sent holds no worker, and comes back whole', async () => {
  const dir = mkdtempSync(`${tmpdir()}/warpipe-h2spool-`);
  const srv = await startServer('pep3333:application', {
    args: ['--workers', '1', '--pipeline', '0', '--buffer-request-body', '16K', '--spool-request-body', '1M', '--spool-dir', dir],
  });
  try {
    const session = await h2connect(srv.url);
    const body = Buffer.alloc(400_000, 'p');
    const upload = session.request({ ':method': 'POST', ':path': '/echo', 'content-length': String(body.length) });
    const echoed = new Promise<Buffer>((resolve, reject) => {
      const got: Buffer[] = [];
      upload.on('data', (c: Buffer) => got.push(c));
      upload.on('end', () => resolve(Buffer.concat(got)));
      upload.on('error', reject);
    });
    upload.write(body.subarray(0, 200_000)); // (more than --buffer-request-body fits in the stream's 64 KiB window)
    // a PING answered after the upload's first DATA: the server has taken the upload before the GET
    await new Promise<void>((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
    // the only worker must be free while half the body is still to come: were the upload streamed to it,
    // this GET (read after those DATA frames) would wait for the rest, which is sent only once it is answered
    assert.equal((await h2request(session, '/sized?3')).body.toString(), 'sss');
    upload.end(body.subarray(200_000));
    const back = await echoed;
    assert.equal(createHash('sha256').update(back).digest('hex'), createHash('sha256').update(body).digest('hex'));
    session.close();
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});

test('--http2 off: HTTP/1.1 only on --http, and --https offers only http/1.1', async (t) => {
  if (!requirePeer(t, haveOpenssl, 'openssl')) return;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-h2off-`);
  const srv = await startServer('pep3333:application', { args: [...certificate(dir), '--http2', 'off', '--workers', '1'] });
  try {
    await assert.rejects(h2get(srv.url, '/sized?1'), 'no HTTP/2 session on --http');
    const alpn = await new Promise<string | false>((resolve, reject) => {
      const s = tls.connect({ port: tlsPort(srv), host: '127.0.0.1', rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
        resolve(s.alpnProtocol ?? false);
        s.destroy();
      });
      s.on('error', reject);
    });
    assert.equal(alpn, 'http/1.1');
    assert.equal((await fetch(`${srv.url}/sized?2`)).status, 200);
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});

test('a session nghttp2 ended on the client error (COMPRESSION_ERROR) while a stream was open is closed, not kept for good', async () => {
  // node 20 stops reading once nghttp2 has ended the session and closes nothing: the stream held open (an upload
  // half sent here) never ended, and the connection outlived its client until shutdown (found by bench/chaos.ts).
  // Node 24 closes such a session itself; either way the connection must be gone (the gauge back to 0).
  const args = ['--workers', '1', '--keepalive-timeout', '1', '--metrics', '127.0.0.1:0'];
  const srv = await startServer('probe:app', { cwd: ASGI_DIR, args });
  const metrics = /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(await srv.waitForLog(/metrics on \S+/))![1]!;
  const open = async (): Promise<number> =>
    Number(/^warpipe_connections\{listener="http"\} (\d+)/m.exec(await (await fetch(metrics)).text())?.[1] ?? NaN);
  try {
    const post = hpack([
      [':method', 'POST'],
      [':scheme', 'http'],
      [':path', '/echo'],
      [':authority', 'x'],
    ]);
    const socket = net.connect(srv.port, '127.0.0.1');
    socket.on('error', () => {});
    let got = Buffer.alloc(0);
    // the server's GOAWAY (type 7) says COMPRESSION_ERROR (9)
    const goaway = new Promise<number>((resolve) =>
      socket.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        const code = goawayIn(got);
        if (code !== null) resolve(code);
      }),
    );
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      Buffer.concat([
        Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
        h2Frame(4, 0, 0, Buffer.alloc(0)), // SETTINGS
        h2Frame(1, 0x4, 1, post), // HEADERS, END_HEADERS, no END_STREAM: the body is still to come
        h2Frame(0, 0, 1, Buffer.from('half')),
        h2Frame(1, 0x5, 3, Buffer.from([0x80])), // an indexed field of index 0: COMPRESSION_ERROR
      ]),
    );
    assert.equal(await goaway, 9, got.toString('hex'));
    socket.destroy();
    if (process.versions.node.split('.')[0] === '20') {
      await srv.waitForLog(
        /HTTP\/2 connection from 127\.0\.0\.1: no byte in or out for 2s with 1 stream\(s\) open, not even a PING: closing it/,
      );
    }
    for (let i = 0; i < 400 && (await open()) !== 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await open(), 0, 'the connection is still counted open');
    assert.match((await h2get(srv.url, '/hello')).body.toString(), /hello from asgi/);
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});

/** The error code of the first GOAWAY among the server's frames in `bytes`, or null. */
function goawayIn(bytes: Buffer): number | null {
  for (let at = 0; at + 9 <= bytes.length; ) {
    const length = bytes.readUIntBE(at, 3);
    if (bytes[at + 3] === 7 && at + 9 + 8 <= bytes.length) return bytes.readUInt32BE(at + 9 + 4);
    at += 9 + length;
  }
  return null;
}
