// Issue 11, item 5: a large upload to an app that never reads its body was read
// whole into memory over SCGI, uwsgi and FastCGI (2.8 GB for three 800 MiB
// uploads), where HTTP stopped reading at a few MiB. The gateway listeners now
// stop reading while a request holds more than --buffer-request-body; and on a
// FastCGI connection that multiplexes uploads past that, newer ones are refused.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer, type Server } from '../helpers/server.js';
import { peakMiB, rssMiB } from '../helpers/memory.js';
import { encodeScgiHead } from '../../src/protocols/scgi/netstring.js';
import { encodeUwsgiHead } from '../../src/protocols/uwsgi/packet.js';
import { encodeParams } from '../../src/protocols/fastcgi/params.js';
import { FCGI_KEEP_CONN, RecordType, Role, beginRequestBody, encodeRecord } from '../../src/protocols/fastcgi/record.js';

const UPLOAD = 300 * 1024 * 1024;

/** Write `head` then up to UPLOAD body bytes (in `frame`d pieces) with backpressure, until `answered(got)`; resolve with what came. */
function upload(path: string, head: Buffer, frame: (piece: Buffer) => Buffer, answered: (got: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    let sent = 0;
    let done = false;
    const piece = frame(Buffer.alloc(32 * 1024, 'u'));
    const sock = net.connect(path, () => {
      sock.write(head);
      pump();
    });
    const finish = (): void => {
      if (done) return;
      done = true;
      sock.destroy();
      resolve(Buffer.concat(got).toString('latin1'));
    };
    const pump = (): void => {
      while (!done && sent < UPLOAD) {
        sent += 32 * 1024;
        if (!sock.write(piece)) return void sock.once('drain', pump);
      }
    };
    sock.on('data', (d: Buffer) => {
      got.push(d);
      if (answered(Buffer.concat(got).toString('latin1'))) finish();
    });
    sock.on('error', () => finish());
    sock.on('close', () => (done ? undefined : reject(new Error(`closed: ${Buffer.concat(got).toString('latin1').slice(0, 200)}`))));
  });
}

const params = (path: string, length: number): [string, string][] => [
  ['CONTENT_LENGTH', String(length)],
  ['SCGI', '1'],
  ['REQUEST_METHOD', 'POST'],
  ['PATH_INFO', path],
  ['QUERY_STRING', '3'],
  ['SERVER_NAME', 'x'],
  ['SERVER_PORT', '80'],
];

const fcgiBegin = (id: number, path: string, length: number): Buffer =>
  Buffer.concat([
    encodeRecord(RecordType.BeginRequest, id, beginRequestBody(Role.Responder, FCGI_KEEP_CONN)),
    encodeRecord(RecordType.Params, id, encodeParams(params(path, length))),
    encodeRecord(RecordType.Params, id),
  ]);

describe('bodies an app does not read, over the gateway listeners', () => {
  let srv: Server;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-unread-`);
  before(async () => {
    srv = await startServer('pep3333:application', {
      args: [
        '--workers',
        '3',
        '--scgi',
        `unix:${dir}/scgi.sock`,
        '--uwsgi',
        `unix:${dir}/uwsgi.sock`,
        '--fastcgi',
        `unix:${dir}/fcgi.sock`,
      ],
    });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('three 300 MiB uploads to an app that sleeps 3 s and reads nothing: the gateway holds a few MiB of them', async () => {
    const pid = srv.proc.pid!;
    const before = rssMiB(pid);
    const answers = await Promise.all([
      upload(
        `${dir}/scgi.sock`,
        encodeScgiHead(params('/sleep', UPLOAD)),
        (p) => p,
        (g) => g.includes('slept'),
      ),
      upload(
        `${dir}/uwsgi.sock`,
        encodeUwsgiHead(params('/sleep', UPLOAD)),
        (p) => p,
        (g) => g.includes('slept'),
      ),
      upload(
        `${dir}/fcgi.sock`,
        fcgiBegin(1, '/sleep', UPLOAD),
        (p) => encodeRecord(RecordType.Stdin, 1, p),
        (g) => g.includes('slept'),
      ),
    ]);
    assert.match(answers[0], /^Status: 200 OK\r\n/);
    assert.match(answers[1], /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(answers[2], /Status: 200 OK\r\n/);
    const grew = peakMiB(pid) - before;
    // before the fix the gateway read on for the whole 3 s: hundreds of MiB
    assert.ok(grew < 80, `the gateway grew by ${grew.toFixed(0)} MiB`);
  });

  test('FastCGI: once its app answered without reading, a client still uploading is let go after a short linger', async () => {
    // the soak found these held for good: our side ended, the socket paused, the client never closing
    const sock = net.connect(`${dir}/fcgi.sock`);
    sock.on('error', () => {});
    const got: Buffer[] = [];
    sock.on('data', (d: Buffer) => got.push(d));
    const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
    const begin = Buffer.concat([
      encodeRecord(RecordType.BeginRequest, 1, beginRequestBody(Role.Responder, 0)),
      encodeRecord(
        RecordType.Params,
        1,
        encodeParams(params('/sleep', UPLOAD).map(([n, v]): [string, string] => [n, n === 'QUERY_STRING' ? '1' : v])),
      ),
      encodeRecord(RecordType.Params, 1),
    ]);
    sock.write(begin);
    const piece = encodeRecord(RecordType.Stdin, 1, Buffer.alloc(32 * 1024, 'k'));
    let stop = false;
    const pump = (): void => {
      while (!stop && !sock.destroyed) if (!sock.write(piece)) return void sock.once('drain', pump);
    };
    pump(); // keeps sending for as long as the server reads
    const gone = await Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 20_000))]);
    stop = true;
    sock.destroy();
    assert.ok(gone, 'the server still holds the connection 20 s after answering');
    assert.match(Buffer.concat(got).toString('latin1'), /Status: 200 OK\r\n[\s\S]*slept/);
  });

  test('FastCGI: uploads multiplexed past --buffer-request-body: the oldest is served whole, newer ones get FCGI_OVERLOADED', async () => {
    const size = 900_000; // each under --buffer-request-body (1 MiB), the two together over it
    const sock = net.connect(`${dir}/fcgi.sock`);
    const got: Buffer[] = [];
    sock.on('data', (d: Buffer) => got.push(d));
    const records = (): { type: number; id: number; content: Buffer }[] => {
      const all = Buffer.concat(got);
      const out = [];
      for (let off = 0; off + 8 <= all.length; off += 8 + all.readUInt16BE(off + 4) + all[off + 6]!) {
        out.push({
          type: all[off + 1]!,
          id: all.readUInt16BE(off + 2),
          content: all.subarray(off + 8, off + 8 + all.readUInt16BE(off + 4)),
        });
      }
      return out;
    };
    const ends = (): { id: number; protocolStatus: number }[] =>
      records()
        .filter((r) => r.type === RecordType.EndRequest)
        .map((r) => ({ id: r.id, protocolStatus: r.content[4]! }));
    sock.write(Buffer.concat([fcgiBegin(1, '/echo', size), fcgiBegin(2, '/echo', size)]));
    const piece = Buffer.alloc(30_000, 'm');
    for (let sent = 0; sent < size; sent += piece.length) {
      for (const id of [1, 2]) if (!sock.write(encodeRecord(RecordType.Stdin, id, piece))) await new Promise((r) => sock.once('drain', r));
    }
    sock.write(Buffer.concat([encodeRecord(RecordType.Stdin, 1), encodeRecord(RecordType.Stdin, 2)]));
    for (let i = 0; i < 1000 && ends().length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(
      ends().sort((a, b) => a.id - b.id),
      [
        { id: 1, protocolStatus: 0 },
        { id: 2, protocolStatus: 2 },
      ],
    );
    const echoed = Buffer.concat(
      records()
        .filter((r) => r.type === RecordType.Stdout && r.id === 1)
        .map((r) => r.content),
    ).toString('latin1');
    assert.match(echoed, new RegExp(`X-Length: ${size}\\r\\n`));
    // the kept connection serves on
    const before = ends().length;
    sock.write(
      Buffer.concat([fcgiBegin(3, '/echo', 2), encodeRecord(RecordType.Stdin, 3, Buffer.from('ok')), encodeRecord(RecordType.Stdin, 3)]),
    );
    for (let i = 0; i < 500 && ends().length === before; i++) await new Promise((r) => setTimeout(r, 20));
    sock.destroy();
    assert.deepEqual(ends().at(-1), { id: 3, protocolStatus: 0 });
    await srv.waitForLog(/fastcgi: refused requests multiplexed past --buffer-request-body/);
  });
});
