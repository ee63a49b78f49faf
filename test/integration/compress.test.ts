// --compress with real Python workers and real clients (fetch, curl
// --compressed, node:http, raw sockets): bodies decode to what the app sent,
// a stream's blocks each reach the client decodable before the app makes the
// next (the app waits on a FIFO the test writes only then), a large body
// compressed on the thread pool does not hold up other clients, and the
// settings refuse bad values. --static's precompressed files and max-age are in
// static-compress.test.ts.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, watch } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startServer, type Server } from '../helpers/server.js';
import { decode, decoder, getRaw, nodeHasZstd, prose } from '../helpers/compressed.js';
import { exchange, parseResponses } from '../helpers/raw.js';
import net from 'node:net';
import { encodeScgiHead } from '../../src/protocols/scgi/netstring.js';

const codings = nodeHasZstd ? ['br', 'zstd', 'gzip'] : ['br', 'gzip'];
const BLOCKS = [prose(3000, 2), prose(10, 3), prose(70000, 4)];

describe('--compress with Python workers', () => {
  let srv: Server;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warpipe-compress-'));
    srv = await startServer('compressible:application');
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
    rmSync(dir, { recursive: true, force: true });
  });

  test('fetch (gzip, deflate, br) decodes what it gets back to the app bytes', async () => {
    for (const path of ['/text?n=50000', '/json']) {
      const res = await fetch(`${srv.url}${path}`);
      assert.match(res.headers.get('content-encoding') ?? '', /^(br|gzip|zstd)$/, path);
      assert.equal(res.headers.get('vary'), 'Accept-Encoding');
      const text = await res.text();
      if (path === '/json') assert.equal((JSON.parse(text) as unknown[]).length, 150);
      else assert.equal(text, prose(50000));
    }
  });

  test('every coding, each decoded; a small body and a client that accepts nothing get the plain body', async () => {
    for (const coding of codings) {
      const res = await getRaw(srv.port, '/json', { 'Accept-Encoding': coding });
      assert.equal(res.headers['content-encoding'], coding);
      assert.equal(Number(res.headers['content-length']), res.raw.length, "the compressed length, not the app's");
      assert.ok(res.raw.length * 3 < decode(coding, res.raw).length, `${coding}: ${res.raw.length} bytes`);
      assert.equal((JSON.parse(decode(coding, res.raw).toString()) as unknown[]).length, 150);
    }
    const small = await getRaw(srv.port, '/text?n=1000', { 'Accept-Encoding': 'gzip' });
    assert.equal(small.headers['content-encoding'], undefined);
    assert.equal(small.raw.toString(), prose(1000));
    const none = await getRaw(srv.port, '/text', {});
    assert.equal(none.headers['content-encoding'], undefined);
    assert.equal(none.headers.vary, undefined, 'no Accept-Encoding: the response is left alone');
    assert.equal(none.raw.toString(), prose(20000));
  });

  test('curl --compressed', async (t) => {
    const curl = await new Promise<{ out: string; err: Error | null }>((resolve) =>
      execFile('curl', ['-sS', '--compressed', '-D', '-', `${srv.url}/text?n=30000`], { maxBuffer: 1 << 20 }, (err, out) =>
        resolve({ out, err }),
      ),
    );
    if ((curl.err as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
      if (process.env.CI === 'true') assert.fail('curl is not installed');
      return t.skip('curl is not installed');
    }
    assert.equal(curl.err, null);
    const [head, ...body] = curl.out.split('\r\n\r\n');
    assert.match(head!, /^content-encoding: (br|zstd|gzip)$/im);
    assert.equal(body.join('\r\n\r\n'), prose(30000));
  });

  test('raw sockets: keep-alive requests with and without Accept-Encoding; HTTP/1.0', async () => {
    const req = (accept: string): string => `GET /text?n=8000 HTTP/1.1\r\nHost: x\r\n${accept}\r\n`;
    const { bytes } = await exchange(srv.port, [
      req('Accept-Encoding: gzip\r\n'),
      req(''),
      req('Accept-Encoding: br;q=1, gzip;q=0.5\r\n'),
      `GET /text?n=8000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    ]);
    const answers = parseResponses(bytes);
    assert.deepEqual(
      answers.map((a) => a.headers.get('content-encoding')),
      ['gzip', undefined, 'br', undefined],
    );
    for (const a of answers) assert.equal(decode(a.headers.get('content-encoding'), a.body).toString(), prose(8000));
    const old = await exchange(srv.port, 'GET /text?n=8000 HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n');
    const [one] = parseResponses(old.bytes);
    assert.equal(one!.headers.get('content-encoding'), 'gzip');
    assert.equal(decode('gzip', one!.body).toString(), prose(8000));
  });

  test('a stream: each block reaches the client decodable before the app is let to make the next', async () => {
    for (const coding of codings) {
      const fifo = join(dir, `go-${coding}`);
      await new Promise<void>((resolve, reject) => execFile('mkfifo', [fifo], (err) => (err ? reject(err) : resolve())));
      const text = await new Promise<string>((resolve, reject) => {
        const path = `/stream?fifo=${encodeURIComponent(fifo)}`;
        const req = http.get({ host: '127.0.0.1', port: srv.port, path, headers: { 'Accept-Encoding': coding }, agent: false }, (res) => {
          assert.equal(res.headers['content-encoding'], coding);
          assert.equal(res.headers['transfer-encoding'], 'chunked');
          const d = decoder(coding);
          let got = '';
          let next = 1;
          let want = BLOCKS[0]!.length;
          // the app waits for a line on the FIFO (kept open) to make each next block
          let fifoEnd: Promise<FileHandle> | null = null;
          d.on('data', (b: Buffer) => {
            got += b.toString('latin1');
            if (got.length === want && next < BLOCKS.length) {
              want += BLOCKS[next++]!.length;
              fifoEnd ??= open(fifo, 'w');
              fifoEnd.then((w) => w.write('go\n')).catch(reject);
            }
          });
          d.on('end', () => {
            if (fifoEnd === null) resolve(got);
            else fifoEnd.then((w) => w.close()).then(() => resolve(got), reject);
          });
          d.on('error', reject);
          res.pipe(d);
        });
        req.on('error', reject);
      });
      assert.equal(text, BLOCKS.join(''), coding);
    }
  });
});

describe('--compress on a gateway listener (SCGI, as behind nginx scgi_pass)', () => {
  let srv: Server;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warpipe-compress-scgi-'));
    srv = await startServer('compressible:application', { args: ['--scgi', `unix:${dir}/scgi.sock`] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
    rmSync(dir, { recursive: true, force: true });
  });

  test('the response leaves as the app made it, whatever HTTP_ACCEPT_ENCODING says: nginx compresses', async () => {
    const head = encodeScgiHead([
      ['CONTENT_LENGTH', '0'],
      ['SCGI', '1'],
      ['REQUEST_METHOD', 'GET'],
      ['PATH_INFO', '/text'],
      ['QUERY_STRING', 'n=20000'],
      ['SERVER_NAME', 'localhost'],
      ['SERVER_PORT', '80'],
      ['SERVER_PROTOCOL', 'HTTP/1.1'],
      ['HTTP_ACCEPT_ENCODING', 'gzip, br'],
    ]);
    const bytes = await new Promise<Buffer>((resolve, reject) => {
      const sock = net.connect(`${dir}/scgi.sock`, () => sock.write(head));
      const got: Buffer[] = [];
      sock.on('data', (d: Buffer) => got.push(d));
      sock.on('error', reject);
      sock.on('close', () => resolve(Buffer.concat(got)));
    });
    const end = bytes.indexOf('\r\n\r\n');
    assert.ok(end > 0);
    assert.doesNotMatch(bytes.toString('latin1', 0, end), /content-encoding/i);
    assert.equal(bytes.subarray(end + 4).toString('latin1'), prose(20000));
  });
});

describe('--compress br:11: a body compressed on the thread pool holds up no other client', () => {
  let srv: Server;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warpipe-compress-stall-'));
    srv = await startServer('compressible:application', { args: ['--compress', 'br:11'] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
    rmSync(dir, { recursive: true, force: true });
  });

  test('while 3 MiB compress at brotli 11 (seconds), five requests in a row are answered', async () => {
    const mark = join(dir, 'returned');
    const marked = new Promise<void>((resolve) => {
      const w = watch(dir, () => {
        w.close();
        resolve();
      });
    });
    let bigDone = false;
    const big = getRaw(srv.port, `/big?n=${3 << 20}&mark=${encodeURIComponent(mark)}`, { 'Accept-Encoding': 'br' }).then((r) => {
      bigDone = true;
      return r;
    });
    await marked; // the app returned the body: the gateway compresses it now
    for (let i = 0; i < 5; i++) {
      const hello = await getRaw(srv.port, '/hello', { 'Accept-Encoding': 'br' });
      assert.equal(hello.raw.toString(), 'hello');
      assert.equal(bigDone, false, `request ${i + 1} waited for the big body's compression`);
    }
    const res = await big;
    assert.equal(res.headers['content-encoding'], 'br');
    assert.ok(decode('br', res.raw).equals(Buffer.from(prose(3 << 20, 7))));
  });
});

test('bad --compress values: one line, exit 2', async () => {
  for (const [value, why] of [
    ['deflate', /--compress must be on, off, or a list of br, zstd, gzip/],
    ['gzip:10', /--compress: the gzip level must be 1 to 9, got 10/],
  ] as [string, RegExp][]) {
    const r = await runCli(['hello:application', '--compress', value]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, why);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  if (!nodeHasZstd) {
    const r = await runCli(['hello:application', '--compress', 'zstd']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /zstd needs Node 22\.15 or later/);
  }
  const r = await runCli(['hello:application', '--compress-min-size', 'big']);
  assert.equal(r.code, 2, r.stderr);
});
