// Issue 11, item 1: a body cut into 1-byte pieces (HTTP chunks, FastCGI STDIN
// records) cost ~120 bytes of gateway memory per body byte, each piece kept as
// a Buffer of its own; a few dozen such uploads killed the gateway (V8 heap
// limit). Held bodies must cost memory in proportion to their bytes.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer, type Server } from '../helpers/server.js';
import { peakMiB, rssMiB } from '../helpers/memory.js';
import { parseResponses } from '../helpers/raw.js';
import { encodeParams } from '../../src/protocols/fastcgi/params.js';
import { FCGI_KEEP_CONN, RecordType, Role, beginRequestBody, encodeRecord } from '../../src/protocols/fastcgi/record.js';

const BODY = 1_000_000; // under --buffer-request-body (1 MiB): held whole before the app is called

/** Write `parts` with backpressure, resolve with everything read once `done(bytes)` says so. */
function converse(sock: net.Socket, parts: Iterable<Buffer>, done: (got: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    let finished = false;
    sock.on('data', (d: Buffer) => {
      got.push(d);
      if (!finished && done(Buffer.concat(got))) {
        finished = true;
        resolve(Buffer.concat(got));
      }
    });
    sock.on('error', reject);
    sock.on('close', () => {
      if (!finished) reject(new Error(`closed after ${Buffer.concat(got).length} bytes: ${Buffer.concat(got).toString('latin1', 0, 200)}`));
    });
    const it = parts[Symbol.iterator]();
    const pump = (): void => {
      for (let r = it.next(); !r.done; r = it.next()) if (!sock.write(r.value)) return void sock.once('drain', pump);
    };
    pump();
  });
}

describe('bodies in 1-byte pieces', () => {
  let srv: Server;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-tiny-`);
  before(async () => {
    srv = await startServer('pep3333:application', { args: ['--workers', '1', '--fastcgi', `unix:${dir}/fcgi.sock`] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('HTTP: six chunked uploads of 1-byte chunks held at once cost megabytes, not gigabytes', async () => {
    const pid = srv.proc.pid!;
    const before = rssMiB(pid);
    const chunks = Buffer.from('1\r\nx\r\n'.repeat(BODY / 10));
    const head = Buffer.from('POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    const upload = function* (): Generator<Buffer> {
      yield head;
      for (let i = 0; i < 10; i++) yield chunks;
      yield Buffer.from('0\r\n\r\n');
    };
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => {
        const sock = net.connect(srv.port, '127.0.0.1');
        return converse(sock, upload(), (got) => parseResponses(got).length > 0).finally(() => sock.destroy());
      }),
    );
    for (const a of answers) assert.equal(parseResponses(a)[0]!.headers.get('x-length'), String(BODY));
    const grew = peakMiB(pid) - before;
    // 6 MB of bodies; each connection also reads 6 MB of wire. Before the fix: ~700 MB.
    assert.ok(grew < 200, `the gateway grew by ${grew.toFixed(0)} MiB`);
  });

  test('FastCGI: uploads in 1-byte STDIN records on three connections cost megabytes', async () => {
    const pid = srv.proc.pid!;
    const before = rssMiB(pid);
    const head = Buffer.concat([
      encodeRecord(RecordType.BeginRequest, 1, beginRequestBody(Role.Responder, FCGI_KEEP_CONN)),
      encodeRecord(
        RecordType.Params,
        1,
        encodeParams([
          ['REQUEST_METHOD', 'POST'],
          ['PATH_INFO', '/echo'],
          ['CONTENT_LENGTH', String(BODY)],
          ['SERVER_NAME', 'x'],
          ['SERVER_PORT', '80'],
        ]),
      ),
      encodeRecord(RecordType.Params, 1),
    ]);
    const block = Buffer.concat(Array.from({ length: 10_000 }, () => encodeRecord(RecordType.Stdin, 1, Buffer.from('y'))));
    const upload = function* (): Generator<Buffer> {
      yield head;
      for (let i = 0; i < BODY / 10_000; i++) yield block;
      yield encodeRecord(RecordType.Stdin, 1);
    };
    const ended = (got: Buffer): boolean => {
      for (let off = 0; off + 8 <= got.length; off += 8 + got.readUInt16BE(off + 4) + got[off + 6]!)
        if (got[off + 1] === RecordType.EndRequest) return true;
      return false;
    };
    const answers = await Promise.all(
      Array.from({ length: 3 }, () => {
        const sock = net.connect(`${dir}/fcgi.sock`);
        return converse(sock, upload(), ended).finally(() => sock.destroy());
      }),
    );
    for (const a of answers) assert.match(a.toString('latin1'), new RegExp(`X-Length: ${BODY}\r\n`));
    const grew = peakMiB(pid) - before;
    // 3 MB of bodies in 3 million records. Before the fix: ~350 MB.
    assert.ok(grew < 120, `the gateway grew by ${grew.toFixed(0)} MiB`);
  });
});
